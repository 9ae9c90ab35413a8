"""Predict: score the lake's new posts with the champion, and with the challenger in shadow, on Spark.

"New" posts are the validated posts (labelled and reported, one row per ``post_id``) of the logical
date's batch that no committed predict run of that day has scored yet, so a rerun scores nothing twice
and late files of the same day are scored by the next run. Both models are resolved by alias, checked
before anything of them is deserialised, shipped to the executors and loaded once per Python worker
(:mod:`harmwatch.spark.scoring`); the challenger's output is only recorded (shadow), never acted on.

Output (:mod:`harmwatch.data.catalog`): ``predictions/dt=<day>/run=<id>/``, one row per post: ``post_id``,
``batch_dt``, ``model_version``, ``label``, ``harmful_score``, ``challenger_version``,
``challenger_label``, ``challenger_harmful_score``. Drift and metrics read these instead of scoring
again. Summary: rows scored, flag rates of both models and their disagreement, and ``scoring``: what
Spark's accumulators counted (rows each model's UDF scored, model loads by the Python workers), so a
plan that scored a post twice shows.
"""

from __future__ import annotations

import argparse
import hashlib
from typing import TYPE_CHECKING, Any

from harmwatch.config import BENIGN_CLASS, Settings
from harmwatch.data import catalog
from harmwatch.data.tables import newest_day
from harmwatch.errors import HarmwatchError
from harmwatch.storage import Store, open_store

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def new_posts(spark: SparkSession, lake: Store, day: str) -> DataFrame | None:
    """Validated posts of ``day`` (one per ``post_id``; a moderator-labelled copy wins), not yet scored."""
    from pyspark.sql import functions as F

    from harmwatch.spark.lake import read_runs

    parts = []
    for priority, kind in enumerate(catalog.KINDS):
        manifests = [
            m for m in lake.committed(catalog.validated_runs(kind)) if day in m.get("batch_dts", [day])
        ]
        frame = read_runs(spark, lake, manifests)
        if frame is not None:
            parts.append(
                frame.where(F.col("batch_dt") == day).select(
                    "post_id", "text", "batch_dt", F.lit(priority).alias("_p")
                )
            )
    if not parts:
        return None
    posts = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])
    posts = posts.where(F.col("post_id").isNotNull() & F.col("text").isNotNull())
    posts = posts.groupBy("post_id").agg(
        F.min_by("text", F.struct("_p", "text")).alias("text"), F.first("batch_dt").alias("batch_dt")
    )
    scored = read_runs(spark, lake, lake.committed(catalog.predictions_day(day)))
    if scored is not None:
        posts = posts.join(scored.select("post_id"), "post_id", "left_anti")
    return posts


def rates(frame: DataFrame, shadow: bool) -> dict[str, Any]:
    """Flag rates of both models and how often they disagree (one Spark pass)."""
    from pyspark.sql import functions as F

    flag = (F.col("label") != BENIGN_CLASS).cast("double")
    aggs = [F.count(F.lit(1)).alias("rows"), F.avg(flag).alias("flag_rate")]
    if shadow:
        shadow_flag = (F.col("challenger_label") != BENIGN_CLASS).cast("double")
        aggs += [
            F.avg(shadow_flag).alias("challenger_flag_rate"),
            F.avg((F.col("label") != F.col("challenger_label")).cast("double")).alias("label_disagreement"),
            F.avg((flag != shadow_flag).cast("double")).alias("flag_disagreement"),
        ]
    row = frame.agg(*aggs).first().asDict()
    return {k: (round(float(v), 4) if isinstance(v, float) else v) for k, v in row.items()}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", help="logical date YYYY-MM-DD: score that batch (default: the newest)")
    parser.add_argument("--lake", help="lake URI (default: settings.lake_uri)")
    parser.add_argument("--no-shadow", action="store_true", help="score with the champion only")


def census(posts: DataFrame) -> tuple[int, str]:
    """(posts, run id) in one Spark pass, nothing per post on the driver: the run id names the set of
    posts (a rerun over the same posts writes the same folder), from sums of slices of each id's
    SHA-256, which do not depend on the order Spark meets them."""
    from pyspark.sql import functions as F

    digest = F.sha2(F.col("post_id").cast("string"), 256)
    slices = [
        F.sum(F.conv(F.substring(digest, 1 + 15 * i, 15), 16, 10).cast("decimal(38,0)")).alias(f"s{i}")
        for i in range(4)
    ]
    row = posts.agg(F.count(F.lit(1)).alias("rows"), *slices).first()
    rows = int(row["rows"])
    run_id = hashlib.sha256(":".join(str(v) for v in row.asDict().values()).encode()).hexdigest()[:16]
    return rows, run_id


def scored_columns(
    spark: SparkSession, posts: DataFrame, udfs: dict[str, tuple[Any, Any]]
) -> tuple[DataFrame, dict[str, Any]]:
    """``posts`` with the prediction columns, each model's UDF applied once per post; and the UDFs'
    counters by role. ``udfs``: role (``champion``, optionally ``challenger``) -> (version, UDF factory).
    Posts are put in ``post_id`` order within their partitions before scoring, so no sort follows the
    UDF (a sort after it would sample and score the posts twice)."""
    from pyspark.sql import functions as F

    from harmwatch.spark.scoring import Counters

    out = posts.sortWithinPartitions("post_id")
    cols: list[Any] = ["post_id", "batch_dt"]
    counters = {}
    for role, prefix, column in (("champion", "", "_c"), ("challenger", "challenger_", "_s")):
        if role not in udfs:
            cols += [
                F.lit(None).cast("string").alias(f"{prefix}version"),
                F.lit(None).cast("string").alias(f"{prefix}label"),
                F.lit(None).cast("double").alias(f"{prefix}harmful_score"),
            ]
            continue
        version, factory = udfs[role]
        counters[role] = Counters.new(spark)
        out = out.withColumn(column, factory(version, counters[role])(F.col("text")))
        cols += [
            F.lit(str(version.version)).alias("model_version" if role == "champion" else f"{prefix}version"),
            F.col(f"{column}.label").alias(f"{prefix}label"),
            F.col(f"{column}.harmful_score").alias(f"{prefix}harmful_score"),
        ]
    return out.select(*cols), counters


def aliased_models(settings: Settings, shadow: bool) -> dict[str, Any]:
    """``{"champion": version}`` plus ``"challenger"`` when it shadows (another version holds the alias);
    empty without a champion."""
    from harmwatch import registry

    with registry.mlflow_calls(settings):
        client = registry.configure_mlflow(settings)
        champion = registry.get_alias_version(client, settings.model_name, "champion")
        challenger = registry.get_alias_version(client, settings.model_name, "challenger")
    if champion is None:
        return {}
    if shadow and challenger is not None and challenger.version != champion.version:
        return {"champion": champion, "challenger": challenger}
    return {"champion": champion}


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    import tempfile
    from pathlib import Path

    from harmwatch import registry
    from harmwatch.spark.lake import commit_folder
    from harmwatch.spark.scoring import scoring_udf
    from harmwatch.spark.session import spark_session

    lake = open_store(args.lake or settings.lake_uri, settings)
    day = args.date or newest_day(lake)
    if day is None:
        return {"rows": 0, "skipped": f"no validated batches in the lake {lake.uri}"}
    models = aliased_models(settings, shadow=not args.no_shadow)
    if not models:
        return {"batch_dt": day, "rows": 0, "skipped": "no champion in the registry"}
    champion, shadow = models["champion"], "challenger" in models
    with (
        tempfile.TemporaryDirectory(prefix="harmwatch-predict-") as tmp,
        spark_session(settings, "predict") as spark,
    ):
        posts = new_posts(spark, lake, day)
        if posts is None:
            return {"batch_dt": day, "rows": 0, "skipped": f"no validated posts of {day} in {lake.uri}"}
        posts = posts.persist()  # read and deduplicated once: counted, then scored
        rows, run_id = census(posts)
        if not rows:
            posts.unpersist()
            return {
                "batch_dt": day,
                "rows": 0,
                "model_version": str(champion.version),
                "skipped": "nothing new",
            }

        def factory(version: Any, counters: Any) -> Any:
            uri = registry.version_uri(settings.model_name, version.version)
            return scoring_udf(spark, uri, Path(tmp), counters)

        predictions, counters = scored_columns(spark, posts, {r: (v, factory) for r, v in models.items()})
        prefix = catalog.predictions_run(day, run_id)
        meta = {"run_id": run_id, "batch_dt": day, "rows": rows, "model_version": str(champion.version)}
        commit_folder(predictions, lake, prefix, {**meta, "shadow": shadow})  # the one pass that scores
        posts.unpersist()
        summary = rates(spark.read.parquet(*_parts(lake, prefix)), shadow)  # the written files, read back
        scoring = {
            f"{role}_{n}": getattr(c, n).value for role, c in counters.items() for n in ("rows", "loads")
        }
    if summary["rows"] != rows:
        raise HarmwatchError(
            f"predict wrote {summary['rows']} rows for {rows} posts under {lake.url(prefix)}"
        )
    return {
        "batch_dt": day,
        **summary,
        "scoring": scoring,
        "model_version": str(champion.version),
        "challenger_version": str(models["challenger"].version) if shadow else None,
        "predictions": lake.url(prefix),
    }


def _parts(lake: Store, prefix: str) -> list[str]:
    return [lake.spark_path(f"{prefix}/{f['name']}") for f in lake.manifest(prefix)["files"]]

"""build-dataset on Spark: the whole history scanned, grouped and joined by Spark; every decision made by
the pandas engine's own functions, on one bucket of text keys at a time.

Every decision of :func:`harmwatch.data.dataset.assemble` is either per text key (moderator conflicts,
dedup, the weak-label policy) or a sum over keys (a reporter's agreements). So Spark hashes each key to a
bucket, co-groups the labelled rows and the reports of a bucket, and hands them to the same functions
(``resolve_moderator_labels``, ``conflict_review``, ``reporter_reliability``, ``weak_labels``) through
``applyInPandas``: a bucket holds whole keys, so the functions see everything they need, and memory per
task is the history divided by the number of buckets. Reporter counts are summed over buckets and turned
into reliability by the one definition (:func:`harmwatch.data.weak_labels.with_reliability`). The
evaluation split ranks keys by the same seeded SHA-256 as :func:`harmwatch.data.dataset.split_eval`, and
table versions hash the same sorted lines (:func:`harmwatch.data.dataset.version_lines`), streamed to
the driver in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from harmwatch.data.dataset import EVAL_COLUMNS, SNAPSHOT_COLUMNS, version_lines, version_of_sorted_lines
from harmwatch.data.weak_labels import RELIABILITY_COLUMNS, Policy, no_weak_labels, with_reliability
from harmwatch.spark.buckets import (
    CONFLICT_COLUMNS,
    DOUBLES,
    LONGS,
    PASS1,
    PASS2,
    REPORT_REVIEW_COLUMNS,
    ddl,
    moderation,
    shaped,
    weak,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# -- whole history ----------------------------------------------------------------------------------


@dataclass
class SparkAssembly:
    """What :func:`assemble` returns: Spark tables and the facts the manifests and summary need."""

    train: DataFrame
    eval: DataFrame | pd.DataFrame
    eval_version: str
    eval_is_new: bool
    review: DataFrame
    reliability: DataFrame
    weak_labels: int
    train_files: list[str]
    eval_files: list[str]
    train_version: str = ""
    review_version: str = ""
    reporters_version: str = ""
    counts: dict[str, Any] = field(default_factory=dict)


def table_version(frame: DataFrame, columns: list[str]) -> str:
    """:func:`harmwatch.data.dataset.content_version` of a Spark table: the same lines, sorted by Spark,
    hashed as they stream to the driver (no table is collected)."""
    line = frame.select(*columns).mapInPandas(
        lambda parts: (pd.DataFrame({"line": version_lines(p, columns)}) for p in parts), "line string"
    )
    return version_of_sorted_lines(r["line"] for r in line.orderBy("line").toLocalIterator())


def _keyed(frame: DataFrame, buckets: int) -> DataFrame:
    from pyspark.sql import functions as F
    from pyspark.sql.functions import pandas_udf

    from harmwatch.data.dataset import text_key

    key = pandas_udf(lambda s: text_key(s), "string")
    out = frame.withColumn("key", key("text")).where(F.col("key") != "")
    return out.withColumn("_bucket", F.pmod(F.xxhash64("key"), F.lit(buckets)))


def assemble(
    spark: SparkSession,
    labelled: DataFrame,
    reports: DataFrame | None,
    frozen_eval: tuple[pd.DataFrame, str] | None,
    policy: Policy,
    eval_fraction: float,
    seed: int,
    buckets: int,
) -> SparkAssembly:
    """Spark twin of :func:`harmwatch.data.dataset.assemble` (same inputs and outputs, as Spark tables)."""
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    lab = _keyed(labelled, buckets).persist(StorageLevel.DISK_ONLY)
    rep = _keyed(reports, buckets).persist(StorageLevel.DISK_ONLY) if reports is not None else None
    rep_cols = (
        rep.drop("_bucket")
        if rep is not None
        else spark.createDataFrame([], "key string, reporter_id string")
    )
    pass1 = (
        lab.drop("_bucket")
        .groupBy(F.pmod(F.xxhash64("key"), F.lit(buckets)))
        .cogroup(rep_cols.groupBy(F.pmod(F.xxhash64("key"), F.lit(buckets))))
        .applyInPandas(moderation(policy), ddl(PASS1))
        .persist(StorageLevel.DISK_ONLY)
    )
    moderated = pass1.where(F.col("_part") == "moderated").select(
        "key", "text", "label", "post_id", "batch_dt"
    )
    counts = (
        pass1.where(F.col("_part") == "counts")
        .groupBy("reporter_id")
        .agg(
            F.sum("reports_on_labelled").alias("reports_on_labelled"), F.sum("agreements").alias("agreements")
        )
    )
    reliability = counts.mapInPandas(
        lambda parts: (with_reliability(p, policy) for p in parts), ddl(RELIABILITY_COLUMNS)
    ).withColumn("trusted", F.col("reliability") >= F.lit(policy.min_reliability))
    reliability = reliability.persist(StorageLevel.DISK_ONLY)
    if rep is not None:
        rated = rep.drop("_bucket").join(
            reliability.select("reporter_id", "reliability"), "reporter_id", "left"
        )
        pass2 = (
            lab.select("key")
            .groupBy(F.pmod(F.xxhash64("key"), F.lit(buckets)))
            .cogroup(rated.groupBy(F.pmod(F.xxhash64("key"), F.lit(buckets))))
            .applyInPandas(weak(policy), ddl(PASS2))
            .persist(StorageLevel.DISK_ONLY)
        )
        accepted = pass2.where(F.col("_part") == "accepted")
        report_review = pass2.where(F.col("_part") == "review").select(*REPORT_REVIEW_COLUMNS)
    else:
        accepted = spark.createDataFrame(shaped(no_weak_labels()[0], PASS2), ddl(PASS2))
        report_review = None
    # -- the evaluation snapshot: drawn once, then frozen
    if frozen_eval is None:
        rank = F.sha2(F.concat(F.lit(f"{seed}:"), F.col("key")), 256)
        per_label = Window.partitionBy("label")
        ranked = moderated.withColumn("_rank", rank).withColumn(
            "_take", F.bround(F.count(F.lit(1)).over(per_label) * F.lit(eval_fraction)).cast("long")
        )
        ordered = per_label.orderBy("_rank")
        ev = ranked.withColumn("_n", F.row_number().over(ordered)).where(F.col("_n") <= F.col("_take"))
        ev = ev.select(*EVAL_COLUMNS).persist(StorageLevel.DISK_ONLY)
        eval_version, eval_new = table_version(ev, ["key", "label"]), True
        eval_keys = ev.select("key")
        eval_files = sorted(
            r[0] for r in lab.join(eval_keys, "key", "left_semi").select("source_file").distinct().collect()
        )
    else:
        (ev_pd, eval_version), eval_new, eval_files = frozen_eval, False, []
        ev = ev_pd
        eval_keys = spark.createDataFrame(ev_pd[["key"]].astype(str), "key string")
    # -- training snapshot, review queue
    mod_train = moderated.join(eval_keys, "key", "left_anti").withColumn("label_source", F.lit("moderator"))
    weak_train = accepted.join(eval_keys, "key", "left_anti").withColumn("label_source", F.lit("reports"))
    if rep is not None:
        newest = rep.groupBy("key").agg(F.max("batch_dt").alias("batch_dt"))
        weak_train = weak_train.join(newest, "key", "left")
    else:
        weak_train = weak_train.withColumn("batch_dt", F.lit(None).cast("string"))
    train = mod_train.select(*SNAPSHOT_COLUMNS).unionByName(weak_train.select(*SNAPSHOT_COLUMNS))
    train = train.persist(StorageLevel.DISK_ONLY)
    conflicts = pass1.where(F.col("_part") == "conflict").select(*CONFLICT_COLUMNS)
    has_conflicts = conflicts.limit(1).count() > 0
    review = _review(conflicts, report_review, has_conflicts).persist(StorageLevel.DISK_ONLY)
    weak_n = weak_train.count()
    train_files = sorted(
        {
            r[0]
            for r in lab.join(mod_train.select("key"), "key", "left_semi")
            .select("source_file")
            .distinct()
            .collect()
        }
        | {
            f
            for r in weak_train.select("source_files").distinct().collect()
            for f in str(r[0]).split("|")
            if f and r[0] is not None
        }
    )
    a = SparkAssembly(
        train=train,
        eval=ev,
        eval_version=eval_version,
        eval_is_new=eval_new,
        review=review,
        reliability=reliability,
        weak_labels=weak_n,
        train_files=train_files,
        eval_files=eval_files,
    )
    a.train_version = table_version(train, ["key", "label", "label_source"])
    n_review = review.count()
    a.review_version = table_version(review, ["key", "review_reason"]) if n_review else "empty"
    n_rel = reliability.count()
    a.reporters_version = table_version(reliability, [*RELIABILITY_COLUMNS, "trusted"]) if n_rel else "empty"
    label_counts = {r["label"]: r["count"] for r in train.groupBy("label").count().collect()}
    a.counts = {
        "train": train.count(),
        "eval": len(ev) if isinstance(ev, pd.DataFrame) else ev.count(),
        "review": n_review,
        "reporters": n_rel,
        "trusted": reliability.where(F.col("trusted")).count(),
        "train_label_counts": dict(sorted(label_counts.items())),
        "eval_label_counts": (
            None
            if isinstance(ev, pd.DataFrame)
            else dict(sorted((r["label"], r["count"]) for r in ev.groupBy("label").count().collect()))
        ),
    }
    return a


def _review(conflicts: DataFrame, report_review: DataFrame | None, has_conflicts: bool) -> DataFrame:
    """The review queue with the columns and types ``pd.concat([conflict_review(..), report_review])`` gives:
    the conflict frame's columns first (just ``key``, ``review_reason`` when there is no conflict), then
    the report columns, whose counts pandas turns into doubles in that concat (conflict rows have none,
    and an empty conflict frame lacks the columns). Without pending reports the report columns are
    absent, as in :func:`harmwatch.data.weak_labels.no_weak_labels`."""
    from pyspark.sql import functions as F

    first = CONFLICT_COLUMNS if has_conflicts else ["key", "review_reason"]
    if report_review is None or report_review.limit(1).count() == 0:
        return conflicts.select(*first)
    columns = [*first, *[c for c in REPORT_REVIEW_COLUMNS if c not in first]]
    kinds = {c: "double" if c in LONGS | DOUBLES else "string" for c in columns}

    def shaped(frame: DataFrame) -> DataFrame:
        present = set(frame.columns)
        return frame.select(
            *[(F.col(c) if c in present else F.lit(None)).cast(kinds[c]).alias(c) for c in columns]
        )

    out = shaped(report_review)
    return shaped(conflicts).unionByName(out) if has_conflicts else out


def run_spark(settings: Any, args: Any, store: Any, policy: Policy) -> dict[str, Any]:
    """build-dataset's ``run`` on the Spark engine: read every validated run, assemble, write."""
    from pyspark.sql import functions as F

    from harmwatch.data import catalog
    from harmwatch.errors import DataError
    from harmwatch.spark.lake import read_runs
    from harmwatch.spark.session import spark_session
    from harmwatch.steps.build_dataset import finish, frozen_eval

    lab_runs = store.committed(catalog.validated_runs("labelled"))
    rep_runs = store.committed(catalog.validated_runs("reports"))
    with spark_session(settings, "build-dataset") as spark:
        labelled = read_runs(spark, store, lab_runs)
        if labelled is None:
            raise DataError(
                f"no validated labelled data under {store.url(catalog.validated_runs('labelled'))}; "
                "run ingest and validate first"
            )
        reports = read_runs(spark, store, rep_runs)
        date = args.date or str(labelled.agg(F.max("batch_dt")).first()[0])
        frozen = frozen_eval(store)
        a = assemble(
            spark,
            labelled,
            reports,
            None if frozen is None else (frozen[0], frozen[1]["version"]),
            policy,
            args.eval_fraction,
            settings.seed,
            max(8, settings.spark_shuffle_partitions * 4),
        )
        runs = [m["prefix"] for m in lab_runs + rep_runs]
        return finish(store, a, date, policy, runs, frozen, args, settings, "spark")

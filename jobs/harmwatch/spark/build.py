"""build-dataset on Spark: the history scanned, keyed, shuffled and decided by Spark, one bucket of text
keys at a time, with the pandas engine's own functions; the run finished by the pandas step's code.

Each text key is hashed to a bucket, and a bucket's labelled rows and reports are co-grouped and handed
to the functions of :mod:`harmwatch.spark.buckets` (``applyInPandas``): moderator-label resolution and the
reporters' judged votes per text in a first pass; the weak-label policy per reported text in a second.
What spans buckets is computed once over all the data and handed to the second pass:

- every reporter's record (votes on moderated posts, agreements): per-bucket counts summed on the driver
  (one row per reporter and reason), turned into the reliability table by the one definition and joined
  onto the reports;
- co-reporting cohorts: :func:`harmwatch.data.cohorts.reporter_cohorts` on the driver, over the distinct
  (reporter, text) pairs Spark collects;
- the champion's scores (``--champion-check``): the pending texts Spark selects, scored on the driver as
  the pandas engine scores them.

The decisions come back to the driver as the frames pandas made (:class:`harmwatch.data.dataset.
Decisions`), and :func:`harmwatch.data.dataset.finish_assembly` and the step's
:func:`~harmwatch.data.snapshot_writer.finish` (evaluation split, recent slice, anchor renewal, writes,
summary) run unchanged. The driver therefore holds the outputs (one row per text and per reporter) and
four columns of every labelled row; docs/scaling.md says where that stops fitting.

Not ported: the ``before_report`` defence (a running record per reporter in label-time order); the
Spark engine refuses a policy with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from harmwatch.data.dataset import Decisions, finish_assembly
from harmwatch.data.reliability import RELIABILITY_COLUMNS, reliability_table
from harmwatch.data.weak_labels import Policy, no_weak_labels
from harmwatch.spark.buckets import RECORD_BY, SCHEMA, frames, moderation, weak

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

LINEAGE = ["source_file", "source_line"]


def _keyed(frame: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F
    from pyspark.sql.functions import pandas_udf

    from harmwatch.data.dataset import text_key

    key = pandas_udf(lambda s: text_key(s), "string")
    return frame.withColumn("key", key("text")).where(F.col("key") != "")


def _in_read_order(frame: DataFrame) -> DataFrame:
    """Rows in the order the pandas engine reads them (by lineage), so "first" means the same."""
    return frame.orderBy(*[c for c in LINEAGE if c in frame.columns])


def _gathered(rows: list[Any], part: str, empty: pd.DataFrame) -> pd.DataFrame:
    """One frame from the buckets' frames of ``part``, sorted by key; with no row, the empty frame with the
    most columns (a bucket whose reports were all pending shapes it as pandas would), else ``empty``."""
    found = frames(rows, part)
    full = [f for f in found if len(f)]
    if not full:
        return max(found, key=lambda f: len(f.columns), default=empty)
    out = pd.concat(full, ignore_index=True)
    return out.sort_values("key", kind="stable").reset_index(drop=True)


def _records(counts: list[pd.DataFrame], policy: Policy) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reporters' records summed over the buckets (per reporter and reason), and their reliability."""
    record = (
        pd.concat(counts).groupby(RECORD_BY)[["judged", "agreements"]].sum().reset_index()
        if counts
        else pd.DataFrame({c: pd.Series(dtype=object) for c in RECORD_BY}).assign(judged=0, agreements=0)
    )
    per_reporter = record.groupby("reporter_id")[["judged", "agreements"]].sum().reset_index()
    reliability = (
        reliability_table(per_reporter, policy)
        if len(per_reporter)
        else pd.DataFrame(columns=RELIABILITY_COLUMNS)
    )
    return record, reliability


def text_and_reporter_decisions(
    lab: DataFrame,
    rep: DataFrame,
    buckets: int,
    policy: Policy,
    seed: int,
    champion: pd.DataFrame | None,
    reviewed: frozenset[str] = frozenset(),
) -> Decisions:
    """The per-text and per-reporter decisions of :func:`harmwatch.data.dataset.assemble`, on Spark."""
    from pyspark.sql import functions as F

    from harmwatch.data.cohorts import reporter_cohorts

    spark = lab.sparkSession

    def bucket() -> Column:
        return F.pmod(F.xxhash64("key"), F.lit(buckets))

    grouped = lab.groupBy(bucket()).cogroup(rep.groupBy(bucket()))
    first = grouped.applyInPandas(moderation(reviewed), SCHEMA).collect()
    moderated = _gathered(first, "moderated", pd.DataFrame())
    conflicts = pd.concat(frames(first, "conflicts"), ignore_index=True)
    record, reliability = _records(frames(first, "record"), policy)
    by = ["reporter_id", "reason"] if policy.per_reason else ["reporter_id"]
    votes = record.groupby(by)[["judged", "agreements"]].sum().reset_index()
    schema = ", ".join([*(f"{c} string" for c in by), "judged long", "agreements long"])
    rated = rep.join(
        spark.createDataFrame(votes.astype({"judged": "int64", "agreements": "int64"}), schema), by, "left"
    )
    cohorts = None
    if policy.cohorts:
        pairs = rep.select("reporter_id", "key").distinct().toPandas()
        cohorts = reporter_cohorts(pairs) if len(pairs) else None
    second = (
        lab.select("key")
        .distinct()
        .groupBy(bucket())
        .cogroup(rated.groupBy(bucket()))
        .applyInPandas(weak(policy, cohorts, champion, seed), SCHEMA)
        .collect()
    )
    accepted, review = no_weak_labels()
    newest = _gathered(second, "newest", pd.DataFrame(columns=["key", "batch_dt"]))
    return Decisions(
        moderated=moderated,
        conflicts=conflicts,
        reliability=reliability,
        accepted=_gathered(second, "accepted", accepted),
        report_review=_gathered(second, "review", review),
        newest_report=newest.set_index("key")["batch_dt"],
    )


def run_spark(settings: Any, args: Any, store: Any, policy: Policy) -> dict[str, Any]:
    """build-dataset's ``run`` on Spark: read every validated run, decide, finish as pandas does."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from harmwatch.data import catalog
    from harmwatch.data.dataset import pending_texts
    from harmwatch.data.snapshot_writer import champion_scores, finish, provenance
    from harmwatch.data.tables import frozen_eval
    from harmwatch.errors import DataError, HarmwatchError
    from harmwatch.spark.lake import read_runs
    from harmwatch.spark.session import spark_session

    if policy.before_report:
        raise HarmwatchError(
            "build-dataset --engine spark: the before_report weak-label defence is not available on Spark "
            "(it needs each reporter's whole judged history in label-time order); use --engine pandas"
        )
    origin = provenance(store)
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
        if reports is None:
            reports = spark.createDataFrame([], "text string, reporter_id string, reason string")
        lab = _keyed(labelled).persist(StorageLevel.DISK_ONLY)
        rep = _keyed(reports).persist(StorageLevel.DISK_ONLY)
        rows = _in_read_order(lab).select("key", "batch_dt", "post_id", "source_file").toPandas()
        date = args.date or str(labelled.agg(F.max("batch_dt")).first()[0])
        frozen = frozen_eval(store)
        scores, champion_version = None, None
        if args.champion_check and policy.champion_floor > 0:
            pending = rep.join(lab.select("key").distinct(), "key", "left_anti")
            pending = _in_read_order(pending).select("text", "reported_at").toPandas()
            scores, champion_version = champion_scores(settings, pending_texts(pending.iloc[0:0], pending))
        buckets = max(8, settings.spark_shuffle_partitions * 4)
        d = text_and_reporter_decisions(
            lab, rep, buckets, policy, settings.seed, scores, frozenset(origin["reviewed"])
        )
    a = finish_assembly(
        d,
        rows[["key", "source_file"]],
        None if frozen is None else (frozen[0], frozen[1]["version"]),
        policy,
        args.eval_fraction,
        settings.seed,
    )
    runs = [m["prefix"] for m in lab_runs + rep_runs]
    held_rows = rows.rename(columns={"key": "text"})
    return finish(
        store, settings, args, policy, held_rows, a, frozen, date, runs, champion_version, "spark", origin
    )

"""Validate on Spark: the row checks as the same SQL query the embedded engine runs, on Spark SQL.

The query of :mod:`harmwatch.data.row_checks` (``data/sql/validate/``) is translated by SQLGlot and run
over the run's rows in one pass: every check's flag and the quarantine reason per row, and one
aggregation for the checks' counts (the report's expectation records). The parsed timestamp and the text
key are the pandas engine's own functions (:func:`harmwatch.data.suites.ts_epoch`,
:func:`harmwatch.data.dataset.text_key`) as Arrow UDFs, so both engines parse and key alike. Great
Expectations judges only the one-row-per-landing-file summary Spark aggregates (a few rows per day,
on pandas, by :func:`harmwatch.data.checks.judge_batches`): no Spark job per metric. Validated and
quarantined rows are written by Spark; manifests and reports are those of the embedded engine.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import pandas as pd

from harmwatch.data import catalog
from harmwatch.data.checks import judge_batches
from harmwatch.data.row_checks import count_query, records, row_query
from harmwatch.data.suites import KIND_SPEC, Bounds
from harmwatch.spark.engine import manifest_bytes
from harmwatch.spark.lake import commit_folder, read_runs
from harmwatch.spark.session import fit_partitions
from harmwatch.storage import Store

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

ORDER = ["source_file", "source_line"]


def _udfs() -> tuple[Any, Any]:
    from pyspark.sql.functions import pandas_udf

    from harmwatch.data.dataset import text_key
    from harmwatch.data.suites import ts_epoch

    return (
        pandas_udf(lambda s: text_key(s), "string"),
        pandas_udf(lambda s: ts_epoch(s).astype("float64"), "double"),
    )


def row_checks(
    spark: SparkSession, frame: DataFrame, kind: str, bounds: Bounds, as_of: float
) -> tuple[DataFrame, list[dict]]:
    """``frame`` with every check's flag and ``_reason`` (row_checks' query on Spark SQL), and the
    report's per-expectation records from one aggregation of the flags."""
    from pyspark.sql import functions as F

    from harmwatch.spark.relational import to_spark

    key_udf, epoch_udf = _udfs()  # for a run ingested before ingest stored ``key`` and ``ts_epoch``
    stored = "ts_epoch" in frame.columns
    rows = frame.withColumn("_ts_epoch", F.col("ts_epoch") if stored else epoch_udf(KIND_SPEC[kind]["ts"]))
    rows = rows if "key" in frame.columns else rows.withColumn("key", key_udf("text"))
    rows.createOrReplaceTempView("rows")
    judged = spark.sql(to_spark(row_query(kind, bounds, as_of)))
    judged.createOrReplaceTempView("validate_judged")
    counts = spark.sql(to_spark(count_query(kind, bounds, as_of, "validate_judged"))).collect()[0].asDict()
    return judged, records(kind, bounds, as_of, counts)


def batch_summary(frame: DataFrame, kind: str, bounds: Bounds) -> pd.DataFrame:
    """Spark twin of :func:`harmwatch.data.suites.batch_summary`: one row per landing file."""
    from pyspark.sql import functions as F

    spec = KIND_SPEC[kind]
    cls = spec["class"]
    good = F.col("_invalid") == F.lit(False)
    aggs = [F.count(F.lit(1)).alias("rows"), F.avg(F.col("_invalid").cast("double")).alias("invalid_share")]
    aggs += [F.sum(good.cast("long")).alias("_good")]
    aggs += [F.sum((good & (F.col(cls) == c)).cast("long")).alias(f"_n_{c}") for c in spec["classes"]]
    per_file = frame.groupBy("source_file").agg(*aggs).orderBy("source_file").toPandas()
    rows = []
    for r in per_file.to_dict(orient="records"):
        big = r["rows"] >= bounds.judge_min_rows
        rec = {"source_file": r["source_file"], "rows": int(r["rows"])}
        rec["invalid_share"] = float(r["invalid_share"]) if big else None
        for c in spec["classes"]:
            rec[f"share_{c}"] = float(r[f"_n_{c}"] / r["_good"]) if big and r["_good"] else None
        rows.append(rec)
    return pd.DataFrame(rows)


def _row_judgements(
    spark: SparkSession, frame: DataFrame, kind: str, bounds: Bounds, as_of: float
) -> tuple[DataFrame, Any]:
    """``frame`` with ``_reasons`` (the row checks' reasons in order, "" when it passed) and ``_invalid``,
    and the row checks' records."""
    from pyspark.sql import functions as F

    flagged, records = row_checks(spark, frame, kind, bounds, as_of)
    judged = flagged.select(*frame.columns, F.coalesce("_reason", F.lit("")).alias("_reasons"))
    return judged.withColumn("_invalid", F.col("_reasons") != ""), records


def _with_batch_reasons(judged: DataFrame, rejected: dict[str, str]) -> DataFrame:
    """``_reason``: a rejected batch's reason before the row's own, as the pandas engine writes it."""
    from pyspark.sql import functions as F

    batch_reason = F.lit("")
    for source, why in rejected.items():
        batch_reason = F.when(F.col("source_file") == source, F.lit(f"batch rejected: {why}")).otherwise(
            batch_reason
        )
    reason = F.when(batch_reason == "", F.col("_reasons")).otherwise(
        F.concat(batch_reason, F.lit("; "), F.col("_reasons"))
    )
    return judged.withColumn("_reason", F.regexp_replace(reason, r"^[; ]+|[; ]+$", ""))


def validate_run(
    spark: SparkSession,
    lake: Store,
    reports: Store,
    manifest: dict,
    bounds: Bounds,
    as_of: float,
    reviewed: Collection[str] = (),
) -> dict[str, Any]:
    """Spark twin of :func:`harmwatch.steps.validate.validate_run`: quarantine, report, validated rows."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from harmwatch.data.validation_report import summarise, validated_meta, write_report

    kind, run_id = manifest["kind"], manifest["run_id"]
    fit_partitions(spark, manifest_bytes([manifest]))
    frame = read_runs(spark, lake, [manifest])
    columns = frame.columns
    frame = frame.withColumn("_row", F.monotonically_increasing_id()).persist(StorageLevel.DISK_ONLY)
    try:
        judged, records = _row_judgements(spark, frame, kind, bounds, as_of)
        judged = judged.persist(StorageLevel.DISK_ONLY)
        rejected, batches = judge_batches(batch_summary(judged, kind, bounds), kind, bounds, reviewed)
        judged = _with_batch_reasons(judged, rejected)
        # Columns as pandas' ``assign(stage=..., reason=...)`` leaves them: a report's own ``reason``
        # column is replaced in place by the quarantine reason, ``stage`` (and a new ``reason``) appended.
        kept = [F.col("_reason").alias("reason") if c == "reason" else F.col(c) for c in columns]
        added = [F.lit("validate").alias("stage")] + (
            [] if "reason" in columns else [F.col("_reason").alias("reason")]
        )
        quarantine = judged.where(F.col("_reason") != "").select(*kept, *added)
        n_rows, n_bad = judged.count(), quarantine.count()
        qprefix = catalog.quarantine_run("validate", kind, run_id)
        commit_folder(quarantine, lake, qprefix, {"run_id": run_id, "rows": n_bad}, ORDER, files=1)
        summary = summarise(manifest, n_rows, n_bad, records, rejected)
        sample = quarantine.orderBy(*ORDER).limit(200).select("source_file", "source_line", "reason", "text")
        summary["report_html"] = write_report(
            reports, summary, records, batches, sample.toPandas().to_dict(orient="records")
        )
        batch_dts = sorted(
            r["batch_dt"] for r in frame.select("batch_dt").distinct().collect() if r["batch_dt"]
        )
        valid = judged.where(F.col("_reason") == "").select(*columns)
        commit_folder(
            valid, lake, catalog.validated_run(kind, run_id), validated_meta(summary, batch_dts), ORDER
        )
        judged.unpersist()
        return summary
    finally:
        frame.unpersist()

"""Validate on Spark: the row checks as the same SQL query the embedded engine runs, on Spark SQL.

The query of :mod:`harmwatch.data.row_checks` (``data/sql/validate/``) is translated by SQLGlot and run
over the run's rows once: every check's flag and the quarantine reason per row, kept for the writes,
and one aggregation per landing file for the checks' counts (the report's expectation records), the
batch summary and the run's totals. The parsed timestamp and the text
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
from harmwatch.data.row_checks import records, row_query, row_rules
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


def judge_rows(spark: SparkSession, frame: DataFrame, kind: str, bounds: Bounds, as_of: float) -> DataFrame:
    """``frame`` with every check's flag and ``_reasons`` (row_checks' query on Spark SQL: the failing
    checks' reasons in the suite's order, "" when the row passes)."""
    from pyspark.sql import functions as F

    from harmwatch.spark.relational import to_spark

    key_udf, epoch_udf = _udfs()  # for a run ingested before ingest stored ``key`` and ``ts_epoch``
    stored = "ts_epoch" in frame.columns
    rows = frame.withColumn("_ts_epoch", F.col("ts_epoch") if stored else epoch_udf(KIND_SPEC[kind]["ts"]))
    rows = rows if "key" in frame.columns else rows.withColumn("key", key_udf("text"))
    rows.createOrReplaceTempView("rows")
    flagged = spark.sql(to_spark(row_query(kind, bounds, as_of)))
    flags = [F.col(r["name"]) for r in row_rules(kind, bounds, as_of)]
    return flagged.select(*frame.columns, *flags, F.coalesce("_reason", F.lit("")).alias("_reasons"))


def per_file(judged: DataFrame, kind: str, bounds: Bounds, as_of: float) -> pd.DataFrame:
    """One aggregation of the judged rows per landing file: its rows, failing rows, passing rows per
    class, each check's failures and its batch days. The run's totals, the report's records and the
    batch summary are all sums or shares of these, so the rows are read once for all of them."""
    from pyspark.sql import functions as F

    spec = KIND_SPEC[kind]
    good = F.col("_reasons") == F.lit("")
    aggs = [F.count(F.lit(1)).alias("rows"), F.sum((~good).cast("long")).alias("_bad")]
    aggs += [F.sum(good.cast("long")).alias("_good")]
    cls = F.col(spec["class"])
    aggs += [F.sum((good & (cls == c)).cast("long")).alias(f"_n_{c}") for c in spec["classes"]]
    rules = row_rules(kind, bounds, as_of)
    aggs += [F.sum(F.when(F.col(r["name"]), 1).otherwise(0)).alias(r["name"]) for r in rules]
    aggs += [F.collect_set("batch_dt").alias("_batch_dts")]
    return judged.groupBy("source_file").agg(*aggs).orderBy("source_file").toPandas()


def check_records(files: pd.DataFrame, kind: str, bounds: Bounds, as_of: float) -> list[dict]:
    """The report's per-expectation records from the per-file failures of each check."""
    rules = row_rules(kind, bounds, as_of)
    counts = {r["name"]: files[r["name"]].sum() if len(files) else None for r in rules}
    return records(kind, bounds, as_of, counts)


def batch_summary(files: pd.DataFrame, kind: str, bounds: Bounds) -> pd.DataFrame:
    """Spark twin of :func:`harmwatch.data.suites.batch_summary` (one row per landing file), from
    :func:`per_file`."""
    spec = KIND_SPEC[kind]
    rows = []
    for r in files.to_dict(orient="records"):
        big = r["rows"] >= bounds.judge_min_rows
        rec = {"source_file": r["source_file"], "rows": int(r["rows"])}
        rec["invalid_share"] = float(r["_bad"] / r["rows"]) if big else None
        for c in spec["classes"]:
            rec[f"share_{c}"] = float(r[f"_n_{c}"] / r["_good"]) if big and r["_good"] else None
        rows.append(rec)
    return pd.DataFrame(rows)


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
    frame = frame.withColumn("_row", F.monotonically_increasing_id())
    spark.sparkContext.setJobDescription(f"validate {kind} {run_id}: judge rows")
    # The judged rows are computed once (the checks' windows and joins shuffle every row) and kept in
    # memory, spilling to disk: the per-file aggregation fills the cache, the writes and the report's
    # sample read it. Before, the checks ran twice (counts, batch summary) and the rows were read from
    # a disk-only copy by seven jobs.
    judged = judge_rows(spark, frame, kind, bounds, as_of).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        files = per_file(judged, kind, bounds, as_of)
        records = check_records(files, kind, bounds, as_of)
        rejected, batches = judge_batches(batch_summary(files, kind, bounds), kind, bounds, reviewed)
        marked = _with_batch_reasons(judged, rejected)
        # Columns as pandas' ``assign(stage=..., reason=...)`` leaves them: a report's own ``reason``
        # column is replaced in place by the quarantine reason, ``stage`` (and a new ``reason``) appended.
        kept = [F.col("_reason").alias("reason") if c == "reason" else F.col(c) for c in columns]
        added = [F.lit("validate").alias("stage")] + (
            [] if "reason" in columns else [F.col("_reason").alias("reason")]
        )
        quarantine = marked.where(F.col("_reason") != "").select(*kept, *added)
        # A rejected file's rows are all quarantined, the others' failing rows.
        in_rejected = files["source_file"].isin(list(rejected))
        n_rows = int(files["rows"].sum())
        n_bad = int(files.loc[in_rejected, "rows"].sum() + files.loc[~in_rejected, "_bad"].sum())
        spark.sparkContext.setJobDescription(f"validate {kind} {run_id}: write quarantine")
        qprefix = catalog.quarantine_run("validate", kind, run_id)
        commit_folder(quarantine, lake, qprefix, {"run_id": run_id, "rows": n_bad}, ORDER, files=1)
        summary = summarise(manifest, n_rows, n_bad, records, rejected)
        sample = quarantine.orderBy(*ORDER).limit(200).select("source_file", "source_line", "reason", "text")
        summary["report_html"] = write_report(
            reports, summary, records, batches, sample.toPandas().to_dict(orient="records")
        )
        batch_dts = sorted({d for dts in files["_batch_dts"] for d in dts if d})
        spark.sparkContext.setJobDescription(f"validate {kind} {run_id}: write validated rows")
        valid = marked.where(F.col("_reason") == "").select(*columns)
        commit_folder(
            valid, lake, catalog.validated_run(kind, run_id), validated_meta(summary, batch_dts), ORDER
        )
        return summary
    finally:
        judged.unpersist()
        spark.sparkContext.setJobDescription(None)

"""Validate on Spark: the same Great Expectations suites, run by GX's Spark execution engine.

The derived columns are computed with the pandas engine's own functions (:func:`harmwatch.data.dataset.
text_key`, :func:`harmwatch.data.suites.ts_epoch`) as Arrow UDFs, so a text's key and a timestamp's
parse are the same on both engines. The row suite runs on the Spark DataFrame; the rows it flags (only
their ``_row`` ids reach the driver) are joined back with their reasons in result order. The batch suite
runs on the one-row-per-landing-file summary Spark aggregates (a few rows per day, judged on pandas by
:func:`harmwatch.data.checks.judge_batches`). Validated and quarantined rows are written by Spark;
manifests and reports are those of the pandas engine.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import pandas as pd

from harmwatch.data import catalog
from harmwatch.data.checks import judge_batches, read_row_results
from harmwatch.data.suites import KIND_SPEC, Bounds, row_suite, run_suite
from harmwatch.spark.lake import commit_folder, read_runs
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


def derive(frame: DataFrame, kind: str) -> DataFrame:
    """Spark twin of :func:`harmwatch.data.suites.derive` (plus ``source_file`` for the batch checks)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    key_udf, epoch_udf = _udfs()
    spec = KIND_SPEC[kind]
    # The kept copy of a duplicated id, as in suites.id_copies: latest timestamp, then the last landed.
    latest = Window.partitionBy(spec["id"]).orderBy(
        F.col("_ts_epoch").desc_nulls_last(), F.col("source_file").desc(), F.col("source_line").desc()
    )
    copy = F.when(F.col(spec["id"]).isNull(), 0).otherwise((F.row_number().over(latest) > 1).cast("long"))
    out = frame.withColumn("_ts_epoch", epoch_udf(spec["ts"])).withColumn("_id_copy", copy)
    out = out.select(
        "_row",
        "source_file",
        *[c for c in spec["required"] if c in frame.columns and c != "source_file"],
        "_ts_epoch",
        "_id_copy",
    )
    out = out.withColumn("_text_len", F.char_length("text"))
    if kind == "labelled":
        by_key = Window.partitionBy(key_udf("text"))
        out = out.withColumn("_label_variants", F.size(F.collect_set("label").over(by_key)))
    return out


def row_reasons(spark: SparkSession, derived: DataFrame, kind: str, bounds: Bounds, as_of: float):
    """(``_row`` -> reason frame of the flagged rows, the report's expectation records)."""
    suite, reasons = row_suite(kind, bounds, as_of)
    columns = [c for c in derived.columns if c != "source_file"]
    records, flags = read_row_results(
        run_suite(derived.select(columns), suite, f"{kind}_rows", "_row"), reasons
    )
    pairs = pd.DataFrame(
        [(int(row), order, reason) for order, (reason, rows) in enumerate(flags) for row in rows],
        columns=["_row", "_order", "_reason"],
    )
    if pairs.empty:
        return None, records
    return spark.createDataFrame(pairs, "_row long, _order int, _reason string"), records


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
    and the row suite's records."""
    from pyspark.sql import functions as F

    reasons, records = row_reasons(spark, derive(frame, kind), kind, bounds, as_of)
    if reasons is not None:
        in_order = F.array_sort(F.collect_list(F.struct("_order", "_reason")))
        joined = reasons.groupBy("_row").agg(
            F.array_join(F.transform(in_order, lambda x: x["_reason"]), "; ").alias("_reasons")
        )
        judged = frame.join(joined, "_row", "left")
    else:
        judged = frame.withColumn("_reasons", F.lit(None).cast("string"))
    judged = judged.withColumn("_reasons", F.coalesce("_reasons", F.lit("")))
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

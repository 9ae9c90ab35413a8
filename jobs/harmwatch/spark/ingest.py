"""Ingest on Spark: landing files parsed in parallel, one Spark task per file.

Each task reads its landing file through :mod:`harmwatch.storage` (local folder or S3 through boto3, so
reading the landing zone needs no S3A connector) and parses it with the same functions as the pandas
engine (:func:`harmwatch.data.intake.read_file`: the parsers and :func:`harmwatch.data.landing.to_frames`).
The task emits three kinds of rows in one frame: lake rows, quarantine rows and one row describing the
file for the manifest. Spark writes the lake and quarantine folders; the manifests are the same as the
pandas engine's, so validate and every reader are indifferent to the engine that ingested a run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pandas as pd

from harmwatch.data import catalog, landing
from harmwatch.data.parsing import LABELLED_COLUMNS, REPORT_COLUMNS
from harmwatch.spark.lake import commit_folder
from harmwatch.storage import ObjectInfo, Store, open_store

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)
CHUNK = 20_000  # rows per Arrow batch handed back to Spark
# Quarantine columns a lake row does not have (``reason`` is also a report column, hence the prefix).
QUARANTINE_ONLY = ("_q_stage", "_q_reason", "_q_raw")


def lake_columns(kind: str) -> list[str]:
    columns = LABELLED_COLUMNS if kind == "labelled" else REPORT_COLUMNS
    return [
        *columns,
        "text_raw",
        "batch_dt",
        "source_file",
        "ingest_run",
        "extra",
        "source_line",
        *landing.DERIVED,
    ]


def _schema(kind: str) -> str:
    """The parse output's schema, in the column order the parse function yields."""
    columns = [*lake_columns(kind), *QUARANTINE_ONLY, "_source"]
    types = {"source_line": "long", "ts_epoch": "double"}
    return ", ".join(f"`{c}` {types.get(c, 'string')}" for c in columns)


def _parse_files(
    landing_uri: str, s3_attempts: int, kind: str, run: str, key: bytes, max_bytes: int
) -> Any:  # the mapInPandas function
    from harmwatch.config import Settings
    from harmwatch.data.intake import read_file

    def parse(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        store = open_store(landing_uri, Settings(s3_max_attempts=s3_attempts))
        columns = [*lake_columns(kind), *QUARANTINE_ONLY, "_source"]

        def shaped(frame: pd.DataFrame) -> pd.DataFrame:
            # Plain object columns (None for missing): Arrow then builds one array per column.
            out = frame.reindex(columns=columns).astype({c: object for c in columns if c != "source_line"})
            out = out.where(out.notna(), None)
            return out.astype({"source_line": "int64"})

        for files in batches:
            for f in files.itertuples(index=False):
                obj = ObjectInfo(f.key, int(f.size), f.version)
                good, bad, source = read_file(store, kind, obj, run, key, max_bytes)
                for start in range(0, len(good), CHUNK):
                    yield shaped(good.iloc[start : start + CHUNK])
                if len(bad):
                    yield shaped(bad.rename(columns={c.removeprefix("_q_"): c for c in QUARANTINE_ONLY}))
                yield shaped(pd.DataFrame([{"_source": json.dumps(source), "source_line": 0}]))

    return parse


def _run_summary(
    ignored: list[dict],
    files: int = 0,
    rows_in: int = 0,
    rows_parsed: int = 0,
    rows_quarantined: int = 0,
    run_id: str | None = None,
    notes: list[str] | None = None,
) -> dict[str, Any]:
    """One kind's part of the ingest summary (all zero when nothing was pending)."""
    return {
        "files": files,
        "rows_in": rows_in,
        "rows_parsed": rows_parsed,
        "rows_quarantined": rows_quarantined,
        "run_id": run_id,
        "ignored": ignored,
        "notes": notes or [],
    }


def _quarantined(parsed: DataFrame) -> DataFrame:
    """The rows that go to the quarantine, in its columns (the parser's own where it keeps its own)."""
    from pyspark.sql import functions as F

    return parsed.where(F.col("_q_stage").isNotNull()).select(
        [
            F.col(c if f"_q_{c}" not in QUARANTINE_ONLY else f"_q_{c}").alias(c)
            for c in landing.QUARANTINE_COLUMNS
        ]
    )


def ingest_kind(
    spark: SparkSession,
    landing_store: Store,
    lake: Store,
    kind: str,
    pending: list[ObjectInfo],
    ignored: list[dict],
    key: bytes,
    s3_attempts: int,
    max_bytes: int,
) -> dict:
    """Parse ``pending`` landing files of one kind into one committed ingest run (and its quarantine)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    if not pending:
        return _run_summary(ignored)
    run = landing.run_id(pending)
    files = spark.createDataFrame(
        pd.DataFrame([{"key": o.key, "size": o.size, "version": o.version} for o in pending]),
        "key string, size long, version string",
    ).repartition(len(pending))
    parse = _parse_files(landing_store.uri, s3_attempts, kind, run, key, max_bytes)
    parsed = files.mapInPandas(parse, _schema(kind))
    parsed = parsed.persist(StorageLevel.DISK_ONLY)  # parsed once, split three ways
    try:
        sources = [json.loads(r["_source"]) for r in parsed.where(F.col("_source").isNotNull()).collect()]
        sources.sort(key=lambda s: s["key"])
        good = parsed.where(F.col("_source").isNull() & F.col("_q_stage").isNull()).select(lake_columns(kind))
        bad = _quarantined(parsed)
        n_good = sum(s["rows_parsed"] for s in sources)
        n_bad = sum(s["rows_quarantined"] for s in sources)
        prefix, qprefix = catalog.ingest_run(kind, run), catalog.quarantine_run("ingest", kind, run)
        order = ["source_file", "source_line"]
        commit_folder(bad, lake, qprefix, {"run_id": run, "rows": n_bad}, order, files=1)
        meta = {
            "run_id": run,
            "kind": kind,
            "landing_uri": landing_store.uri,  # lineage: which landing zone this run read
            "sources": sources,
            "rows": n_good,
            "rows_quarantined": n_bad,
            "ignored": ignored,
        }
        commit_folder(good, lake, prefix, meta, order)
    finally:
        parsed.unpersist()
    for s in sources:
        if s["rows_quarantined"]:
            log.warning("%s: %d rows quarantined", landing_store.url(s["key"]), s["rows_quarantined"])
    notes = [f"{landing_store.url(s['key'])}: {s['note']}" for s in sources if s["note"]]
    rows_in = int(sum(s["rows_in"] for s in sources))
    return _run_summary(ignored, len(pending), rows_in, n_good, n_bad, run, notes)

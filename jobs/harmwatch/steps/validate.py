"""Validate: Great Expectations suites over every ingest run not validated yet.

Rows that fail a row-level expectation go to the validate quarantine with their reasons; the rest go to
the validated run (:mod:`harmwatch.data.catalog`). A landing file that fails a batch-level expectation
(volume, class mix, share of invalid rows) has all its rows quarantined and makes the command exit
non-zero with one line, after committing, so nothing is lost and a rerun does not loop. With ``--date``,
a batch of that date rejected earlier keeps failing the command, so an Airflow retry cannot turn a
rejected batch into a green task. Each run writes an HTML page and the GX result JSON to the reports
store. The checks themselves are :mod:`harmwatch.data.row_checks` (one SQL query per run, on DuckDB or
Spark SQL) and :func:`harmwatch.data.checks.with_batches` (the GX batch suite on the per-file summary).

Accounting: ``rows_in`` counts every record that landed in the runs validated now (including the
ones ingest already quarantined), and ``rows_in == rows_valid + rows_quarantined``.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
from collections.abc import Collection
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pandas as pd

from harmwatch.config import Settings
from harmwatch.data import catalog
from harmwatch.data.authority import pull_ledger, refusal_lines, vouch
from harmwatch.data.checks import judge_batches, with_batches
from harmwatch.data.row_checks import batch_frame, check_parquet, check_rows, reasons_of
from harmwatch.data.run_split import split_run
from harmwatch.data.suites import Bounds, import_gx
from harmwatch.data.validation_report import summarise, validated_meta, write_report
from harmwatch.errors import DataError, HarmwatchError
from harmwatch.spark.engine import add_engine_argument, choose, manifest_bytes
from harmwatch.storage import MANIFEST, Store, open_store

log = logging.getLogger(__name__)
# A run's failing rows (_row, _reason), expectation records, and per landing file the counts the batch
# checks need (None when the rows were judged from a frame).
Checked = tuple[pd.DataFrame, list[dict], pd.DataFrame | None]
TOTALS = ("rows_in", "rows_valid", "rows_quarantined", "quarantined_at_ingest", "quarantined_at_validate")


def pending_runs(lake: Store, kind: str) -> list[dict]:
    """Committed ingest manifests of ``kind`` whose run has no validated manifest yet."""
    done = {m["run_id"] for m in lake.committed(catalog.validated_runs(kind))}
    return [m for m in lake.committed(catalog.ingest_runs(kind)) if m["run_id"] not in done]


def run_keys(manifest: dict) -> list[str]:
    """The keys of an ingest run's Parquet files, in the order its manifest lists them: one file where
    ingest ran in one process, the part files where it ran on Spark."""
    prefix = catalog.ingest_run(manifest["kind"], manifest["run_id"])
    keys = [f"{prefix}/{f['name']}" for f in manifest.get("files", []) if f["name"].endswith(".parquet")]
    if not keys:
        raise DataError(f"{prefix}/{MANIFEST}: the run's manifest lists no Parquet file")
    return keys


def local_paths(lake: Store, manifest: dict) -> list[Path] | None:
    """The run's files as local paths (None where the lake is not a local folder); a listed file that is
    missing stops the step with a line naming it."""
    keys = run_keys(manifest)
    paths = [lake.local_path(key) for key in keys]
    if any(p is None for p in paths):
        return None
    for key, path in zip(keys, paths, strict=True):
        if not path.is_file():
            raise DataError(f"{key}: listed in the run's manifest, missing from the lake")
    return paths


def read_run(lake: Store, manifest: dict) -> pd.DataFrame:
    """The run's rows, its files read whole one after the other (a lake that is not a local folder)."""
    frames = [lake.read_parquet(key) for key in run_keys(manifest)]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def check_run(
    lake: Store, manifest: dict, bounds: Bounds, as_of: float, settings: Settings | None = None
) -> Checked:
    """A run's failing rows (``_row``, ``_reason``), the checks' records and the per-file counts, by
    DuckDB (within the settings' memory limit and threads): from the Parquet file where the lake is a
    local folder, else from the rows read through the store (then without counts)."""
    kind, paths = manifest["kind"], local_paths(lake, manifest)
    limits = {} if settings is None else {"memory_limit": settings.duckdb_memory_limit}
    if settings is not None:
        limits["threads"] = settings.duckdb_threads
    checked = None if paths is None else check_parquet([str(p) for p in paths], kind, bounds, as_of, **limits)
    if checked is None:
        frame = read_run(lake, manifest)
        reasons, records = check_rows(frame, kind, bounds, as_of)
        positions = (reasons != "").to_numpy().nonzero()[0]
        flagged = pd.DataFrame({"_row": positions, "_reason": reasons.iloc[positions].to_numpy()})
        checked = (flagged, records, None)
    return checked


def _check_runs(
    lake_uri: str, settings: Settings, manifests: list[dict], bounds: Bounds, as_of: float
) -> list[Checked]:
    lake = open_store(lake_uri, settings)  # the worker's own store (no connection shared with the parent)
    return [check_run(lake, m, bounds, as_of, settings) for m in manifests]


def prepare(
    lake: Store, settings: Settings, manifests: list[dict], bounds: Bounds, as_of: float
) -> list[Checked]:
    """Run the pending runs' row checks while this process imports Great Expectations.

    Importing great_expectations takes seconds of CPU and does not need the data (GX only judges the
    per-file batch summary), so on a machine with a second core the row checks run in a forked worker
    meanwhile; only the failing rows' positions and reasons come back. Without ``fork`` or a second
    core, it all happens in order.
    """
    if not manifests:
        return []
    if "fork" not in mp.get_all_start_methods() or (os.cpu_count() or 1) < 2:
        import_gx()
        return [check_run(lake, m, bounds, as_of, settings) for m in manifests]
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("fork")) as pool:
        future = pool.submit(_check_runs, lake.uri, settings, manifests, bounds, as_of)
        import_gx()
        return future.result()


def validate_run(
    lake: Store,
    reports: Store,
    manifest: dict,
    bounds: Bounds,
    checked: Checked,
    reviewed: Collection[str] = (),
) -> dict:
    """Judge one ingest run; write its quarantine, report and validated rows (committed last).

    ``reviewed``: the run's landing files the review-pull ledger vouches for (:func:`review_authority`).
    With the per-file counts (a local lake), the rows are routed batch by batch (:func:`split_run`);
    otherwise the run is read whole."""
    kind, run_id = manifest["kind"], manifest["run_id"]
    flagged, expectations, counts = checked
    paths = local_paths(lake, manifest)
    if counts is None or paths is None:
        return _validate_frame(lake, reports, manifest, bounds, checked, reviewed)
    rejected, batches = judge_batches(batch_frame(counts, kind, bounds), kind, bounds, reviewed)
    split = split_run(paths, flagged, rejected)
    try:
        summary = _write_quarantine(
            lake, reports, manifest, split.quarantine, split.rows, expectations, batches, rejected
        )
        prefix = catalog.validated_run(kind, run_id)
        lake.write_file(f"{prefix}/{catalog.PART}", split.valid_file)
    finally:
        split.close()
    lake.commit(prefix, [catalog.PART], validated_meta(summary, split.batch_dts))
    return summary


def _write_quarantine(
    lake: Store,
    reports: Store,
    manifest: dict,
    quarantine: pd.DataFrame,
    rows: int,
    expectations: list[dict],
    batches: list[dict],
    rejected: dict[str, str] | None = None,
) -> dict:
    """Commit the run's quarantine and write its report; the run's summary."""
    kind, run_id = manifest["kind"], manifest["run_id"]
    qprefix = catalog.quarantine_run("validate", kind, run_id)
    lake.write_parquet(f"{qprefix}/{catalog.QUARANTINE_ROWS}", quarantine)
    lake.commit(qprefix, [catalog.QUARANTINE_ROWS], {"run_id": run_id, "rows": len(quarantine)})
    summary = summarise(manifest, rows, len(quarantine), expectations, rejected or {})
    sample = quarantine.head(200)[["source_file", "source_line", "reason", "text"]].to_dict(orient="records")
    summary["report_html"] = write_report(reports, summary, expectations, batches, sample)
    return summary


def _validate_frame(
    lake: Store, reports: Store, manifest: dict, bounds: Bounds, checked: Checked, reviewed: Collection[str]
) -> dict:
    """:func:`validate_run` on the run read whole (a lake that is not a local folder)."""
    kind, run_id = manifest["kind"], manifest["run_id"]
    frame = read_run(lake, manifest)
    flagged, expectations, _counts = checked
    result = with_batches(frame, kind, bounds, reasons_of(flagged, frame.index), expectations, reviewed)
    bad = result.invalid
    quarantine = frame[bad].assign(stage="validate", reason=result.reasons[bad])
    summary = _write_quarantine(
        lake, reports, manifest, quarantine, len(frame), result.expectations, result.batches, result.rejected
    )
    prefix = catalog.validated_run(kind, run_id)
    lake.write_parquet(f"{prefix}/{catalog.PART}", frame[~bad])
    batch_dts = sorted({s for s in frame["batch_dt"].dropna() if s})
    lake.commit(prefix, [catalog.PART], validated_meta(summary, batch_dts))
    return summary


def review_authority(manifest: dict, ledger: dict[str, str]) -> tuple[set[str], list[str]]:
    """(landing files of an ingest run that speak for the review loop, one line per review-named file
    that does not), from the run's recorded digests and the review-pull ledger."""
    vouched, refused = vouch(manifest.get("sources", []), ledger)
    lines = refusal_lines(refused)
    for line in lines:
        log.warning("%s", line)
    return vouched, lines


def earlier_rejections(lake: Store, day: str) -> dict[str, str]:
    """Batches of ``day`` that an earlier validate run rejected (they keep failing the task)."""
    return {
        src: why
        for kind in catalog.KINDS
        for m in lake.committed(catalog.validated_runs(kind))
        if m.get("status") == "rejected" and day in m.get("batch_dts", [])
        for src, why in m["rejected_batches"].items()
    }


def _as_of(args: argparse.Namespace) -> float:
    """Timestamps after this instant are 'in the future': end of the logical date, else now."""
    if args.as_of:
        ts = pd.Timestamp(args.as_of)
        return (ts.tz_localize("UTC") if ts.tzinfo is None else ts).timestamp()
    if args.date:
        return datetime.combine(date.fromisoformat(args.date), time.max, tzinfo=UTC).timestamp()
    return datetime.now(UTC).timestamp()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    b = Bounds()
    parser.add_argument("--date", help="logical date YYYY-MM-DD (timestamps after its end are 'future')")
    parser.add_argument("--as-of", help="explicit instant for the future-timestamp check (ISO 8601)")
    parser.add_argument("--lake", help="lake URI (default: settings.lake_uri)")
    parser.add_argument("--reports", help="reports URI (default: settings.reports_uri)")
    add_engine_argument(parser)
    parser.add_argument("--max-text-len", type=int, default=b.max_text_len, help="longest allowed post")
    parser.add_argument("--min-rows", type=int, default=b.min_rows, help="fewest rows per landing file")
    parser.add_argument("--max-rows", type=int, default=b.max_rows, help="most rows per landing file")
    parser.add_argument("--min-class-share", type=float, default=b.min_class_share, help="class mix floor")
    parser.add_argument("--max-class-share", type=float, default=b.max_class_share, help="class mix ceiling")
    parser.add_argument(
        "--max-invalid-share",
        type=float,
        default=b.max_invalid_share,
        help="largest share of invalid rows a landing file may have",
    )


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    try:
        as_of = _as_of(args)
    except ValueError:
        raise HarmwatchError(f"--date/--as-of not a valid date: {args.date or args.as_of!r}") from None
    bounds = Bounds(
        max_text_len=args.max_text_len,
        min_rows=args.min_rows,
        max_rows=args.max_rows,
        min_class_share=args.min_class_share,
        max_class_share=args.max_class_share,
        max_invalid_share=args.max_invalid_share,
    )
    lake = open_store(args.lake or settings.lake_uri, settings)
    reports = open_store(args.reports or settings.reports_uri, settings)
    pending = [m for kind in catalog.KINDS for m in pending_runs(lake, kind)]
    ledger = pull_ledger(lake) if pending else {}
    authority = [review_authority(m, ledger) for m in pending]
    engine = choose(settings, getattr(args, "engine", None), manifest_bytes(pending), local="duckdb")
    if engine == "spark" and pending:
        from harmwatch.spark import validate as spark_validate
        from harmwatch.spark.session import spark_session

        with spark_session(settings, "validate") as spark:
            runs = [
                spark_validate.validate_run(spark, lake, reports, m, bounds, as_of, vouched)
                for m, (vouched, _lines) in zip(pending, authority, strict=True)
            ]
    else:
        runs = [
            validate_run(lake, reports, m, bounds, data, vouched)
            for m, data, (vouched, _lines) in zip(
                pending, prepare(lake, settings, pending, bounds, as_of), authority, strict=True
            )
        ]
    rejected = {src: why for r in runs for src, why in r["rejected_batches"].items()}
    if args.date:  # a batch of this logical date rejected by an earlier attempt still fails the task
        rejected.update(earlier_rejections(lake, args.date))
    summary = {
        **{k: sum(r[k] for r in runs) for k in TOTALS},
        "runs": len(runs),
        "lake_uri": lake.uri,
        "report_html": [r["report_html"] for r in runs],
        "conflicting_label_rows": sum(r["conflicting_label_rows"] for r in runs),
        "rejected_batches": rejected,
        "review_files_refused": [line for _vouched, lines in authority for line in lines],
        "engine": engine,
    }
    if rejected:
        first = next(iter(rejected))
        more = f" (and {len(rejected) - 1} more)" if len(rejected) > 1 else ""
        where = summary["report_html"][0] if runs else reports.url(catalog.VALIDATION_REPORTS + "/")
        raise DataError(f"batch {first} rejected: {rejected[first]}{more}; rows quarantined, see {where}")
    return summary

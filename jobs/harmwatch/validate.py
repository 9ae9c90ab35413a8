"""Validate: Great Expectations suites over every ingest run not validated yet.

Rows that fail a row-level expectation go to ``quarantine/validate/<kind>/run=<id>/`` with their
reasons; the rest go to ``validated/<kind>/run=<id>/``. A landing file that fails a batch-level
expectation (volume, class mix, share of invalid rows) has all its rows quarantined and makes the
command exit non-zero with one line, after committing, so nothing is lost and a rerun does not loop.
With ``--date``, a batch of that date rejected earlier keeps failing the command, so an Airflow retry
cannot turn a rejected batch into a green task. Each run writes an HTML page and the GX result JSON to
``reports_uri/validation/<kind>/run=<id>/``.

Accounting: ``rows_in`` counts every record that landed in the runs validated now (including the
ones ingest already quarantined), and ``rows_in == rows_valid + rows_quarantined``.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, time
from typing import Any

import pandas as pd

from harmwatch.config import Settings
from harmwatch.errors import DataError, HarmwatchError
from harmwatch.reporting import render_validation_html
from harmwatch.storage import Store, open_store
from harmwatch.suites import (
    KIND_SPEC,
    WARN_ONLY,
    Bounds,
    batch_suite,
    batch_summary,
    derive,
    import_gx,
    row_suite,
    run_suite,
    unexpected_values,
)

log = logging.getLogger(__name__)


def pending_runs(lake: Store, kind: str) -> list[dict]:
    """Committed ingest manifests of ``kind`` whose run has no validated manifest yet."""
    done = {m["run_id"] for m in lake.committed(f"validated/{kind}")}
    return [m for m in lake.committed(f"ingest/{kind}") if m["run_id"] not in done]


def check_rows(
    frame: pd.DataFrame, kind: str, bounds: Bounds, as_of: float, derived: pd.DataFrame | None = None
) -> tuple[pd.Series, list[dict]]:
    """Per-row quarantine reasons ('' when valid) and a per-expectation record for the report.

    ``derived`` is ``derive(frame, kind)`` when the caller computed it already (see :func:`prepare`).
    """
    if derived is None:
        derived = derive(frame, kind)
    suite, reasons = row_suite(kind, bounds, as_of)
    result = run_suite(derived, suite, f"{kind}_rows", "_row")
    row_reasons: list[list[str]] = [[] for _ in range(len(frame))]
    records = []
    for res in result.results:
        name = res.expectation_config.meta["check"]
        reason = reasons[name]
        flagged = unexpected_values(res, "_row")
        records.append(
            {
                "name": name,
                "type": res.expectation_config.type,
                "success": bool(res.success),
                "unexpected": len(flagged),
                "warn_only": name in WARN_ONLY,
                "kwargs": {k: v for k, v in res.expectation_config.kwargs.items() if k != "batch_id"},
            }
        )
        if name in WARN_ONLY:
            continue
        for row in flagged:
            row_reasons[int(row)].append(reason)
    return pd.Series(["; ".join(r) for r in row_reasons], index=frame.index, dtype="string"), records


def check_batches(frame: pd.DataFrame, invalid: pd.Series, kind: str, bounds: Bounds) -> tuple[dict, list]:
    """Reasons keyed by rejected landing file, and the per-file summary rows for the report."""
    summary = batch_summary(frame, invalid, kind, bounds)
    if summary.empty:
        return {}, []
    result = run_suite(
        summary.reset_index(names="_batch"), batch_suite(kind, bounds), f"{kind}_batches", "_batch"
    )
    rejected: dict[str, list[str]] = {}
    warned: dict[str, list[str]] = {}
    for res in result.results:
        kw = res.expectation_config.kwargs
        warn_only = bool((res.expectation_config.meta or {}).get("warn_only"))
        for idx in unexpected_values(res, "_batch"):
            source = summary.loc[int(idx), "source_file"]
            value = summary.loc[int(idx), kw["column"]]
            (warned if warn_only else rejected).setdefault(source, []).append(
                f"{kw['column']}={value:.4g} outside [{kw.get('min_value')}, {kw.get('max_value')}]"
            )
    for source, reasons in warned.items():
        log.warning("%s: %s (warning only: the weak-label policy weighs these reports)", source,
                    "; ".join(reasons))

    def verdict(source: str) -> str:
        if source in rejected:
            return "; ".join(rejected[source])
        return f"ok (warning: {'; '.join(warned[source])})" if source in warned else "ok"

    rows = summary.assign(verdict=summary["source_file"].map(verdict))
    return {k: "; ".join(v) for k, v in rejected.items()}, rows.to_dict(orient="records")


def read_run(lake: Store, manifest: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An ingest run's rows and the derived frame its row-level suite checks."""
    kind, run_id = manifest["kind"], manifest["run_id"]
    frame = lake.read_parquet(f"ingest/{kind}/run={run_id}/part-0000.parquet")
    return frame, derive(frame, kind)


def _read_runs(lake_uri: str, manifests: list[dict]) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    lake = open_store(lake_uri)  # the worker's own store (no connection shared with the parent)
    return [read_run(lake, m) for m in manifests]


def prepare(lake: Store, manifests: list[dict]) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """Read and derive the pending runs while this process imports Great Expectations.

    Importing great_expectations takes seconds of CPU and does not need the data, so on a machine
    with a second core the runs are read and derived in a forked worker meanwhile (the GX suites still
    run here, on the derived frames). Without ``fork`` or a second core, it all happens in order.
    """
    if not manifests:
        return []
    if "fork" not in mp.get_all_start_methods() or (os.cpu_count() or 1) < 2:
        import_gx()
        return [read_run(lake, m) for m in manifests]
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("fork")) as pool:
        future = pool.submit(_read_runs, lake.uri, manifests)
        import_gx()
        return future.result()


def validate_run(
    lake: Store,
    reports: Store,
    manifest: dict,
    bounds: Bounds,
    as_of: float,
    prepared: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> dict:
    kind, run_id = manifest["kind"], manifest["run_id"]
    frame, derived = prepared or read_run(lake, manifest)
    reasons, expectations = check_rows(frame, kind, bounds, as_of, derived)
    rejected, batch_rows = check_batches(frame, reasons != "", kind, bounds)
    batch_reason = frame["source_file"].map(
        lambda s: f"batch rejected: {rejected[s]}" if s in rejected else ""
    )
    reasons = reasons.where(batch_reason == "", batch_reason.astype("string") + "; " + reasons).str.strip(
        "; "
    )
    bad = reasons != ""
    quarantine = frame[bad].assign(stage="validate", reason=reasons[bad])
    valid = frame[~bad]
    qprefix = f"quarantine/validate/{kind}/run={run_id}"
    lake.write_parquet(f"{qprefix}/rows.parquet", quarantine)
    lake.commit(qprefix, ["rows.parquet"], {"run_id": run_id, "rows": int(bad.sum())})
    at_ingest = int(manifest.get("rows_quarantined", 0))
    summary = {
        "kind": kind,
        "run_id": run_id,
        "rows_in": len(frame) + at_ingest,
        "rows_valid": len(valid),
        "rows_quarantined": int(bad.sum()) + at_ingest,
        "quarantined_at_ingest": at_ingest,
        "quarantined_at_validate": int(bad.sum()),
        "conflicting_label_rows": next(
            (e["unexpected"] for e in expectations if e["name"] == "label_variants"), 0
        ),
        "rejected_batches": rejected,
    }
    rdir = f"validation/{kind}/run={run_id}"
    sample = quarantine.head(200)[["source_file", "source_line", "reason", "text"]].to_dict(orient="records")
    reports.write_text(
        f"{rdir}/report.html", render_validation_html(summary, expectations, batch_rows, sample)
    )
    reports.write_json(
        f"{rdir}/result.json", {**summary, "expectations": expectations, "batches": batch_rows}
    )
    summary["report_html"] = reports.url(f"{rdir}/report.html")
    prefix = f"validated/{kind}/run={run_id}"
    lake.write_parquet(f"{prefix}/part-0000.parquet", valid)
    batch_dts = sorted({s for s in frame["batch_dt"].dropna() if s})
    lake.commit(
        prefix,
        ["part-0000.parquet"],
        {**summary, "batch_dts": batch_dts, "status": "rejected" if rejected else "ok"},
    )
    return summary


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
    lake = open_store(args.lake or settings.lake_uri)
    reports = open_store(args.reports or settings.reports_uri)
    pending = [m for kind in KIND_SPEC for m in pending_runs(lake, kind)]
    runs = [
        validate_run(lake, reports, m, bounds, as_of, data)
        for m, data in zip(pending, prepare(lake, pending), strict=True)
    ]
    total = {
        k: sum(r[k] for r in runs)
        for k in (
            "rows_in",
            "rows_valid",
            "rows_quarantined",
            "quarantined_at_ingest",
            "quarantined_at_validate",
        )
    }
    rejected = {src: why for r in runs for src, why in r["rejected_batches"].items()}
    if args.date:  # a batch of this logical date rejected by an earlier attempt still fails the task
        for kind in KIND_SPEC:
            for m in lake.committed(f"validated/{kind}"):
                if m.get("status") == "rejected" and args.date in m.get("batch_dts", []):
                    rejected.update(m["rejected_batches"])
    summary = {
        **total,
        "runs": len(runs),
        "lake_uri": lake.uri,
        "report_html": [r["report_html"] for r in runs],
        "conflicting_label_rows": sum(r["conflicting_label_rows"] for r in runs),
        "rejected_batches": rejected,
    }
    if rejected:
        first = next(iter(rejected))
        more = f" (and {len(rejected) - 1} more)" if len(rejected) > 1 else ""
        raise DataError(
            f"batch {first} rejected: {rejected[first]}{more}; rows quarantined, "
            f"see {summary['report_html'][0] if runs else reports.url('validation/')}"
        )
    return summary

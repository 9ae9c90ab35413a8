"""Section ``ingest``: one large landing file ingested on the pandas engine, per size (``--factors``), in
CPU-seconds and peak memory.

Each size simulates its landing zone from ``factor`` copies of the dataset (a bulk day and one more, as
the dataplane section does, but not split into smaller files): its bulk day's labelled CSV and its
reports file are the largest single files a feed of that size lands. Each is then ingested alone, in
its own process (``run_tree``: CPU of the process tree, peak summed RSS sampled every 0.2 s). Ingest
streams a file a chunk of records at a time, so its memory should stay flat while its CPU grows with
the rows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.core import BIN, BULK, Options, StepFailed, step_env
from bench.sections.scaling import grow_source
from bench.sections.spark import run_tree

FILES = (("labelled", "labelled/dt=*/bulk.csv"), ("reports", "reports/dt=*/*.jsonl"))


def simulated(source: Path, factor: int, tmp: Path) -> Path:
    """The landing zone simulated from ``factor`` copies of ``source`` (bulk day + one day)."""
    grown = grow_source(source, factor, tmp / f"x{factor}.csv") if factor > 1 else source
    home = tmp / f"sim-x{factor}"
    proc = subprocess.run(
        [str(BIN / "harmwatch"), "simulate", "--start", BULK, "--days", "1"],
        env=step_env(home, grown),
        capture_output=True,
        text=True,
    )
    if grown != source:
        grown.unlink()
    if proc.returncode:
        raise StepFailed(f"simulate x{factor}: {proc.stderr[-400:]}")
    return home / "landing"


def one_file(path: Path, landing: Path, tmp: Path, name: str) -> dict[str, Any]:
    """Ingest ``path`` as the only file of a landing zone (a hard link keeps its identity and bytes)."""
    alone = tmp / f"{name}-landing"
    target = alone / path.relative_to(landing)
    target.parent.mkdir(parents=True)
    os.link(path, target)
    env = {**step_env(tmp / f"{name}-home", alone), "HARMWATCH_LANDING_URI": str(alone)}
    rec = run_tree("ingest", ["--engine", "pandas"], env)
    summary = rec.pop("summary") or {}
    return {**rec, "bytes": path.stat().st_size, "rows": summary.get("rows_in")}


def run(opts: Options) -> dict[str, Any]:
    """Per size and file kind: the file's size and records, ingest's CPU-s, peak RSS and load."""
    tmp = Path(tempfile.mkdtemp(prefix="hw-bench-ingest-"))
    records: list[dict[str, Any]] = []
    errors: list[str] = []
    try:
        for factor in sorted(opts.factors):
            print(f"ingest: {factor}x", flush=True)
            try:
                landing = simulated(opts.source, factor, tmp)
                for kind, pattern in FILES:
                    paths = sorted(landing.glob(pattern))
                    if not paths:
                        raise StepFailed(f"{factor}x: no {pattern} landed")
                    path = paths[0]
                    rec = {
                        "factor": factor,
                        "file": kind,
                        **one_file(path, landing, tmp, f"x{factor}-{kind}"),
                    }
                    records.append(rec)
                    print(
                        f"  {factor:>3}x {kind:<9} {rec['bytes'] / 1e6:7.1f} MB {rec['rows']:>9} records "
                        f"{rec['cpu_s']:6.1f} CPU-s {rec['peak_tree_rss_mib']:6d} MiB load {rec['load1']}",
                        flush=True,
                    )
            except StepFailed as exc:
                errors.append(str(exc))
                print(f"  FAILED: {exc}", flush=True)
            for path in tmp.glob(f"*x{factor}*"):
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"factors": sorted(opts.factors), "records": records, "errors": errors}


def report_lines(d: dict[str, Any]) -> list[str]:
    """The section in the report: one row per size and file."""
    lines = [
        "",
        f"## Ingest: one large landing file, streamed ({d.get('date', '')}, commit {d.get('commit')})",
        "",
        "| size | file | MB | records | CPU-s | peak RSS (MiB) | load |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in d["records"]:
        lines.append(
            f"| {r['factor']}x | {r['file']} | {r['bytes'] / 1e6:.1f} | {r['rows']:,} | {r['cpu_s']} | "
            f"{r['peak_tree_rss_mib']} | {r['load1']} |"
        )
    lines += [f"- failed: {e}" for e in d.get("errors", [])]
    return [*lines, ""]

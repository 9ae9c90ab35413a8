"""Section ``dataplane``: validate plus build-dataset on the embedded engine at growing sizes (1x, 4x, 16x
and 64x by default, ``--dataplane-factors`` to choose), in CPU-seconds and peak memory.

Each size lands the grown dataset as the spark section does (``spark.landed``: a bulk day and one more,
files of at most 50,000 records), ingests it, then measures ``validate`` and ``build-dataset --engine
duckdb`` in their own processes: CPU-seconds of the process tree (user + system, the measure that holds
on a shared machine where wall time does not) and the peak summed RSS of the tree. The targets
(``bench/targets.py``): at 16x both steps together in at most 40 CPU-s and 2 GiB; at 64x within 4 GiB.
64x (about 2.4 M validated rows) takes the longest: its landing and ingest, unmeasured, dominate the
section's time, so ``--quick`` leaves it out.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench.core import Options, StepFailed, step_env
from bench.sections.spark import landed, run_tree

# The engines are named: above HARMWATCH_SPARK_ABOVE_BYTES (64x is) ``auto`` would pick Spark. Ingest runs
# on pandas, which streams its landing files.
MEASURED = (("validate", ["--engine", "duckdb"]), ("build-dataset", ["--engine", "duckdb"]))
INGEST = ["--engine", "pandas"]


def one_size(source: Path, factor: int, tmp: Path) -> list[dict[str, Any]]:
    """The measured steps at ``factor`` (ingest runs first, unmeasured)."""
    landing = landed(source, factor, tmp)
    env = {**step_env(tmp / f"home-x{factor}", landing), "HARMWATCH_LANDING_URI": str(landing)}
    run_tree("ingest", INGEST, env)
    out = []
    for step, args in MEASURED:
        rec = run_tree(step, args, env)
        summary = rec.pop("summary") or {}
        rows = summary.get("rows_in") or summary.get("rows_train")
        out.append({**rec, "factor": factor, "rows": rows})
        print(
            f"  {factor:>3}x {step:<14} {rec['cpu_s']:7.1f} CPU-s {rec['peak_tree_rss_mib']:6d} MiB "
            f"load {rec['load1']}",
            flush=True,
        )
    return out


def run(opts: Options) -> dict[str, Any]:
    """Per size: each step's CPU-s and peak RSS, and both steps together."""
    tmp = Path(tempfile.mkdtemp(prefix="hw-bench-dataplane-"))
    records: list[dict[str, Any]] = []
    errors: list[str] = []
    try:
        for factor in sorted(opts.dataplane_factors):
            print(f"dataplane: {factor}x", flush=True)
            try:
                records += one_size(opts.source, factor, tmp)
            except StepFailed as exc:
                errors.append(f"{factor}x: {exc}")
                print(f"  FAILED: {exc}", flush=True)
            for path in tmp.glob(f"*x{factor}*"):
                shutil.rmtree(path, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sizes = {}
    for factor in sorted({r["factor"] for r in records}):
        recs = [r for r in records if r["factor"] == factor]
        sizes[str(factor)] = {
            "cpu_s": round(sum(r["cpu_s"] for r in recs), 1),
            "peak_rss_mib": max(r["peak_tree_rss_mib"] for r in recs),
            "load1": max(r["load1"] for r in recs),
            "steps": {r["step"]: r for r in recs},
        }
    return {"factors": sorted(opts.dataplane_factors), "sizes": sizes, "errors": errors}


def report_lines(d: dict[str, Any]) -> list[str]:
    """The section in the report: one row per size and step."""
    lines = [
        "",
        "## Data plane: validate and build-dataset, both as SQL on DuckDB",
        "",
        "| size | step | CPU-s | peak RSS (MiB) | load |",
        "|---:|---|---:|---:|---:|",
    ]
    for factor, size in d["sizes"].items():
        for step, rec in size["steps"].items():
            lines.append(
                f"| {factor}x | {step} | {rec['cpu_s']} | {rec['peak_tree_rss_mib']} | {rec['load1']} |"
            )
        lines.append(f"| {factor}x | **both** | **{size['cpu_s']}** | **{size['peak_rss_mib']}** | |")
    return [*lines, *(f"- error: {e}" for e in d.get("errors", [])), ""]

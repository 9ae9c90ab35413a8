"""``python -m bench``: parse the options, run the sections asked for, rewrite the report."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bench
from bench import report
from bench.core import RESULTS, Options, code_version, load1, machine
from bench.sections import (
    adversaries,
    auth,
    dag,
    dataplane,
    drift,
    drift_power,
    fit,
    gates,
    incremental,
    ingest,
    moderation,
    review,
    scaling,
    serving,
    spark,
    steps,
    suite,
)

SECTIONS: dict[str, Callable[[Options], dict[str, Any]]] = {
    "steps": steps.run,
    "dag": dag.run,
    "serving": serving.run,
    "scaling": scaling.run,
    "drift": drift.run,
    "drift_power": drift_power.run,
    "gates": gates.run,
    "moderation": moderation.run,
    "moderation_bulk": moderation.run_bulk,
    "suite": suite.run,
    "fit": fit.run,
    "review": review.run,
    "adversaries": adversaries.run,
    "spark": spark.run,
    "dataplane": dataplane.run,
    "auth": auth.run,
    "incremental": incremental.run,
    "ingest": ingest.run,
}


def parser(default_source: Path) -> argparse.ArgumentParser:
    """The options; ``default_source`` is the settings' source CSV, the dataset the steps simulate from."""
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=bench.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--sections", "--only", nargs="*", default=list(SECTIONS), choices=list(SECTIONS))
    p.add_argument(
        "--repeats", "--runs", type=int, default=3, help="repetitions for medians (steps, serving, drift)"
    )
    p.add_argument("--dag-repeats", type=int, help="repetitions of the DAG run (default --repeats)")
    p.add_argument(
        "--dag-modes",
        nargs="+",
        default=["dags-test"],
        choices=list(dag.MODES),
        help="dags-test: `airflow dags test` (make demo); scheduler: make up's scheduler, run via the API",
    )
    p.add_argument("--scaling-repeats", type=int, default=1, help="repetitions per scaling size")
    p.add_argument("--factors", type=int, nargs="*", default=[1, 4, 16], help="scaling sizes")
    p.add_argument("--requests", type=int, default=1000, help="single-post requests per latency figure")
    p.add_argument(
        "--spark-factors", type=int, nargs="*", default=[1, 16, 64], help="sizes of the spark section"
    )
    p.add_argument(
        "--histories", type=int, nargs="*", default=[7, 30, 90], help="days of history (incremental)"
    )
    p.add_argument(
        "--dataplane-factors",
        type=int,
        nargs="*",
        default=[1, 4, 16, 64],
        help="sizes of the dataplane section (64: the 4 GiB check, about 2.4 M validated rows)",
    )
    p.add_argument("--quick", action="store_true", help="one repetition, 1x/4x, 200 requests")
    p.add_argument(
        "--source", type=Path, default=default_source, help=f"source CSV (default {default_source})"
    )
    p.add_argument("--results", type=Path, default=RESULTS, help="where the JSON and the report go")
    p.add_argument("--commit", help="the commit measured, when not a git checkout (git archive)")
    return p


def load_results(folder: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Each section's last record in ``folder`` and the machine it was measured on."""
    results, machines = {}, {}
    for section in SECTIONS:
        path = folder / f"{section}.json"
        if path.is_file():
            data = json.loads(path.read_text())
            results[section], machines[section] = data[section], data["machine"]
    return results, machines


def main(argv: list[str] | None = None) -> int:
    """Run the sections asked for, each into its JSON; then the report from every section's JSON.

    A section that fails keeps its last record (and the exit code is 1); the others still run.
    """
    from harmwatch.config import configure_libraries, load_settings

    settings = load_settings()
    configure_libraries(settings)  # telemetry off in this process and every one it starts
    args = parser(settings.source_csv.expanduser().resolve()).parse_args(argv)
    if args.quick:
        args.repeats, args.dag_repeats, args.scaling_repeats = 1, 1, 1
        args.factors, args.requests = [f for f in args.factors if f <= 4] or [1], 200
        args.dataplane_factors = [f for f in args.dataplane_factors if f <= 16] or [1]
    if args.sections and not args.source.is_file():
        raise SystemExit(f"bench: source dataset not found at {args.source} (set HARMWATCH_SOURCE_CSV)")
    opts = Options(
        source=args.source.resolve(),
        results=args.results.resolve(),
        repeats=args.repeats,
        dag_repeats=args.dag_repeats or args.repeats,
        dag_modes=args.dag_modes,
        scaling_repeats=args.scaling_repeats,
        factors=args.factors,
        requests=args.requests,
        spark_factors=args.spark_factors,
        histories=args.histories,
        dataplane_factors=args.dataplane_factors,
    )
    opts.results.mkdir(parents=True, exist_ok=True)
    failed = []
    for section in args.sections:
        started, load, today = (
            time.perf_counter(),
            load1(),
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        )
        try:
            value = SECTIONS[section](opts)
        except Exception as exc:  # the other sections go on; this one keeps its last record
            print(
                f"bench: section {section} failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True
            )
            failed.append(section)
            continue
        value.update(
            date=today,
            commit=code_version(args.commit),
            quick=args.quick,
            load1_start=load,
            load1_end=load1(),
            section_seconds=round(time.perf_counter() - started, 1),
        )
        record = {"machine": machine(), section: value}
        (opts.results / f"{section}.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    results, machines = load_results(opts.results)
    if not results:
        raise SystemExit(f"bench: no results in {opts.results}")
    newest = max(results, key=lambda s: results[s].get("date", ""))  # the report is as of its newest figure
    print(report.write(opts.results, results, machines[newest], results[newest].get("date", "")))
    if failed:
        print(f"bench: failed sections (their last records kept): {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

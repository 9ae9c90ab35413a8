"""Benchmark (not a test): wall time of `harmwatch train` and `harmwatch evaluate` on the full dataset.

Builds a landing zone and lake with the real chain (simulate, ingest, validate, build-dataset) under a
temporary HARMWATCH_HOME with the embedded defaults (SQLite MLflow, local folders), then times each
command as a user runs it (fresh process, imports included) several times and reports medians, with the
load average seen before each run (the machine is shared; a busy neighbour shows up there).

    .venv/bin/python tests/model/bench_model.py [--runs 5] [--out bench/results/model.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent / "harmwatch"


def harmwatch(*args: str, env: dict[str, str]) -> tuple[float, dict, float]:
    """(wall seconds, JSON summary, CPU seconds of the command and its children)."""
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"harmwatch {' '.join(args)} failed: {proc.stderr.strip()[-500:]}")
    return seconds, json.loads(proc.stdout.strip().splitlines()[-1]), cpu


def timed(label: str, runs: int, args: list[str], env: dict[str, str]) -> dict:
    rows = []
    for i in range(runs):
        load = os.getloadavg()[0]
        seconds, summary, cpu = harmwatch(*args, env=env)
        rows.append({"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "load1": round(load, 2),
                     "summary": summary})
        print(f"{label} run {i + 1}: {seconds:.2f} s wall, {cpu:.2f} s CPU (load {load:.2f})", flush=True)
    return {"median_seconds": round(statistics.median(r["seconds"] for r in rows), 2),
            "median_cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in rows), 2), "runs": rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HARMWATCH_")}
        env.update(HARMWATCH_HOME=home, HARMWATCH_LOG_LEVEL="WARNING")
        if "HARMWATCH_SOURCE_CSV" in os.environ:
            env["HARMWATCH_SOURCE_CSV"] = os.environ["HARMWATCH_SOURCE_CSV"]
        for step in ("simulate", "ingest", "validate", "build-dataset"):
            harmwatch(step, env=env)
        result = {"cpus": os.cpu_count(), "first_model": {}}
        # first model: train, evaluate (floors only), promote -> a champion for the steady state
        _, first, _ = harmwatch("train", env=env)
        result["first_model"]["evaluate_seconds"] = round(harmwatch("evaluate", env=env)[0], 2)
        harmwatch("promote", env=env)
        result["train"] = timed("train", args.runs, ["train"], env)
        # steady state: the last challenger against the champion, same frozen snapshot
        result["evaluate"] = timed("evaluate", args.runs, ["evaluate"], env)
        result["train"]["fit_seconds_median"] = statistics.median(
            r["summary"]["fit_seconds"] for r in result["train"]["runs"])
        result["macro_f1"] = first["macro_f1"]
        result["f1"] = first["f1"]
    print(json.dumps({k: v for k, v in result.items() if k not in ("train", "evaluate")}
                     | {"train_median": result["train"]["median_seconds"],
                        "evaluate_median": result["evaluate"]["median_seconds"]}))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

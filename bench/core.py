"""The measurement core every section shares: one step in its own process, measured from outside.

A step is measured as the DAG's local runner runs it: the real ``harmwatch`` command in a fresh process,
so wall time includes the interpreter start and the imports a task pays. Peak memory and CPU time come
from ``wait4`` on exactly that process (its own tree, not the benchmark's), and every record carries the
1-minute load average seen when it started, because the machine is shared and a figure taken under load
is not comparable with one taken on an idle machine.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harmwatch.cli import parse_summary

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
BULK, DAY2 = "2026-01-01", "2026-01-02"
# Where state lives comes from the benchmark's own home only; the outer shell's settings must not leak in.
FOREIGN = ("HARMWATCH_", "MLFLOW_", "AIRFLOW")
KEPT = ("MLFLOW_DISABLE_TELEMETRY",)  # how a library behaves, not where: nothing may call out


@dataclass
class Options:
    """What the command line asked for; each section reads the fields it needs."""

    source: Path
    results: Path = RESULTS
    repeats: int = 3
    dag_repeats: int = 3
    dag_modes: list[str] = field(default_factory=lambda: ["dags-test"])
    scaling_repeats: int = 1
    factors: list[int] = field(default_factory=lambda: [1, 4, 16])
    requests: int = 1000
    spark_factors: list[int] = field(default_factory=lambda: [1, 16, 64])
    histories: list[int] = field(default_factory=lambda: [7, 30, 90])
    dataplane_factors: list[int] = field(default_factory=lambda: [1, 4, 16])


class StepFailed(RuntimeError):
    """A step exited non-zero (recorded in the results; the rest of that chain is skipped)."""


def machine() -> dict[str, Any]:
    """What the figures were taken on: they mean little without the CPU, cores and memory."""
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        "unknown",
    )
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem, 1),
        "python": platform.python_version(),
        "os": platform.platform(),
        "host": platform.node(),
    }


def code_version(commit: str | None = None) -> str:
    """The commit measured: ``commit`` when given (an exported tree, ``git archive``, has no history),
    else ``git rev-parse --short HEAD``, + "-dirty" with local changes to the code that runs (jobs, dags)."""
    if commit:
        return commit
    try:
        git = ["git", "-C", str(ROOT)]
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run([*git, "diff", "--quiet", "HEAD", "--", "jobs", "dags"]).returncode
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load1() -> float:
    """The 1-minute load average now (2 cores: above 2, processes waited for a CPU)."""
    return round(os.getloadavg()[0], 2)


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on, so a server started by a benchmark cannot collide."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_step(step: str, args: list[str], env: dict[str, str], phase: str = "") -> dict[str, Any]:
    """One step in its own process: wall, CPU and peak RSS of exactly that process tree (wait4).

    Peak RSS is ``ru_maxrss``: the largest single process of the tree (the step, or a child it waited
    for); CPU is user + system of the step and its children. Raises :class:`StepFailed`.
    """
    load = load1()
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([str(BIN / "harmwatch"), step, *args], env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    command = f"`harmwatch {step} {' '.join(args)}`"
    if proc.returncode != 0:
        raise StepFailed(f"{command} failed: {stderr.strip()[-600:]}")
    try:
        summary = parse_summary(stdout)
    except ValueError as exc:
        raise StepFailed(f"{command}: {exc}") from None
    return {
        "step": step,
        "phase": phase,
        "wall_s": round(wall, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "load1": load,
        "summary": summary,
    }


def step_env(home: Path, source: Path, log_level: str | None = "WARNING") -> dict[str, str]:
    """This environment minus any harmwatch/MLflow/Airflow settings, pointed at ``home`` and ``source``.

    ``log_level`` WARNING keeps the steps' stderr small (as in production); None leaves the default.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN) or k in KEPT}
    env.update(
        HARMWATCH_HOME=str(home),
        HARMWATCH_SOURCE_CSV=str(source),
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",  # no huey job workers beside a server
    )
    if log_level:
        env["HARMWATCH_LOG_LEVEL"] = log_level
    return env


@contextmanager
def fresh_home(source: Path, days: int = 1) -> Iterator[tuple[Path, dict[str, str]]]:
    """A temporary HARMWATCH_HOME with a landing zone simulated from ``source`` (bulk + ``days``),
    removed afterwards: every measurement starts from nothing, as a first deployment does."""
    home = Path(tempfile.mkdtemp(prefix="hw-bench-"))
    try:
        env = step_env(home, source)
        run_step("simulate", ["--start", BULK, "--days", str(days)], env)
        yield home, env
    finally:
        shutil.rmtree(home, ignore_errors=True)


def bulk_day_snapshots(source: Path) -> tuple[Any, Any]:
    """(training, frozen evaluation) snapshots of the bulk day, as the DAG's first run builds them from
    ``source`` in a fresh home: what the demo's first model is trained and gated on."""
    from harmwatch.data import catalog
    from harmwatch.storage import open_store

    with fresh_home(source) as (home, env):
        for step in ("ingest", "validate", "build-dataset"):
            summary = run_step(step, ["--date", BULK], env)["summary"]
        lake = open_store(str(home / "lake"))
        train = lake.read_parquet(f"{catalog.train_snapshot(summary['train_version'])}/{catalog.TRAIN_FILE}")
        ev = lake.read_parquet(f"{catalog.eval_snapshot(summary['eval_version'])}/{catalog.EVAL_FILE}")
    return train, ev


def label(rec: dict[str, Any]) -> str:
    """A step with its phase (``train (day 2)``): the same command measured in different situations."""
    return rec["step"] + (f" ({rec['phase']})" if rec.get("phase") else "")


def medians(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per step and phase, in first-seen order: medians over the runs (failed runs left out)."""
    rows = [r for r in rows if "error" not in r]
    out = []
    for key in dict.fromkeys(label(r) for r in rows):
        mine = [r for r in rows if label(r) == key]
        out.append(
            {
                "step": key,
                "runs": len(mine),
                "median_wall_s": round(statistics.median(r["wall_s"] for r in mine), 2),
                "median_cpu_s": round(statistics.median(r["cpu_s"] for r in mine), 2),
                "median_peak_rss_mib": round(statistics.median(r["peak_rss_mib"] for r in mine)),
                "all_wall_s": [round(r["wall_s"], 2) for r in mine],
                "median_load1": round(statistics.median(r["load1"] for r in mine), 2),
            }
        )
    return out

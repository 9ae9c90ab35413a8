"""`make bench`: what a retrain costs on the real dataset, and how the cost grows with data.

Every step runs as the real ``harmwatch`` command in a fresh process, as the DAG's local runner runs
it. Wall time is measured around the process; peak memory is ``ru_maxrss`` from ``wait4`` on that
process (the largest single process of the step's tree: the step, or a child it waited for); CPU
time is user + system of the step and its children. Each record carries the 1-minute load average
seen when it started (the machine is shared). Figures are medians of several runs. Sections:

1. ``steps``: each step on the full dataset: the bulk day (ingest, validate, build-dataset, the
   first train and evaluate, promote), then day 2 as the DAG runs it with a champion in place
   (ingest, validate, build-dataset on the whole dataset, train, evaluate against the champion,
   promote, drift), and batch scoring of the bulk by the champion (``score``);
   ``quality`` (macro-F1 and per-class F1 on the frozen evaluation snapshot) comes with it.
2. ``dag``: the retrain DAG through Airflow (``airflow dags test``, local runner) next to the sum of
   its steps' own times (scripts/bench_dag.py).
3. ``serving``: batch scoring throughput and single-post latency in-process (bench/serving_probe.py),
   and through ``mlflow models serve`` on 127.0.0.1.
4. ``scaling``: the bulk-day chain at 1x, 4x and 16x the data (distinct post ids, lightly perturbed
   texts so deduplication does not collapse them), time and peak memory per step, plus a PNG plot.

Writes bench/results/<section>.json and bench/results/README.md. Sections not run this time are
taken from their existing JSON, so sections can be (re)run one at a time. ``--quick`` is one
repetition, 1x and 4x only and fewer requests: a correctness run, not a measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
SECTIONS = ("steps", "dag", "serving", "scaling")
BULK, DAY2 = "2026-01-01", "2026-01-02"
# The chain a retrain runs on the bulk day, in order, with the arguments the DAG passes.
CHAIN: list[tuple[str, str, list[str]]] = [
    ("ingest", "bulk", ["--date", BULK]),
    ("validate", "bulk", ["--date", BULK]),
    ("build-dataset", "bulk", ["--date", BULK]),
    ("train", "first model", []),
    ("evaluate", "first model", []),
    ("promote", "", ["--date", BULK]),
]
# The next day, as the DAG runs it once a champion exists: the new batches are ingested and
# validated, the snapshot rebuilt (bulk + day 2 = the whole dataset), a challenger trained and
# evaluated against the champion (which evaluate scores too, with a bootstrap of the delta),
# promoted or not, and drift reported against the champion's reference sample.
DAY2_CHAIN: list[tuple[str, str, list[str]]] = [
    ("ingest", "day 2", ["--date", DAY2]),
    ("validate", "day 2", ["--date", DAY2]),
    ("build-dataset", "day 2", ["--date", DAY2]),
    ("train", "day 2", []),
    ("evaluate", "day 2, vs champion", []),
    ("promote", "day 2", ["--date", DAY2]),
    ("drift", "day 2", ["--date", DAY2]),
]
# Scaling: the bulk chain, then monitoring of the next day's batches only.
AFTER: list[tuple[str, str, list[str]]] = [
    ("ingest", "day 2", ["--date", DAY2]),
    ("validate", "day 2", ["--date", DAY2]),
    ("drift", "day 2", ["--date", DAY2]),
]
TARGETS = {  # (what, limit, unit, higher_is_better)
    "dag_end_to_end_s": ("retrain DAG end to end", 90.0, "s", False),
    "dag_overhead_pct": ("orchestration overhead", 20.0, "%", False),
    "train_s": ("train (day 2, whole dataset)", 15.0, "s", False),
    "validate_s": ("validate (bulk)", 5.0, "s", False),
    "drift_s": ("drift (day 2)", 15.0, "s", False),
    "batch_posts_per_s": ("batch scoring, in-process (one process)", 10_000.0, "posts/s", True),
    "score_posts_per_s": ("batch scoring, `harmwatch score` (one worker per CPU)", 10_000.0, "posts/s", True),
    "in_process_p99_ms": ("in-process single post p99", 5.0, "ms", False),
    "served_p99_ms": ("served single post p99", 50.0, "ms", False),
    "scaling_max_time_growth": ("16x: largest step time growth", 20.0, "x", False),
    "scaling_max_rss_mib": ("16x: largest peak RSS", 4096.0, "MiB", False),
}


def machine() -> dict[str, Any]:
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


class StepFailed(RuntimeError):
    """A step exited non-zero (recorded in the results; the rest of that chain is skipped)."""


def code_version() -> str:
    """The commit measured: ``git rev-parse HEAD`` (+ "-dirty" with local changes to tracked files),
    or ``HARMWATCH_BENCH_COMMIT`` when run from an exported tree (``git archive``)."""
    if os.environ.get("HARMWATCH_BENCH_COMMIT"):
        return os.environ["HARMWATCH_BENCH_COMMIT"]
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
    return round(os.getloadavg()[0], 2)


def run_step(step: str, args: list[str], env: dict[str, str], phase: str = "") -> dict[str, Any]:
    """One step in its own process: wall, CPU and peak RSS of exactly that process tree (wait4)."""
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
    if proc.returncode != 0:
        raise StepFailed(f"`harmwatch {step} {' '.join(args)}` failed: {stderr.strip()[-600:]}")
    return {
        "step": step,
        "phase": phase,
        "wall_s": round(wall, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "load1": load,
        "summary": json.loads(stdout.strip().splitlines()[-1]),
    }


def step_env(home: Path, source: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARMWATCH_", "MLFLOW_", "AIRFLOW"))}
    env.update(
        HARMWATCH_HOME=str(home),
        HARMWATCH_SOURCE_CSV=str(source),
        HARMWATCH_LOG_LEVEL="WARNING",
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",  # no huey job workers beside a server
    )
    return env


def fresh_home(source: Path, days: int = 1) -> tuple[Path, dict[str, str]]:
    """A temporary HARMWATCH_HOME with a landing zone simulated from ``source`` (bulk + ``days``)."""
    home = Path(tempfile.mkdtemp(prefix="hw-bench-"))
    env = step_env(home, source)
    run_step("simulate", ["--start", BULK, "--days", str(days)], env)
    return home, env


def score(env: dict[str, str], home: Path) -> dict[str, Any]:
    """Batch scoring of every labelled post of the bulk by the champion (the `score` command)."""
    bulk = home / "landing" / "labelled" / f"dt={BULK}" / "bulk.csv"
    return run_step(
        "score", ["--input", str(bulk), "--output", str(home / "scored.parquet")], env, "bulk, champion"
    )


def chain_once(source: Path, full: bool = True) -> list[dict[str, Any]]:
    """Bulk-day chain, then day 2 (the DAG's whole chain, or only monitoring), then batch scoring."""
    home, env = fresh_home(source)
    try:
        plan = CHAIN + (DAY2_CHAIN if full else AFTER)
        if not full:
            # Grown data is synthetic (perturbed copies): its first model may fail a gate (at 16x it
            # failed the golden set's identity counterfactuals), and monitoring and scoring still need a
            # champion to measure. Forced, with the reason recorded, as an operator would.
            force = ["--force", "--reason", "scaling benchmark on synthetic grown data"]
            plan = [(s, p, [*a, *force] if s == "promote" else a) for s, p, a in plan]
        records = []
        try:
            for step, phase, args in plan:
                records.append(run_step(step, args, env, phase))
                print(
                    f"  {step:<14} {phase:<13} {records[-1]['wall_s']:7.2f} s "
                    f"{records[-1]['peak_rss_mib']:7.0f} MiB  load {records[-1]['load1']}",
                    flush=True,
                )
            records.append(score(env, home))
        except StepFailed as exc:  # recorded; the steps after it in this chain cannot run
            print(f"  FAILED: {exc}", flush=True)
            records.append({"step": "FAILED", "phase": "", "error": str(exc), "load1": load1()})
        return records
    finally:
        shutil.rmtree(home, ignore_errors=True)


def label(rec: dict[str, Any]) -> str:
    return rec["step"] + (f" ({rec['phase']})" if rec.get("phase") else "")


def medians(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
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


def quality(summaries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Macro-F1 and per-class F1 on the frozen evaluation snapshot.

    ``evaluate`` reports the challenger's macro-F1 (``challenger_macro_f1``); ``train`` scores the same
    model on the same frozen snapshot and reports per-class F1 (``f1``) and ``macro_f1``.
    """
    ev, tr = summaries.get("evaluate (day 2, vs champion)", {}), summaries.get("train (day 2)", {})
    if not ev:
        ev, tr = summaries.get("evaluate (first model)", {}), summaries.get("train (first model)", {})
    return {
        "model_version": ev.get("challenger_version"),
        "eval_version": ev.get("eval_version"),
        "eval_rows": tr.get("rows_eval"),
        "macro_f1": ev.get("challenger_macro_f1", tr.get("macro_f1")),
        "macro_f1_at_train": tr.get("macro_f1"),
        "per_class_f1": tr.get("f1", {}),
        "ece": tr.get("ece"),
        "harmful_pr_auc": tr.get("harmful_pr_auc"),
        "decision": ev.get("decision"),
        "golden": f"{ev.get('golden_passed')}/{ev.get('golden_total')}",
    }


def bench_steps(runs: int, source: Path) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    last: list[dict[str, Any]] = []
    for i in range(runs):
        print(f"steps: run {i + 1}/{runs}", flush=True)
        last = chain_once(source)
        rows += last
    summaries = {label(r): r["summary"] for r in last if "summary" in r}
    scored = [r["summary"] for r in rows if r["step"] == "score"]
    return {
        "errors": [r["error"] for r in rows if "error" in r],
        "score_posts_per_s": round(statistics.median(s.get("posts_per_second", 0) for s in scored))
        if scored
        else None,
        "score_workers": scored[-1].get("workers") if scored else None,
        "steps": medians(rows),
        "quality": quality(summaries),
        "runs": [{k: v for k, v in r.items() if k != "summary"} for r in rows],
        "last_summaries": summaries,
    }


# -- DAG -------------------------------------------------------------------------------------------
def bench_dag(runs: int, source: Path, modes: list[str]) -> dict[str, Any]:
    """``runs`` DAG runs per mode; the first mode is the headline (see scripts/bench_dag.py)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import bench_dag

    os.environ.setdefault("HARMWATCH_SOURCE_CSV", str(source))
    out: dict[str, Any] = {}
    for mode in modes:
        results = []
        for i in range(runs):
            load = load1()
            try:
                r = bench_dag.bench(mode, BULK)
            except Exception as exc:  # recorded, the other runs go on
                print(f"dag: {mode} run {i + 1}/{runs} failed: {exc}", flush=True)
                results.append({"state": "error", "error": str(exc)[:500], "load1": load})
                continue
            r["load1"] = load
            results.append(r)
            print(
                f"dag: {mode} run {i + 1}/{runs} {r['state']} end-to-end {r['end_to_end_s']} s, "
                f"steps {r['steps_s']} s, overhead {r['overhead_pct']} % (load {load})",
                flush=True,
            )
        ok = [r for r in results if r["state"] == "success"]
        if not ok:
            out[mode] = {"mode": mode, "runs": len(results), "all": results, "median": {}, "per_task": {}}
            continue
        med = {
            k: round(statistics.median(r[k] for r in ok), 2)
            for k in ("end_to_end_s", "tasks_s", "steps_s", "overhead_s", "overhead_pct", "load1")
        }
        per_task = {
            task: {
                "median_task_s": round(statistics.median(r["per_task"][task]["task_s"] or 0 for r in ok), 2),
                "median_step_s": round(statistics.median(r["per_task"][task]["step_s"] or 0 for r in ok), 2),
            }
            for task in ok[0]["per_task"]
        }
        out[mode] = {"mode": mode, "runs": len(ok), "median": med, "per_task": per_task, "all": results}
    head = out[modes[0]]
    return {**head, "errors": [r["error"] for m in out.values() for r in m["all"] if "error" in r],
            "modes": {m: v for m, v in out.items() if m != modes[0]}}


# -- serving ---------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_serving(source: Path, n_single: int, runs: int) -> dict[str, Any]:
    home, env = fresh_home(source)
    try:
        for step, phase, args in CHAIN:
            run_step(step, args, env, phase)
        probe = ROOT / "bench" / "serving_probe.py"
        load = load1()
        proc = subprocess.run(
            [sys.executable, str(probe), str(n_single), str(runs)], env=env, capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise SystemExit(f"bench: serving probe failed: {proc.stderr.strip()[-800:]}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["load1"] = load
        print(f"serving: in-process {json.dumps(result)[:300]}", flush=True)
        result["served"] = bench_served(env, n_single, sample_texts(source, n_single + 20))
        print(f"serving: served {result['served']}", flush=True)
        return result
    finally:
        shutil.rmtree(home, ignore_errors=True)


def sample_texts(source: Path, n: int) -> list[str]:
    """``n`` posts of the dataset drawn at random (seed 0), as the in-process probe draws them."""
    import numpy as np
    import pandas as pd

    texts = pd.read_csv(source, dtype=str, keep_default_na=False)["tweet_text"].tolist()
    return [texts[i] for i in np.random.default_rng(0).integers(0, len(texts), size=n)]


def bench_served(env: dict[str, str], n: int, texts: list[str]) -> dict[str, Any]:
    """`mlflow models serve` of the champion on 127.0.0.1; latency of single-post requests."""
    import urllib.request

    import numpy as np

    port = free_port()
    settings = json.loads(
        subprocess.run(
            [str(BIN / "harmwatch"), "info", "--json"], env=env, capture_output=True, text=True, check=True
        ).stdout.splitlines()[-1]
    )
    serve_env = {
        **env,
        "MLFLOW_TRACKING_URI": settings["mlflow_tracking_uri"],
        "MLFLOW_REGISTRY_URI": settings["mlflow_registry_uri"],
        # mlflow starts `uvicorn` by name: the virtual environment's bin must be on PATH
        "PATH": os.pathsep.join([str(BIN), env.get("PATH", "")]),
    }
    log = Path(env["HARMWATCH_HOME"]) / "serve.log"
    started = time.perf_counter()
    with open(log, "wb") as log_fh:
        proc = subprocess.Popen(
            [
                str(BIN / "mlflow"),
                "models",
                "serve",
                "-m",
                f"models:/{settings['model_name']}@champion",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "--env-manager",
                "local",
                "-w",
                "1",
            ],
            env=serve_env,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{url}/ping", timeout=2).read()
                break
            except Exception:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(
                        f"bench: mlflow models serve did not start: {log.read_text()[-800:]}"
                    ) from None
                time.sleep(0.5)
        ready_s = time.perf_counter() - started
        load = load1()
        lat = []
        for i in range(n + 20):
            body = json.dumps(
                {"dataframe_split": {"columns": ["text"], "data": [[texts[i % len(texts)]]]}}
            ).encode()
            req = urllib.request.Request(
                f"{url}/invocations", data=body, headers={"Content-Type": "application/json"}
            )
            t = time.perf_counter()
            with urllib.request.urlopen(req, timeout=10) as resp:
                resp.read()
            if i >= 20:  # warm-up excluded
                lat.append((time.perf_counter() - t) * 1000)
        q = np.percentile(lat, [50, 95, 99])
        return {
            "p50": round(float(q[0]), 2),
            "p95": round(float(q[1]), 2),
            "p99": round(float(q[2]), 2),
            "mean": round(float(np.mean(lat)), 2),
            "n": n,
            "startup_s": round(ready_s, 1),
            "load1": load,
        }
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=30)


# -- scaling ---------------------------------------------------------------------------------------
def grow_source(source: Path, factor: int, out: Path) -> Path:
    """``factor`` copies of the dataset; copies 2.. are lightly perturbed so dedup keeps them.

    ``harmwatch simulate`` gives every row its own post id, so the copies are distinct posts; the
    perturbation (a hashtag and the copy number appended) keeps their normalised texts distinct too.
    """
    import numpy as np
    import pandas as pd

    base = pd.read_csv(source, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(factor)
    tags = np.array(["#today", "#news", "#mood", "#fyi", "#tbt", "#wow", "#ok", "#lol", "#smh", "#truth"])
    parts = [base]
    for copy in range(1, factor):
        tag = pd.Series(tags[rng.integers(0, len(tags), size=len(base))], index=base.index)
        parts.append(base.assign(tweet_text=base["tweet_text"] + " " + tag + f" {copy}"))
    pd.concat(parts, ignore_index=True).to_csv(out, index=False)
    return out


def bench_scaling(source: Path, factors: list[int], runs: int) -> dict[str, Any]:
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="hw-grow-"))
    try:
        for factor in factors:
            grown = grow_source(source, factor, tmp / f"x{factor}.csv") if factor > 1 else source
            for i in range(runs):
                print(f"scaling: {factor}x run {i + 1}/{runs}", flush=True)
                for rec in chain_once(grown, full=False):
                    summary = rec.get("summary", {})
                    rows.append({**{k: v for k, v in rec.items() if k != "summary"}, "factor": factor,
                                 "rows": summary.get("rows_in") or summary.get("rows")})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table = []
    for factor in factors:
        for m in medians([r for r in rows if r["factor"] == factor]):
            table.append({"factor": factor, **m})
    base = {t["step"]: t for t in table if t["factor"] == factors[0]}
    top = [t for t in table if t["factor"] == factors[-1]]
    growth = {
        t["step"]: round(t["median_wall_s"] / base[t["step"]]["median_wall_s"], 2)
        for t in top
        if t["step"] in base and base[t["step"]]["median_wall_s"] > 0
    }
    plot_scaling(table, RESULTS / "scaling.png")
    return {
        "errors": [f"{r['factor']}x: {r['error']}" for r in rows if "error" in r],
        "factors": factors,
        "runs_per_factor": runs,
        "table": table,
        "time_growth_at_largest": growth,
        "max_time_growth": max(growth.values()) if growth else None,
        "max_peak_rss_mib": max(t["median_peak_rss_mib"] for t in top) if top else None,
        "rows": rows,
        "plot": "bench/results/scaling.png",
    }


def plot_scaling(table: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(12, 4.6))
    factors = sorted({t["factor"] for t in table})
    for step in dict.fromkeys(t["step"] for t in table):
        mine = sorted((t for t in table if t["step"] == step), key=lambda t: t["factor"])
        xs = [t["factor"] for t in mine]
        ax_t.plot(xs, [t["median_wall_s"] for t in mine], marker="o", label=step)
        ax_m.plot(xs, [t["median_peak_rss_mib"] for t in mine], marker="o", label=step)
    for ax, what in ((ax_t, "wall time (s)"), (ax_m, "peak RSS (MiB)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(factors, [f"{f}x" for f in factors])
        ax.set_xlabel("data size (x the 47,692-row source CSV)")
        ax.set_ylabel(what)
        ax.grid(True, which="both", alpha=0.3)
    ax_m.axhline(4096, color="red", linestyle="--", linewidth=1, label="4 GiB target")
    ax_t.legend(fontsize=7, ncol=2)
    ax_m.legend(fontsize=7, ncol=2)
    fig.suptitle("harmwatch: cost of each step against data size")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


# -- report ----------------------------------------------------------------------------------------
def headline(results: dict[str, Any]) -> dict[str, float | None]:
    """The figures the targets are about (None when the section has no result yet)."""
    steps = {s["step"]: s for s in results.get("steps", {}).get("steps", [])}
    dag = results.get("dag", {}).get("median", {})
    serving = results.get("serving", {})
    scaling = results.get("scaling", {})

    def wall(name: str) -> float | None:
        return steps[name]["median_wall_s"] if name in steps else None

    return {
        "dag_end_to_end_s": dag.get("end_to_end_s"),
        "dag_overhead_pct": dag.get("overhead_pct"),
        "train_s": wall("train (day 2)"),
        "validate_s": wall("validate (bulk)"),
        "drift_s": wall("drift (day 2)"),
        "batch_posts_per_s": serving.get("batch_posts_per_s"),
        "score_posts_per_s": results.get("steps", {}).get("score_posts_per_s"),
        "in_process_p99_ms": serving.get("in_process_ms", {}).get("p99"),
        "served_p99_ms": serving.get("served", {}).get("p99"),
        "scaling_max_time_growth": scaling.get("max_time_growth"),
        "scaling_max_rss_mib": scaling.get("max_peak_rss_mib"),
    }


def headline_load(results: dict[str, Any]) -> dict[str, float | None]:
    """The 1-minute load average each headline figure was taken under (median where several)."""
    steps = {s["step"]: s for s in results.get("steps", {}).get("steps", [])}
    serving = results.get("serving", {})
    scaling = results.get("scaling", {})
    top = [r["load1"] for r in scaling.get("rows", []) if r["factor"] == max(scaling.get("factors", [0]))]

    def load(name: str) -> float | None:
        return steps[name]["median_load1"] if name in steps else None

    return {
        "dag_end_to_end_s": results.get("dag", {}).get("median", {}).get("load1"),
        "dag_overhead_pct": results.get("dag", {}).get("median", {}).get("load1"),
        "train_s": load("train (day 2)"),
        "validate_s": load("validate (bulk)"),
        "drift_s": load("drift (day 2)"),
        "batch_posts_per_s": serving.get("load1"),
        "score_posts_per_s": load("score (bulk, champion)"),
        "in_process_p99_ms": serving.get("load1"),
        "served_p99_ms": serving.get("served", {}).get("load1"),
        "scaling_max_time_growth": statistics.median(top) if top else None,
        "scaling_max_rss_mib": statistics.median(top) if top else None,
    }


def verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    loads = headline_load(results)
    for key, value in headline(results).items():
        what, limit, unit, higher = TARGETS[key]
        met = None if value is None else (value >= limit if higher else value <= limit)
        out.append(
            {"key": key, "what": what, "value": value, "target": limit, "unit": unit, "met": met,
             "load1": loads.get(key)}
        )
    return out


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def write_report(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB RAM, Python {m['python']}, "
        f"{m['os']}. Written by `make bench` (bench/run.py) on {results['date']}; the code measured is "
        "given per section (commit).",
        "",
        "The machine is shared: every figure carries the 1-minute load average seen when it was taken "
        "(2 cores, so a load above 2 means the steps waited for a CPU). Figures are medians; wall time "
        "includes the process start and imports, as a DAG task pays them.",
        "",
        "How the misses were profiled and what was changed: [../PROFILING.md](../PROFILING.md).",
        "",
        "## Targets",
        "",
        "| target | measured | limit | met | load |",
        "|---|---:|---:|:---:|---:|",
    ]
    errors = [e for sec in SECTIONS for e in results.get(sec, {}).get("errors", []) or []]
    for v in verdicts(results):
        sign = ">=" if TARGETS[v["key"]][3] else "<="
        met = {True: "yes", False: "**no**", None: "n/a"}[v["met"]]
        limit = f"{sign} {v['target']:g} {v['unit']}"
        lines.append(
            f"| {v['what']} | {_fmt(v['value'])} {v['unit']} | {limit} | {met} | {_fmt(v['load1'])} |"
        )
    lines.append("")
    if errors:
        lines += ["## Failed steps", ""] + [f"- {e.splitlines()[0][:400]}" for e in errors] + [""]
    if "steps" in results:
        s = results["steps"]
        lines += [
            f"## Steps on the full dataset ({s.get('date', results['date'])}, commit {s.get('commit')})",
            "",
            "| step | runs | median wall (s) | median CPU (s) | median peak RSS (MiB) | all wall (s) "
            "| load |",
            "|---|---:|---:|---:|---:|---|---:|",
        ]
        lines += [
            f"| {r['step']} | {r['runs']} | {r['median_wall_s']:.2f} | {r['median_cpu_s']:.2f} | "
            f"{r['median_peak_rss_mib']} | {', '.join(f'{w:.1f}' for w in r['all_wall_s'])} | "
            f"{r['median_load1']} |"
            for r in s["steps"]
        ]
        lines.append("")
        q = s.get("quality") or {}
        if q:
            lines += [
                "## Model quality (frozen evaluation snapshot)",
                "",
                f"Model version {q.get('model_version')}, evaluation snapshot {q.get('eval_version')} "
                f"({q.get('eval_rows')} posts); decision `{q.get('decision')}`, "
                f"golden set {q.get('golden')}.",
                "",
                "| metric | value |",
                "|---|---:|",
                f"| macro-F1 | {_fmt(q.get('macro_f1'), 4)} |",
            ]
            lines += [f"| F1 {c} | {_fmt(v, 4)} |" for c, v in (q.get("per_class_f1") or {}).items()]
            lines += [
                f"| ECE | {_fmt(q.get('ece'), 4)} |",
                f"| harmful PR-AUC | {_fmt(q.get('harmful_pr_auc'), 4)} |",
            ]
            lines.append("")
    if results.get("dag", {}).get("median"):
        d = results["dag"]
        med = d["median"]
        lines += [
            f"## Retrain DAG through Airflow ({d['mode']}, local runner; {d['runs']} runs, "
            f"{d.get('date', '')}, commit {d.get('commit')})",
            "",
            f"End to end {med['end_to_end_s']} s; sum of the steps' own times {med['steps_s']} s; "
            f"orchestration overhead {med['overhead_s']} s = {med['overhead_pct']} % (load {med['load1']}).",
            "",
            "| task | median task (s) | median step process (s) |",
            "|---|---:|---:|",
        ]
        lines += [
            f"| {t} | {f['median_task_s']} | {f['median_step_s']} |" for t, f in d["per_task"].items()
        ]
        lines.append("")
        for mode, other in (d.get("modes") or {}).items():
            om = other.get("median") or {}
            if om:
                lines += [
                    f"Mode {mode} ({other['runs']} runs): end to end {om['end_to_end_s']} s, steps "
                    f"{om['steps_s']} s, overhead {om['overhead_s']} s = {om['overhead_pct']} % "
                    f"(load {om['load1']}).",
                    "",
                ]
    if "serving" in results:
        s = results["serving"]
        lines += [
            f"## Serving the champion ({s.get('date', '')}, commit {s.get('commit')})",
            "",
            "| measure | value | load |",
            "|---|---:|---:|",
            f"| batch scoring in-process ({s['batch_posts']} posts, median of {s.get('batch_runs', 3)}) | "
            f"{s['batch_posts_per_s']:,.0f} posts/s | {s.get('load1')} |",
        ]
        for where, key in (("in-process", "in_process_ms"), ("`mlflow models serve`", "served")):
            lat = s[key]
            lines.append(
                f"| {where} single post p50 / p95 / p99 / mean (ms), n={lat['n']} | "
                f"{lat['p50']:.2f} / {lat['p95']:.2f} / {lat['p99']:.2f} / {lat['mean']:.2f} | "
                f"{lat.get('load1', s.get('load1'))} |"
            )
        lines.append("")
    if "scaling" in results:
        sc = results["scaling"]
        factors = sc["factors"]
        head = " | ".join(f"{f}x s | {f}x MiB" for f in factors)
        lines += [
            f"## Scaling ({sc['runs_per_factor']} run(s) per size, {sc.get('date', '')}, "
            f"commit {sc.get('commit')})",
            "",
            f"| step | {head} | time growth {factors[0]}x to {factors[-1]}x | CPU time growth |",
            "|---|" + "---:|" * (2 * len(factors) + 2),
        ]
        for step in dict.fromkeys(t["step"] for t in sc["table"]):
            cells = []
            for f in factors:
                t = next((t for t in sc["table"] if t["step"] == step and t["factor"] == f), None)
                cells += [f"{t['median_wall_s']:.1f}", str(t["median_peak_rss_mib"])] if t else ["", ""]
            growth = sc["time_growth_at_largest"].get(step)
            ends = [
                next((t for t in sc["table"] if t["step"] == step and t["factor"] == f), None)
                for f in (factors[0], factors[-1])
            ]
            cpu = (
                ends[1]["median_cpu_s"] / ends[0]["median_cpu_s"]
                if all(ends) and ends[0]["median_cpu_s"]
                else None
            )
            lines.append(f"| {step} | " + " | ".join(cells) + f" | {_fmt(growth)}x | {_fmt(cpu)}x |")
        loads = sorted({r["load1"] for r in sc["rows"]})
        lines += [
            "",
            f"Load average during the scaling runs: {min(loads)} to {max(loads)}. The sizes ran one "
            "after the other under whatever load the machine had then, so a time ratio between sizes "
            "mixes data growth with load changes; the CPU time ratio is less affected.",
            "",
            "![cost against size](scaling.png)",
            "",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sections", "--only", nargs="*", default=list(SECTIONS), choices=SECTIONS)
    parser.add_argument("--repeats", "--runs", type=int, default=3, help="repetitions for medians (steps)")
    parser.add_argument("--dag-repeats", type=int, help="repetitions of the DAG run (default --repeats)")
    parser.add_argument(
        "--dag-modes",
        nargs="+",
        default=["dags-test"],
        choices=["dags-test", "scheduler"],
        help="dags-test: `airflow dags test` (make demo); scheduler: make up's scheduler, run via the API",
    )
    parser.add_argument("--scaling-repeats", type=int, default=1, help="repetitions per scaling size")
    parser.add_argument("--factors", type=int, nargs="*", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=1000, help="single-post requests per latency figure")
    parser.add_argument("--quick", action="store_true", help="one repetition, 1x/4x, 200 requests")
    parser.add_argument(
        "--source",
        type=Path,
        default=Path(
            os.environ.get(
                "HARMWATCH_SOURCE_CSV",
                Path(os.environ.get("HARMWATCH_SHARED_DIR", ROOT.parent / "shared"))
                / "data"
                / "cyberbullying_tweets.csv",
            )
        ),
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.dag_repeats, args.scaling_repeats = 1, 1, 1
        args.factors, args.requests = [f for f in args.factors if f <= 4] or [1], 200
    if not args.source.is_file():
        raise SystemExit(f"bench: source dataset not found at {args.source} (set HARMWATCH_SOURCE_CSV)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    today = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results: dict[str, Any] = {"machine": machine(), "date": today}
    for section in SECTIONS:  # earlier results of the sections not run now
        path = RESULTS / f"{section}.json"
        if section not in args.sections and path.is_file():
            results[section] = json.loads(path.read_text())[section]
    for section in args.sections:
        started, load = time.perf_counter(), load1()
        if section == "steps":
            value = bench_steps(args.repeats, args.source)
        elif section == "dag":
            value = bench_dag(args.dag_repeats or args.repeats, args.source, args.dag_modes)
        elif section == "serving":
            value = bench_serving(args.source, args.requests, args.repeats)
        else:
            value = bench_scaling(args.source, args.factors, args.scaling_repeats)
        value.update(date=today, commit=code_version(), quick=args.quick, load1_start=load, load1_end=load1(),
                     section_seconds=round(time.perf_counter() - started, 1))
        results[section] = value
        (RESULTS / f"{section}.json").write_text(
            json.dumps({"machine": results["machine"], section: value}, indent=2, default=str) + "\n"
        )
    report = write_report(results)
    (RESULTS / "README.md").write_text(report)
    (RESULTS / "targets.json").write_text(json.dumps(verdicts(results), indent=2) + "\n")
    print(report)


if __name__ == "__main__":
    main()

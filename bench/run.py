"""`make bench`: what a retrain costs on the real dataset, and how the cost grows with data.

Every step runs as the real ``harmwatch`` command in a fresh process, as the DAG's local runner runs
it. Wall time is measured around the process; peak memory is that child's ``ru_maxrss`` from
``wait4``. Figures are medians of several runs (the machine is shared and noisy). Sections:

1. ``steps``: each step on the full dataset (bulk day, then one daily batch for drift and metrics).
2. ``dag``: the retrain DAG through Airflow next to the sum of its steps' own times (scripts/bench_dag.py).
3. ``serving``: batch scoring throughput, single-post latency in-process and through
   ``mlflow models serve`` on 127.0.0.1.
4. ``scaling``: the same steps at 1x, 4x and 16x the data (distinct post ids, lightly perturbed
   texts so deduplication does not collapse them), time and peak memory per step, plus a PNG plot.
5. ``quality``: the champion's macro-F1 and per-class F1 on the frozen evaluation snapshot.

Writes bench/results/<section>.json and bench/results/README.md (the table the README links to).
``--only`` runs some sections; ``--runs`` sets the repetitions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
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
BULK, DAY2 = "2026-01-01", "2026-01-02"
# The chain a retrain runs, in order, with the arguments the DAG passes on the bulk day.
CHAIN: list[tuple[str, list[str]]] = [
    ("ingest", ["--date", BULK]),
    ("validate", ["--date", BULK]),
    ("build-dataset", ["--date", BULK]),
    ("train", []),
    ("evaluate", []),
    ("promote", []),
]
AFTER: list[tuple[str, list[str]]] = [  # monitoring on the next day's batches, against the champion
    ("ingest", ["--date", DAY2]),
    ("validate", ["--date", DAY2]),
    ("drift", ["--date", DAY2]),
]


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
    }


def run_step(step: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """One step in its own process, with peak RSS of exactly that process (wait4 on its PID)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(BIN / "harmwatch"), step, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: `harmwatch {step}` failed: {err.strip().splitlines()[-1:]}")
    return {
        "step": step,
        "wall_s": wall,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "summary": json.loads(out.strip().splitlines()[-1]),
    }


def fresh_home(source: Path, days: int = 1) -> tuple[Path, dict[str, str]]:
    home = Path(tempfile.mkdtemp(prefix="hw-bench-"))
    env = {
        **os.environ,
        "HARMWATCH_HOME": str(home),
        "HARMWATCH_SOURCE_CSV": str(source),
        "HARMWATCH_LOG_LEVEL": "WARNING",
    }
    run_step("simulate", ["--start", BULK, "--days", str(days)], env)
    return home, env


def chain_once(source: Path) -> list[dict[str, Any]]:
    home, env = fresh_home(source)
    try:
        return [run_step(step, args, env) for step, args in CHAIN + AFTER] + [score(env, home)]
    finally:
        shutil.rmtree(home, ignore_errors=True)


def score(env: dict[str, str], home: Path) -> dict[str, Any]:
    """Batch scoring of every labelled post of the bulk by the champion (the `score` command)."""
    bulk = home / "landing" / "labelled" / f"dt={BULK}" / "bulk.csv"
    rec = run_step("score", ["--input", str(bulk), "--output", str(home / "scored.parquet")], env)
    rec["step"] = "score"
    return rec


def medians(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for key in dict.fromkeys((r["step"], r.get("phase", "")) for r in rows):
        mine = [r for r in rows if (r["step"], r.get("phase", "")) == key]
        out.append(
            {
                "step": key[0] + (f" ({key[1]})" if key[1] else ""),
                "runs": len(mine),
                "median_wall_s": round(statistics.median(r["wall_s"] for r in mine), 2),
                "median_peak_rss_mib": round(statistics.median(r["peak_rss_mib"] for r in mine)),
            }
        )
    return out


def bench_steps(runs: int, source: Path) -> dict[str, Any]:
    rows = []
    for _ in range(runs):
        chain = chain_once(source)
        for rec, phase in zip(chain, ["bulk"] * len(CHAIN) + ["day 2"] * len(AFTER) + [""], strict=True):
            rows.append({**rec, "phase": phase if rec["step"] in ("ingest", "validate") else ""})
        last = chain
    summaries = {r["step"]: r["summary"] for r in last}
    return {"steps": medians(rows), "last_summaries": summaries}


# -- serving ---------------------------------------------------------------------------------------
def bench_serving(source: Path, n_single: int = 500) -> dict[str, Any]:
    home, env = fresh_home(source)
    try:
        for step, args in CHAIN:
            run_step(step, args, env)
        probe = ROOT / "bench" / "serving_probe.py"
        proc = subprocess.run(
            [sys.executable, str(probe), str(n_single)], env=env, capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise SystemExit(f"bench: serving probe failed: {proc.stderr.strip()[-500:]}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["served"] = bench_served(env, n_single)
        return result
    finally:
        shutil.rmtree(home, ignore_errors=True)


def bench_served(env: dict[str, str], n: int) -> dict[str, Any]:
    """`mlflow models serve` of the champion on 127.0.0.1; latency of single-post requests."""
    import socket
    import urllib.request

    import numpy as np

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = json.loads(
        subprocess.run(
            [str(BIN / "harmwatch"), "info", "--json"], env=env, capture_output=True, text=True, check=True
        ).stdout.splitlines()[-1]
    )
    serve_env = {
        **env,
        "MLFLOW_TRACKING_URI": settings["mlflow_tracking_uri"],
        "MLFLOW_REGISTRY_URI": settings["mlflow_registry_uri"],
    }
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
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{url}/ping", timeout=2)
                break
            except Exception:
                time.sleep(0.5)
        else:
            raise SystemExit("bench: mlflow models serve did not start")
        body = json.dumps(
            {"dataframe_split": {"columns": ["text"], "data": [["you are so old lol"]]}}
        ).encode()
        lat = []
        for i in range(n + 20):
            req = urllib.request.Request(
                f"{url}/invocations", data=body, headers={"Content-Type": "application/json"}
            )
            t = time.perf_counter()
            with urllib.request.urlopen(req, timeout=10) as resp:
                resp.read()
            if i >= 20:  # warm-up excluded
                lat.append((time.perf_counter() - t) * 1000)
        q = np.percentile(lat, [50, 95, 99])
        return {"p50": q[0], "p95": q[1], "p99": q[2], "mean": float(np.mean(lat)), "n": n}
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


# -- scaling ---------------------------------------------------------------------------------------
def grow_source(source: Path, factor: int, out: Path) -> Path:
    """``factor`` copies of the dataset; copies 2.. are lightly perturbed so dedup keeps them."""
    import numpy as np
    import pandas as pd

    base = pd.read_csv(source, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(factor)
    tags = ["#today", "#news", "#mood", "#fyi", "#tbt", "#wow", "#ok", "#lol", "#smh", "#truth"]
    parts = [base]
    for copy in range(1, factor):
        text = base["tweet_text"].to_numpy(dtype=object)
        tag = np.array(tags, dtype=object)[rng.integers(0, len(tags), size=len(base))]
        suffix = np.char.add(" ", tag.astype(str)).astype(object) + f" {copy}"
        parts.append(base.assign(tweet_text=text + suffix))
    pd.concat(parts, ignore_index=True).to_csv(out, index=False)
    return out


def bench_scaling(source: Path, factors: list[int]) -> dict[str, Any]:
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="hw-grow-"))
    try:
        for factor in factors:
            grown = grow_source(source, factor, tmp / f"x{factor}.csv") if factor > 1 else source
            for rec in chain_once(grown):
                rows.append(
                    {
                        "factor": factor,
                        "step": rec["step"],
                        "wall_s": round(rec["wall_s"], 2),
                        "peak_rss_mib": round(rec["peak_rss_mib"]),
                    }
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    plot_scaling(rows, RESULTS / "scaling.png")
    return {"rows": rows, "plot": "bench/results/scaling.png"}


def plot_scaling(rows: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
    for step in dict.fromkeys(r["step"] for r in rows):
        mine = [r for r in rows if r["step"] == step]
        xs = [r["factor"] for r in mine]
        ax_t.plot(xs, [r["wall_s"] for r in mine], marker="o", label=step)
        ax_m.plot(xs, [r["peak_rss_mib"] for r in mine], marker="o", label=step)
    for ax, label in ((ax_t, "wall time (s)"), (ax_m, "peak RSS (MiB)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("data size (x the 43k-post dataset)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    ax_m.axhline(4096, color="red", linestyle="--", linewidth=1, label="4 GiB target")
    ax_t.legend(fontsize=8)
    fig.suptitle("harmwatch: cost of each step against data size")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


# -- report ----------------------------------------------------------------------------------------
def write_report(results: dict[str, Any], runs: int) -> str:
    m = results["machine"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB RAM, Python {m['python']}; "
        f"{results['date']}. Medians of {runs} runs unless noted.",
        "",
    ]
    if "steps" in results:
        lines += [
            "### Steps on the full dataset",
            "",
            "| step | median wall (s) | median peak RSS (MiB) |",
            "|---|---:|---:|",
        ]
        lines += [
            f"| {s['step']} | {s['median_wall_s']} | {s['median_peak_rss_mib']} |"
            for s in results["steps"]["steps"]
        ]
        lines.append("")
    if "quality" in results:
        q = results["quality"]
        lines += [
            "### Model quality (champion, frozen evaluation snapshot)",
            "",
            "| metric | value |",
            "|---|---:|",
        ]
        lines += [f"| {k} | {v:.4f} |" for k, v in q.items() if isinstance(v, float)]
        lines.append("")
    if "dag" in results:
        d = results["dag"]
        lines += [
            "### Retrain DAG through Airflow (local runner)",
            "",
            "```",
            json.dumps(d, indent=2),
            "```",
            "",
        ]
    if "serving" in results:
        s = results["serving"]
        lines += [
            "### Serving the champion",
            "",
            "| measure | value |",
            "|---|---:|",
            f"| batch scoring ({s['batch_posts']} posts) | {s['batch_posts_per_s']:.0f} posts/s |",
        ]
        for where, key in (("in-process", "in_process_ms"), ("mlflow models serve", "served")):
            lat = s[key]
            lines.append(
                f"| {where} single post p50 / p95 / p99 / mean (ms) | "
                f"{lat['p50']:.2f} / {lat['p95']:.2f} / {lat['p99']:.2f} / {lat['mean']:.2f} |"
            )
        lines.append("")
    if "scaling" in results:
        rows = results["scaling"]["rows"]
        factors = sorted({r["factor"] for r in rows})
        head = " | ".join(f"{f}x time (s) | {f}x RSS (MiB)" for f in factors)
        lines += [
            "### Scaling (one run per size)",
            "",
            f"| step | {head} |",
            "|---|" + "---:|" * (2 * len(factors)),
        ]
        for step in dict.fromkeys(r["step"] for r in rows):
            cells = []
            for f in factors:
                r = next((r for r in rows if r["step"] == step and r["factor"] == f), None)
                cells += [str(r["wall_s"]) if r else "", str(r["peak_rss_mib"]) if r else ""]
            lines.append(f"| {step} | " + " | ".join(cells) + " |")
        lines += ["", "![cost against size](scaling.png)", ""]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="repetitions for medians")
    parser.add_argument(
        "--only",
        nargs="*",
        default=["steps", "dag", "serving", "scaling"],
        choices=["steps", "dag", "serving", "scaling"],
    )
    parser.add_argument("--factors", type=int, nargs="*", default=[1, 4, 16])
    parser.add_argument(
        "--source",
        type=Path,
        default=Path(
            os.environ.get(
                "HARMWATCH_SOURCE_CSV", ROOT.parent / "shared" / "data" / "cyberbullying_tweets.csv"
            )
        ),
    )
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": machine(), "date": time.strftime("%Y-%m-%d")}
    if "steps" in args.only:
        results["steps"] = bench_steps(args.runs, args.source)
        ev = results["steps"]["last_summaries"].get("evaluate", {})
        results["quality"] = {
            k: v
            for k, v in ev.items()
            if k.startswith(("challenger_macro_f1", "f1_")) and isinstance(v, float)
        } | ev.get("challenger_per_class_f1", {})
    if "dag" in args.only:
        sys.path.insert(0, str(ROOT / "scripts"))
        import bench_dag

        results["dag"] = bench_dag.bench("dags-test", BULK)
    if "serving" in args.only:
        results["serving"] = bench_serving(args.source)
    if "scaling" in args.only:
        results["scaling"] = bench_scaling(args.source, args.factors)
    for key, value in results.items():
        if key not in ("machine", "date"):
            (RESULTS / f"{key}.json").write_text(
                json.dumps(
                    {"machine": results["machine"], "date": results["date"], key: value},
                    indent=2,
                    default=str,
                )
                + "\n"
            )
    report = write_report(results, args.runs)
    (RESULTS / "README.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()

"""`make bench`: wall time and peak memory of harmwatch steps on the real dataset.

Each step runs as the real `harmwatch` command in a fresh process (as the DAG runs it), several
times; we report the median wall time and the median peak RSS (from wait4's rusage of that child).
Results go to bench/results/<name>.json and bench/results/README.md (the table the README shows).
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

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem, 1),
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float, dict]:
    """Run one command; (wall seconds, peak RSS MiB, JSON summary)."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(args)} failed with exit {proc.returncode}")
    return wall, usage.ru_maxrss / 1024, json.loads(out.strip().splitlines()[-1])


def bench_ingest_validate(runs: int, source: str) -> list[dict]:
    """ingest + validate of the whole simulated landing zone (bulk + 7 days), fresh lake each run."""
    rows = []
    for _ in range(runs):
        home = Path(tempfile.mkdtemp(prefix="hw-bench-"))
        env = {**os.environ, "HARMWATCH_HOME": str(home), "HARMWATCH_SOURCE_CSV": source}
        timed([str(BIN / "harmwatch"), "simulate"], env)
        for step in ("ingest", "validate"):
            wall, rss, summary = timed([str(BIN / "harmwatch"), step], env)
            rows.append({"step": step, "wall_s": wall, "peak_rss_mib": rss, "rows_in": summary["rows_in"]})
        shutil.rmtree(home, ignore_errors=True)
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    out = []
    for step in dict.fromkeys(r["step"] for r in rows):
        mine = [r for r in rows if r["step"] == step]
        out.append(
            {
                "step": step,
                "runs": len(mine),
                "median_wall_s": round(statistics.median(r["wall_s"] for r in mine), 2),
                "median_peak_rss_mib": round(statistics.median(r["peak_rss_mib"] for r in mine)),
                "rows_in": mine[0].get("rows_in"),
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--source",
        default=os.environ.get(
            "HARMWATCH_SOURCE_CSV", str(ROOT.parent / "shared" / "data" / "cyberbullying_tweets.csv")
        ),
    )
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    table = summarise(bench_ingest_validate(args.runs, args.source))
    both = round(sum(t["median_wall_s"] for t in table), 2)
    result = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "steps": table,
        "ingest_plus_validate_s": both,
    }
    (RESULTS / "ingest_validate.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"Machine: {result['machine']['cpu']}, {result['machine']['cores']} cores, "
        f"{result['machine']['memory_gib']} GiB; medians of {args.runs} runs, {result['date']}.",
        "",
        "| step | rows in | median wall (s) | median peak RSS (MiB) |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {t['step']} | {t['rows_in']} | {t['median_wall_s']} | {t['median_peak_rss_mib']} |" for t in table
    ]
    lines.append(f"| ingest + validate | | {both} | |")
    (RESULTS / "README.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

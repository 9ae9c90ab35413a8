"""Benchmark of ``harmwatch drift`` (not a test): 43k-post reference against a 10k-post batch.

    .venv/bin/python tests/drift/bench_drift.py [--runs 5] [--out bench.json]

Cases (all real data, no sampling inside the step):
  tweeteval  reference = the whole CSV (43,253 posts), current = 10,000 TweetEval posts (drift: the
             domain classifier is fitted a second time for the report's characteristic words/examples)
  split      reference = the CSV minus 10,000 random posts (33,253), current = those 10,000 (no drift),
             both files carrying a stand-in model's predictions, so 11 columns are compared

For each case: the wall time of the command as a DAG task runs it (a fresh process), reported twice,
with a byte-code cache (as in the job image, where ``pip`` compiles the packages) and without one
(this machine sets PYTHONDONTWRITEBYTECODE=1, so every process recompiles Evidently), and the in-process
time of the step's work (read, descriptors, Evidently, verdict, HTML). Medians of ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("HARMWATCH_SHARED_DIR", REPO.parent / "shared")) / "data"
HARMWATCH = Path(sys.executable).parent / "harmwatch"


def make_inputs(folder: Path) -> dict[str, tuple[Path, Path]]:
    from tests.drift.conftest import read_tweeteval
    from tests.drift.helpers import stand_in_model, with_predictions

    cyber = pd.read_csv(SHARED / "cyberbullying_tweets.csv").rename(
        columns={"tweet_text": "text", "cyberbullying_type": "label"}
    )
    tweets = read_tweeteval(SHARED / "tweeteval_offensive")
    cyber[["text", "label"]].to_csv(folder / "ref_all.csv", index=False)
    tweets.sample(10_000, random_state=0).to_frame().to_csv(folder / "cur_tweeteval.csv", index=False)
    order = np.random.default_rng(0).permutation(len(cyber))
    model = stand_in_model(cyber.iloc[order[:5000]])
    scored = with_predictions(model, cyber)
    scored.iloc[order[10_000:]].to_parquet(folder / "ref_split.parquet")
    scored.iloc[order[:10_000]].to_parquet(folder / "cur_split.parquet")
    return {
        "tweeteval": (folder / "ref_all.csv", folder / "cur_tweeteval.csv"),
        "split": (folder / "ref_split.parquet", folder / "cur_split.parquet"),
    }


def cli_seconds(ref: Path, cur: Path, out: Path, env: dict[str, str]) -> tuple[float, dict]:
    start = time.perf_counter()
    r = subprocess.run(
        [str(HARMWATCH), "drift", "--reference", str(ref), "--current", str(cur), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    took = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(r.stderr[-2000:])
    return took, json.loads(r.stdout.strip().splitlines()[-1])


def in_process_seconds(ref: Path, cur: Path) -> dict[str, float]:
    from harmwatch import drift_inputs
    from harmwatch.drift import evaluate, exclude_current, prepare

    t0 = time.perf_counter()
    r, c = prepare(drift_inputs.read_table(str(ref))), prepare(drift_inputs.read_table(str(cur)))
    t1 = time.perf_counter()
    results, _html, _ = evaluate(exclude_current(r, c), c, {})
    t2 = time.perf_counter()
    json.dumps(results, default=str)
    return {"read": t1 - t0, "evaluate": t2 - t1, "total": time.perf_counter() - t0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if not k.startswith("HARMWATCH_")}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = make_inputs(folder)
        cached = {**base, "HARMWATCH_HOME": str(folder / "hw"), "PYTHONPYCACHEPREFIX": str(folder / "pyc")}
        cached.pop("PYTHONDONTWRITEBYTECODE", None)
        uncached = {**base, "HARMWATCH_HOME": str(folder / "hw"), "PYTHONDONTWRITEBYTECODE": "1"}
        report: dict = {"load_average_start": os.getloadavg(), "cpus": os.cpu_count(), "runs": args.runs}
        for name, (ref, cur) in cases.items():
            cli_seconds(ref, cur, folder / "warm", cached)  # fills the byte-code cache
            warm = [cli_seconds(ref, cur, folder / name, cached) for _ in range(args.runs)]
            cold = [cli_seconds(ref, cur, folder / name, uncached)[0] for _ in range(args.runs)]
            inproc = [in_process_seconds(ref, cur) for _ in range(args.runs)]
            summary = warm[-1][1]
            report[name] = {
                "rows_reference": summary["rows_reference"],
                "rows_current": summary["rows_current"],
                "drift_detected": summary["drift_detected"],
                "drift_score": summary["drift_score"],
                "cli_median_s": round(statistics.median(t for t, _ in warm), 2),
                "cli_all_s": [round(t, 2) for t, _ in warm],
                "cli_no_bytecode_cache_median_s": round(statistics.median(cold), 2),
                **{
                    f"in_process_{k}_median_s": round(statistics.median(x[k] for x in inproc), 2)
                    for k in ("read", "evaluate", "total")
                },
            }
            print(name, json.dumps(report[name]), flush=True)
        report["load_average_end"] = os.getloadavg()
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

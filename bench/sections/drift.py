"""Section ``drift``: ``harmwatch drift`` on real files, a 43k-post reference against a 10k-post batch.

The steps section measures drift on day 2 of the simulated lake; this one measures the step at the size
it is built for, on real data, with no sampling inside the step. Cases:

- ``tweeteval``: reference = the whole source CSV, current = 10,000 TweetEval posts (another domain:
  drift, so the domain classifier is fitted a second time for the report's characteristic words);
- ``split``: reference = the CSV minus 10,000 random posts, current = those 10,000 (no drift), both files
  carrying a stand-in model's predictions, so the prediction columns are compared too.

For each case: the command as a DAG task runs it (a fresh process), with a byte-code cache (as in the
job image, where the packages are compiled at install) and without one (every process compiles Evidently
and the rest again, as where byte code cannot be written), and the in-process time of the step's work
(read, descriptors, Evidently, verdict, HTML): what the command costs without process start and imports.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.core import Options, StepFailed, load1, run_step, step_env
from devstack.config import StackConfig

CURRENT_ROWS = 10_000
MODEL_ROWS = 5_000  # the stand-in model's training slice, never used as reference or current


def make_inputs(folder: Path, source: Path, tweeteval: Path) -> dict[str, tuple[Path, Path]]:
    """Write both cases' reference and current files into ``folder``."""
    from tests.drift.conftest import read_tweeteval
    from tests.drift.helpers import stand_in_model, with_predictions

    cyber = pd.read_csv(source).rename(columns={"tweet_text": "text", "cyberbullying_type": "label"})
    tweets = read_tweeteval(tweeteval)
    cyber[["text", "label"]].to_csv(folder / "ref_all.csv", index=False)
    tweets.sample(CURRENT_ROWS, random_state=0).to_frame().to_csv(folder / "cur_tweeteval.csv", index=False)
    order = np.random.default_rng(0).permutation(len(cyber))
    scored = with_predictions(stand_in_model(cyber.iloc[order[:MODEL_ROWS]]), cyber)
    scored.iloc[order[CURRENT_ROWS:]].to_parquet(folder / "ref_split.parquet")
    scored.iloc[order[:CURRENT_ROWS]].to_parquet(folder / "cur_split.parquet")
    return {
        "tweeteval": (folder / "ref_all.csv", folder / "cur_tweeteval.csv"),
        "split": (folder / "ref_split.parquet", folder / "cur_split.parquet"),
    }


def in_process(ref: Path, cur: Path) -> dict[str, float]:
    """The step's work in this process, by phase (seconds): read and prepare, then assess and render."""
    from harmwatch.htmlreport import render_drift_html
    from harmwatch.monitoring import drift_inputs as inputs
    from harmwatch.monitoring.drift_decision import assess, results

    t0 = time.perf_counter()
    r, c = inputs.prepare(inputs.read_table(str(ref))), inputs.prepare(inputs.read_table(str(cur)))
    t1 = time.perf_counter()
    verdict, snapshot = assess(inputs.exclude_current(r, c), c)
    json.dumps(results(verdict, snapshot, {}), default=str)
    render_drift_html(snapshot, verdict, {})
    t2 = time.perf_counter()
    return {"read": t1 - t0, "evaluate": t2 - t1, "total": t2 - t0}


def case(name: str, ref: Path, cur: Path, envs: dict[str, dict[str, str]], runs: int, out: Path) -> dict:
    """One case: ``runs`` commands with and without a byte-code cache, ``runs`` in-process passes."""
    args = ["--reference", str(ref), "--current", str(cur), "--out", str(out / name)]
    run_step("drift", args, envs["cached"], name)  # fills the byte-code cache
    warm = [run_step("drift", args, envs["cached"], name) for _ in range(runs)]
    cold = [run_step("drift", args, envs["uncached"], name) for _ in range(runs)]
    inproc = [in_process(ref, cur) for _ in range(runs)]
    summary = warm[-1]["summary"]
    return {
        "rows_reference": summary.get("rows_reference"),
        "rows_current": summary.get("rows_current"),
        "drift_detected": summary.get("drift_detected"),
        "drift_score": summary.get("drift_score"),
        "cli_median_s": round(statistics.median(r["wall_s"] for r in warm), 2),
        "cli_all_s": [round(r["wall_s"], 2) for r in warm],
        "cli_median_cpu_s": round(statistics.median(r["cpu_s"] for r in warm), 2),
        "cli_median_peak_rss_mib": round(statistics.median(r["peak_rss_mib"] for r in warm)),
        "cli_no_bytecode_cache_median_s": round(statistics.median(r["wall_s"] for r in cold), 2),
        **{
            f"in_process_{k}_median_s": round(statistics.median(x[k] for x in inproc), 2)
            for k in ("read", "evaluate", "total")
        },
        "load1": round(statistics.median(r["load1"] for r in warm), 2),
    }


def run(opts: Options) -> dict[str, Any]:
    """Both cases, ``opts.repeats`` runs each; a failed command is recorded and the other case goes on."""
    tweeteval = StackConfig.from_env().shared_dir / "data" / "tweeteval_offensive"
    if not tweeteval.is_dir():
        raise FileNotFoundError(f"TweetEval not found at {tweeteval} (set HARMWATCH_SHARED_DIR)")
    out: dict[str, Any] = {"runs": opts.repeats, "cases": {}, "errors": []}
    with tempfile.TemporaryDirectory(prefix="hw-bench-drift-") as tmp:
        folder = Path(tmp)
        cases = make_inputs(folder, opts.source, tweeteval)
        # Byte code is looked up only under PYTHONPYCACHEPREFIX: the first run fills "pyc"; "no-pyc" stays
        # empty, so those runs compile every module (the venv's own __pycache__ folders are not read).
        cached = step_env(folder / "hw", opts.source)
        cached.pop("PYTHONDONTWRITEBYTECODE", None)
        cached["PYTHONPYCACHEPREFIX"] = str(folder / "pyc")
        uncached = {**cached, "PYTHONPYCACHEPREFIX": str(folder / "no-pyc"), "PYTHONDONTWRITEBYTECODE": "1"}
        envs = {"cached": cached, "uncached": uncached}
        for name, (ref, cur) in cases.items():
            print(f"drift: {name} ({opts.repeats} run(s), load {load1()})", flush=True)
            try:
                out["cases"][name] = case(name, ref, cur, envs, opts.repeats, folder)
            except StepFailed as exc:
                print(f"  FAILED: {exc}", flush=True)
                out["errors"].append(f"{name}: {exc}")
                continue
            print(f"  {json.dumps(out['cases'][name])}", flush=True)
    return out

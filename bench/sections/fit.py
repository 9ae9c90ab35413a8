"""Section ``fit``: what the training recipes cost to fit, against the recipe of the old champions
(``baseline``): the default recipe's fit may take at most 1.5 times the baseline's.

Each fit runs as ``harmwatch train`` runs it: in a fresh process (cold caches, the augmentation rows and
the normaliser's lookups built anew), on the whole source CSV as the lake holds its texts, seed 42, one
thread. The figure is the fit's CPU-s alone (``fit_model``), without the imports and the reading of the
data, which every recipe pays alike. The recipes take turns, ``--repeats`` rounds (the machine is shared,
and a run under load costs more), and each recipe's figure is the median of its runs, with the load seen
at each run's start.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.core import ROOT, Options, load1

BUDGET = 1.5  # the default recipe's fit against the baseline's (the issue of fitting for moderation)
SEED = 42


def fit_once(source: Path, recipe: str) -> dict[str, float]:
    """Fit ``recipe`` on the source CSV in this process: the fit's CPU-s and wall-clock seconds."""
    from bench.sections.suite import source_frame
    from harmwatch.model.fitting import fit_model

    train = source_frame(Options(source=source))
    cpu, wall = time.process_time(), time.perf_counter()
    fit_model(train, seed=SEED, n_jobs=1, recipe=recipe)
    return {"cpu_s": round(time.process_time() - cpu, 2), "wall_s": round(time.perf_counter() - wall, 2)}


def _fresh(source: Path, recipe: str) -> dict[str, Any]:
    """:func:`fit_once` in a new interpreter, with the load seen as it starts."""
    load = load1()
    command = [sys.executable, "-m", "bench.sections.fit", str(source), recipe]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "load1": load}


def run(opts: Options) -> dict[str, Any]:
    """Every recipe of ``harmwatch.model.fitting.RECIPES`` ``opts.repeats`` times, the baseline first, taking
    turns; medians, and each recipe's ratio to the baseline."""
    from harmwatch.model.fitting import DEFAULT_RECIPE, RECIPES

    runs: dict[str, list[dict[str, Any]]] = {r: [] for r in ["baseline", *RECIPES]}
    for round_no in range(max(1, opts.repeats)):
        for recipe in runs:
            runs[recipe].append(_fresh(opts.source, recipe))
            print(f"fit: round {round_no + 1}, {recipe}: {runs[recipe][-1]}", flush=True)
    medians = {r: statistics.median(x["cpu_s"] for x in rs) for r, rs in runs.items()}
    loads = [x["load1"] for rs in runs.values() for x in rs]
    return {
        "seed": SEED,
        "repeats": max(1, opts.repeats),
        "default_recipe": DEFAULT_RECIPE,
        "budget": BUDGET,
        "recipes": {
            r: {
                "median_cpu_s": round(medians[r], 2),
                "ratio_to_baseline": round(medians[r] / medians["baseline"], 2),
                "runs": rs,
            }
            for r, rs in runs.items()
        },
        "default_ratio": round(medians[DEFAULT_RECIPE] / medians["baseline"], 2),
        "load1": statistics.median(loads),
        "load1_range": [min(loads), max(loads)],
    }


def report_lines(result: dict[str, Any]) -> list[str]:
    """The fit-time table for the report."""
    lo, hi = result["load1_range"]
    lines = [
        "",
        "## What each training recipe costs to fit (`fit`)",
        "",
        f"Whole source CSV, seed {result['seed']}, one thread, each fit in a fresh process; medians of "
        f"{result['repeats']} runs taking turns, load {lo} to {hi}. Budget: the default recipe "
        f"(`{result['default_recipe']}`) at most {result['budget']}x the baseline's fit.",
        "",
        "| recipe | fit CPU-s (median) | runs | x baseline |",
        "|---|---:|---|---:|",
    ]
    for name, r in result["recipes"].items():
        runs = ", ".join(str(x["cpu_s"]) for x in r["runs"])
        lines.append(f"| `{name}` | {r['median_cpu_s']} | {runs} | {r['ratio_to_baseline']} |")
    return lines


if __name__ == "__main__":  # one fit, for :func:`_fresh`: python -m bench.sections.fit SOURCE RECIPE
    print(json.dumps(fit_once(Path(sys.argv[1]), sys.argv[2])))

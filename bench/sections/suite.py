"""Section ``suite``: the behaviour suite's figures for the recipe before the new gates (``baseline``, today's
champions) and the default (``moderate``), side by side; the README's table comes from here.

Both recipes are fitted in this process, one thread, seed 42, on the whole source CSV as the lake holds
its texts (labels as given). The suite is for reporting only: no recipe was chosen on it (the choice is
section ``moderation``'s, on a development set written apart).
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from bench.core import Options, load1

SEED = 42
RECIPES = ("baseline", "moderate")


def source_frame(opts: Options) -> pd.DataFrame:
    """The source CSV as ``text`` (normalised as ingest stores it) and ``label``."""
    from harmwatch.data.parsing import normalise_text

    src = pd.read_csv(opts.source)
    return pd.DataFrame({"text": src["tweet_text"].map(normalise_text), "label": src["cyberbullying_type"]})


def run(opts: Options) -> dict[str, Any]:
    """Fit each recipe once and report it on the behaviour suite."""
    from harmwatch.behaviour import SUITE_VERSION, behaviour_report, suite_frame
    from harmwatch.model.fitting import fit_model

    train, cases = source_frame(opts), suite_frame()
    out: dict[str, Any] = {"suite_version": SUITE_VERSION, "rows": len(train), "seed": SEED, "recipes": {}}
    for recipe in RECIPES:
        start = time.process_time()
        model, _ = fit_model(train, seed=SEED, n_jobs=1, recipe=recipe)
        fit = time.process_time() - start
        report = behaviour_report(cases, model.predict(cases[["text"]]))
        out["recipes"][recipe] = {"fit_cpu_s": round(fit, 1), "load1": load1(), "report": report}
        print(f"suite: {recipe}: overall {report['overall']:.3f}, fit {fit:.1f} CPU-s", flush=True)
    return out


def report_lines(result: dict[str, Any]) -> list[str]:
    """The side-by-side tables for the report."""
    from harmwatch.behaviour import markdown_table

    reports = {name: r["report"] for name, r in result["recipes"].items()}
    fits = ", ".join(f"{name} {r['fit_cpu_s']} CPU-s" for name, r in result["recipes"].items())
    return [
        "",
        "## The behaviour suite, old recipe and new (`suite`)",
        "",
        f"Suite {result['suite_version']}; fitted on {result['rows']:,} source posts, seed {result['seed']}; "
        f"fit {fits}.",
        "",
        markdown_table(reports),
    ]

"""Section ``scaling``: how each step's time and memory grow with the data (1x, 4x, 16x by default).

The bulk-day chain, monitoring of day 2 and batch scoring run on the source dataset copied ``factor``
times. ``harmwatch simulate`` gives every row its own post id, so the copies are distinct posts; copies
2.. are lightly perturbed (a hashtag and the copy number appended) so deduplication does not collapse
their normalised texts. The answer is a growth ratio per step and the largest peak RSS at the top size,
plus a plot (scaling.png beside the results).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench.core import ROOT, Options, medians
from bench.report import plot_scaling
from bench.sections.steps import chain_once

TAGS = ("#today", "#news", "#mood", "#fyi", "#tbt", "#wow", "#ok", "#lol", "#smh", "#truth")


def grow_source(source: Path, factor: int, out: Path) -> Path:
    """``factor`` copies of the dataset at ``out``; copies 2.. lightly perturbed so dedup keeps them."""
    import numpy as np
    import pandas as pd

    base = pd.read_csv(source, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(factor)
    tags = np.array(TAGS)
    parts = [base]
    for copy in range(1, factor):
        tag = pd.Series(tags[rng.integers(0, len(tags), size=len(base))], index=base.index)
        parts.append(base.assign(tweet_text=base["tweet_text"] + " " + tag + f" {copy}"))
    pd.concat(parts, ignore_index=True).to_csv(out, index=False)
    return out


def measure(source: Path, factors: list[int], runs: int) -> list[dict[str, Any]]:
    """Every step record of ``runs`` chains per size, tagged with the size and the rows it read."""
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="hw-grow-"))
    try:
        for factor in factors:
            grown = grow_source(source, factor, tmp / f"x{factor}.csv") if factor > 1 else source
            for i in range(runs):
                print(f"scaling: {factor}x run {i + 1}/{runs}", flush=True)
                for rec in chain_once(grown, full=False):
                    summary = rec.get("summary", {})
                    rows.append(
                        {
                            **{k: v for k, v in rec.items() if k != "summary"},
                            "factor": factor,
                            "rows": summary.get("rows_in") or summary.get("rows"),
                        }
                    )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def run(opts: Options) -> dict[str, Any]:
    """Medians per size and step, growth from the smallest to the largest size, and the plot."""
    factors = opts.factors
    rows = measure(opts.source, factors, opts.scaling_repeats)
    table = [{"factor": f, **m} for f in factors for m in medians([r for r in rows if r["factor"] == f])]
    base = {t["step"]: t for t in table if t["factor"] == factors[0]}
    top = [t for t in table if t["factor"] == factors[-1]]
    growth = {
        t["step"]: round(t["median_wall_s"] / base[t["step"]]["median_wall_s"], 2)
        for t in top
        if t["step"] in base and base[t["step"]]["median_wall_s"] > 0
    }
    plot = opts.results / "scaling.png"
    plot_scaling(table, plot)
    return {
        "errors": [f"{r['factor']}x: {r['error']}" for r in rows if "error" in r],
        "factors": factors,
        "runs_per_factor": opts.scaling_repeats,
        "table": table,
        "time_growth_at_largest": growth,
        "max_time_growth": max(growth.values()) if growth else None,
        "max_peak_rss_mib": max(t["median_peak_rss_mib"] for t in top) if top else None,
        "rows": rows,
        "plot": str(plot.relative_to(ROOT)) if plot.is_relative_to(ROOT) else str(plot),
    }

"""Section ``adversaries``: the weak-label policy against each simulated adversary at several strengths.

Per adversary and strength, a fresh landing zone from the full dataset (``harmwatch simulate --adversary
NAME --adversary-strength X``, 7 daily batches) goes through the real ``ingest`` and ``validate``; then
:mod:`harmwatch.data.adversary_audit` takes the weak-label decision once per day, as the daily DAG does,
under every policy of :func:`policies`, and measures precision of
the weak labels that entered training, recall of the honest ones and the review queue, against the
simulator's truth. A population without any adversary (``none``, brigade off) gives each defence's cost
in honest weak labels lost. The champion is the pipeline fitted once on the bulk day's moderator labels.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from bench.core import BULK, Options, load1, run_step, step_env
from harmwatch.data import catalog
from harmwatch.data.adversary_audit import Scenario, audit, fitted_scorer, reporter_kind
from harmwatch.data.defences import DEFENCE_NAMES, DEFENCES
from harmwatch.data.tables import read_committed
from harmwatch.data.weak_labels import Policy
from harmwatch.storage import open_store

DAYS = 7
REVIEW_LAG_DAYS = 2  # moderators label a reported post two days later: the build of day D cannot wait
STRENGTHS: dict[str, list[float]] = {
    "none": [0.0],
    "brigade": [0.1, 0.3, 0.5],
    "farming": [0.01, 0.03, 0.1],
    "swarm": [0.01, 0.03, 0.1],
    "tie": [0.01, 0.03, 0.1],
    "slow": [0.01, 0.03, 0.1],
    "mixed": [0.01, 0.03, 0.1],
}


def policies() -> dict[str, Policy]:
    """The default policy, none of the defences (the policy before them), the default with each defence it
    does not ship added (``+name``), and the default without each one it ships (``-name``)."""
    default = Policy()
    out = {"none": default.without(*DEFENCE_NAMES), "default": default}
    for defence in DEFENCES:
        if defence.shipped:
            out[f"-{defence.name}"] = default.without(defence.name)
        else:
            out[f"+{defence.name}"] = default.with_(defence.name)
    return out


def scenario(source: Path, adversary: str, strength: float) -> Scenario:
    """Simulate, ingest and validate one landing zone; its validated rows and truth."""
    home = Path(tempfile.mkdtemp(prefix="hw-bench-adv-"))
    try:
        env = step_env(home, source)
        args = ["--start", BULK, "--days", str(DAYS), "--review-lag-days", str(REVIEW_LAG_DAYS)]
        if adversary == "none":
            args += ["--brigade-share", "0"]
        else:
            args += ["--adversary", adversary, "--adversary-strength", str(strength)]
        run_step("simulate", args, env)
        run_step("ingest", [], env)
        run_step("validate", [], env)
        landing, lake = open_store(str(home / "landing")), open_store(str(home / "lake"))
        truth = json.loads(landing.read_bytes(catalog.SIMULATION_TRUTH))
        landed = pd.concat(
            [
                pd.read_json(landing.url(k), lines=True, dtype=str)
                for k in (o.key for o in landing.list("reports/"))
                if k.endswith(".jsonl")
            ],
            ignore_index=True,
        )
        labelled, _ = read_committed(lake, catalog.validated_runs("labelled"))
        reports, _ = read_committed(lake, catalog.validated_runs("reports"))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    from harmwatch.data.simulation import ground_truth, load_source

    gt = ground_truth(load_source(str(source)), truth["seed"])
    return Scenario(
        labelled,
        reports,
        dict(zip(gt["post_id"], gt["label"], strict=True)),
        dict(zip(landed["report_id"], reporter_kind(landed["reporter_id"]), strict=True)),
    )


def run(opts: Options) -> dict[str, Any]:
    """Every adversary at every strength under every policy; the champion fitted once."""
    rows: list[dict[str, Any]] = []
    scorer = None
    for adversary, strengths in STRENGTHS.items():
        for strength in strengths:
            load, started = load1(), time.perf_counter()
            s = scenario(opts.source, adversary, strength)
            if scorer is None:  # the bulk day is the same in every scenario (the crowd's own stream)
                scorer = fitted_scorer(s.labelled[s.labelled["batch_dt"] == BULK], seed=42)
            result = audit(s, policies(), scorer)
            took = round(time.perf_counter() - started, 1)
            print(
                f"adversaries: {adversary} {strength}: {result['default']} ({took} s, load {load})",
                flush=True,
            )
            rows += [
                {"adversary": adversary, "strength": strength, "policy": name, **figures, "load1": load}
                for name, figures in result.items()
            ]
    return {"days": DAYS, "review_lag_days": REVIEW_LAG_DAYS, "defences": list(DEFENCE_NAMES), "rows": rows}


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def report_lines(rec: dict[str, Any]) -> list[str]:
    """The README section: each adversary without and with the defences, then what each defence does."""
    rows = {(r["adversary"], r["strength"], r["policy"]): r for r in rec["rows"]}
    lines = [
        f"## Weak labels against adversaries ({rec.get('date', '')}, commit {rec.get('commit')})",
        "",
        f"Full dataset, {rec['days']} daily batches, moderators label reported posts "
        f"{rec.get('review_lag_days', REVIEW_LAG_DAYS)} days late; the weak-label decision is taken daily. "
        "Precision: of the weak labels that entered any day's training snapshot; honest recall: of the "
        "posts honest reporters alone could label, labelled on the last day; review: report-sourced rows "
        "of the last day's queue. `none` is the policy without any defence, `default` the shipped one.",
        "",
        "| adversary | strength | precision none / default | false labels none / default "
        "| honest recall none / default | review none / default | load |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for adversary, strengths in STRENGTHS.items():
        for st in strengths:
            none, default = rows.get((adversary, st, "none")), rows.get((adversary, st, "default"))
            if none is None or default is None:
                continue
            lines.append(
                f"| {adversary} | {st:g} | {_pct(none['precision'])} / {_pct(default['precision'])} "
                f"| {none['false_entered']} / {default['false_entered']} "
                f"| {_pct(none['honest_recall'])} / {_pct(default['honest_recall'])} "
                f"| {none['review_last_day']} / {default['review_last_day']} | {default['load1']} |"
            )
    lines += [
        "",
        "What each defence does: honest weak labels it costs without any adversary, and the false labels it "
        "keeps out of training summed over every adversary and strength (the default policy against the "
        "default with that defence switched off, or on for the two that are off by default).",
        "",
        "| defence | in the default | honest labels lost (no adversary) | false labels kept out (all runs) |",
        "|---|:---:|---:|---:|",
    ]
    base = rows.get(("none", 0.0, "default"))
    for defence in DEFENCES:
        on_by_default = defence.shipped
        variant = f"-{defence.name}" if on_by_default else f"+{defence.name}"
        other = rows.get(("none", 0.0, variant))
        if base is None or other is None:
            continue
        with_it, without = (base, other) if on_by_default else (other, base)
        lost = without["honest_labelled"] - with_it["honest_labelled"]
        kept = 0
        for (adv, st, pol), r in rows.items():
            if pol != variant or adv == "none":
                continue
            d = rows[(adv, st, "default")]
            kept += (r["false_entered"] - d["false_entered"]) * (1 if on_by_default else -1)
        lines.append(
            f"| {defence.name} | {'yes' if on_by_default else 'no'} | {lost} of {without['honest_labelled']} "
            f"| {kept} |"
        )
    return [*lines, ""]

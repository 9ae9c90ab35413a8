"""Section ``gates``: what good models pass, so that evaluate's golden and fairness limits sit below it.

The steps build the training and frozen evaluation snapshots from a simulated landing zone (the bulk day,
as in the README's model-quality figures). Then the model family is fitted in this process with several
seeds on the same snapshot (equally good retrains), and two degenerate models beside them (labels shuffled;
300 training posts). For each: macro-F1 on the evaluation snapshot, the golden set's pass rate per kind
and the fairness report on the paired identity templates (:mod:`harmwatch.model.fairness`). A limit in
:class:`harmwatch.model.gates.Thresholds` should pass every seed with room for noise and fail the
degenerate models.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from bench.core import Options, bulk_day_snapshots, load1

SEEDS = (1, 2, 3, 4, 5)


def measure(pipeline: Any, ev: pd.DataFrame) -> dict[str, Any]:
    from harmwatch.model.fairness import fairness_report, templates
    from harmwatch.model.golden import golden_frame
    from harmwatch.model.metrics import classification_metrics, golden_check

    golden = golden_frame()
    result = golden_check(golden, pipeline.predict(golden[["text"]]))
    frame = templates()
    scored = pipeline.predict(frame[["text"]])
    fair = fairness_report(frame, scored)
    metrics = classification_metrics(ev["label"], pipeline.predict(ev[["text"]]))
    return {
        "macro_f1": round(metrics["macro_f1"], 4),
        "golden": {k: round(float(v), 3) for k, v in result.groupby("kind")["passed"].mean().items()},
        "golden_overall": round(float(result["passed"].mean()), 3),
        **{k: round(v, 4) if isinstance(v, float) else v for k, v in fair.items() if k != "groups"},
        "groups": fair["groups"],
        "template_scores": scored["harmful_score"].round(4).tolist(),  # to re-derive other limits
    }


def brief(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("groups", "template_scores")}


def run(opts: Options) -> dict[str, Any]:
    from harmwatch.model.fitting import fit_model

    seeds = SEEDS[:2] if opts.repeats <= 1 else SEEDS
    out: dict[str, Any] = {"seeds": {}, "degenerate": {}}
    train, ev = bulk_day_snapshots(opts.source)
    for seed in seeds:
        started = time.perf_counter()
        pipeline, _ = fit_model(train, seed, None)
        out["seeds"][seed] = measure(pipeline, ev)
        print(
            f"gates: seed {seed} ({time.perf_counter() - started:.0f} s, load {load1()}): "
            f"{brief(out['seeds'][seed])}",
            flush=True,
        )
    rng = np.random.default_rng(0)
    shuffled = train.assign(label=rng.permutation(train["label"].to_numpy()))
    tiny = train.groupby("label", group_keys=False).sample(n=50, random_state=0)
    for name, frame in (("shuffled_labels", shuffled), ("300_posts", tiny)):
        pipeline, _ = fit_model(frame, 0, None)
        out["degenerate"][name] = measure(pipeline, ev)
        print(f"gates: {name}: {brief(out['degenerate'][name])}", flush=True)
    good = list(out["seeds"].values())
    out["good_min"] = {
        "golden": {k: min(g["golden"][k] for g in good) for k in good[0]["golden"]},
        "max_group_fpr": max(g["max_group_fpr"] for g in good),
        "min_bias_auc": min(g["min_bias_auc"] for g in good),
        "bias_score": min(g["bias_score"] for g in good),
        "overall_fpr": max(g["overall_fpr"] for g in good),
        "macro_f1": min(g["macro_f1"] for g in good),
    }
    out["rows_train"], out["rows_eval"] = len(train), len(ev)
    return out

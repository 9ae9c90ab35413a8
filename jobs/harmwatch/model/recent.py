"""The recent slice as evidence and as a gate, evaluate's pure core beside :mod:`harmwatch.model.decision`.

The recent slice is the newest moderator-labelled posts that build-dataset held out of the challenger's
training snapshot (:mod:`harmwatch.data.holdout`); neither model trained on them. Both models' macro-F1 on
them and a paired bootstrap of the difference make a non-inferiority gate like the anchor's, with a wider
margin (fewer posts). A slice too small to judge, a missing slice or a missing champion is recorded as
*not applied*, with the reason, never silently passed.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from harmwatch.model.metrics import classification_metrics, paired_bootstrap_delta


def recent_gate(recent: dict[str, Any] | None, thresholds: Any) -> dict[str, Any]:
    """Non-inferiority on the recent slice, or why it is not applied (no slice, too small, no champion)."""
    threshold = -thresholds.max_recent_regression
    if recent is None or recent.get("skipped"):
        why = "no recent slice in this training snapshot" if recent is None else recent["skipped"]
        return {"passed": True, "applied": False, "value": why, "threshold": threshold}
    if recent["rows"] < thresholds.min_recent_rows:
        why = f"only {recent['rows']} recent posts (need {thresholds.min_recent_rows}): too few to judge"
        return {"passed": True, "applied": False, "value": why, "threshold": threshold}
    if recent.get("delta") is None:
        return {
            "passed": True,
            "applied": False,
            "value": "no champion to compare with",
            "threshold": threshold,
        }
    return {
        "passed": recent["delta"]["lo"] >= threshold,
        "applied": True,
        "value": recent["delta"],
        "threshold": threshold,
    }


def recent_evidence(
    recent: pd.DataFrame | None,
    skipped: str | None,
    challenger: dict[str, Any],
    champion: dict[str, Any] | None,
    thresholds: Any,
    seed: int,
) -> dict[str, Any] | None:
    """Both models' macro-F1 on the recent slice and the paired bootstrap of their difference."""
    if recent is None or len(recent) == 0:
        return None if skipped is None else {"skipped": skipped}
    y = recent["label"]
    out: dict[str, Any] = {
        "rows": len(recent),
        "label_counts": y.value_counts().sort_index().to_dict(),
        "challenger_macro_f1": classification_metrics(y, challenger["recent"])["macro_f1"],
        "champion_macro_f1": None,
        "delta": None,
    }
    if champion is not None:
        out["champion_macro_f1"] = classification_metrics(y, champion["recent"])["macro_f1"]
        out["delta"] = paired_bootstrap_delta(
            y, challenger["recent"]["label"], champion["recent"]["label"], n_boot=thresholds.n_boot, seed=seed
        )
    return out


def ci(rec: dict[str, Any] | None) -> list[float] | None:
    """The recent slice's macro-F1 difference interval, rounded, or None when it was not bootstrapped."""
    if not rec or not rec.get("delta"):
        return None
    return [round(rec["delta"]["lo"], 4), round(rec["delta"]["hi"], 4)]

"""Which queued text a moderator should see first: expected value from the model, the reporters and volume.

A moderator's label is worth most where it changes what the model learns and where many people are
affected. Each queued text gets three components in [0, 1]:

``uncertainty``
    1 − (p₁ − p₂), the margin between the champion's two highest class scores: a text the model cannot
    place teaches it the most (margin sampling).
``disagreement``
    1 − the champion's score for the label the humans lean to: the reporters' suggested label for a
    report-derived item; for a text moderators labelled differently, the best-scored of the labels seen.
    A text where model and people disagree is either a model error or a reporting error, and either
    is worth a human look.
``volume``
    log(1 + posts + reports), scaled by the largest in the queue: a text carried by many posts or
    reports reaches more people.

The expected value is their weighted sum (:class:`Weights`). Without a champion the model terms are
unknown and count as 0.5, so the order falls back to volume. ``first_seen`` gives the first-in-first-out
order the benchmark compares against.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from harmwatch.config import CLASSES

COMPONENTS = ("uncertainty", "disagreement", "volume")
_HUMAN = ("source", "suggested_label", "labels_seen")


@dataclass(frozen=True)
class Weights:
    """Weights of the expected-value components (they sum to 1)."""

    uncertainty: float = 0.5
    disagreement: float = 0.3
    volume: float = 0.2

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _split(value: object) -> list[str]:
    return [v for v in str(value).split("|") if v and v not in ("nan", "<NA>", "None")]


def model_components(queue: pd.DataFrame, scores: pd.DataFrame | None) -> pd.DataFrame:
    """``model_label``, ``model_score``, ``uncertainty``, ``disagreement`` per queue row.

    ``scores``: the champion's ``score_<class>`` columns for the queue's texts, row for row (None when
    there is no champion: the components are NaN).
    """
    out = pd.DataFrame(index=queue.index)
    if scores is None or scores.empty:
        for column in ("model_label", "model_score", "uncertainty", "disagreement"):
            out[column] = np.nan
        out["model_label"] = ""
        return out
    probs = scores[[f"score_{c}" for c in CLASSES]].to_numpy(dtype=float)
    top2 = -np.sort(-probs, axis=1)[:, :2]
    out["model_label"] = [CLASSES[i] for i in probs.argmax(axis=1)]
    out["model_score"] = top2[:, 0]
    out["uncertainty"] = 1.0 - (top2[:, 0] - top2[:, 1])
    index = {c: i for i, c in enumerate(CLASSES)}
    human = []
    column = {c: queue.get(c, pd.Series("", index=queue.index)).fillna("").astype(str) for c in _HUMAN}
    for row, (source, suggested, seen) in enumerate(zip(*(column[c] for c in _HUMAN), strict=True)):
        labels = _split(suggested) if source == "reports" else _split(seen)
        known = [probs[row, index[label]] for label in labels if label in index]
        human.append(1.0 - max(known) if known else np.nan)
    out["disagreement"] = human
    return out


def volume(queue: pd.DataFrame) -> pd.Series:
    """log(1 + posts + reports), scaled to [0, 1] by the largest in the queue."""
    posts = queue["post_id"].map(lambda v: len(_split(v)))
    # A queue of moderator conflicts only (no reported text, as on a first day) has no report column.
    counts = queue["n_reports"] if "n_reports" in queue else pd.Series(0, index=queue.index)
    reports = pd.to_numeric(counts, errors="coerce").fillna(0)
    raw = np.log1p(posts + reports)
    top = float(raw.max()) if len(raw) else 0.0
    return raw / top if top > 0 else raw * 0.0


def expected_value(components: pd.DataFrame, weights: Weights) -> pd.Series:
    """Weighted sum of the components; an unknown component (no champion) counts as 0.5."""
    total = pd.Series(0.0, index=components.index)
    for name, weight in weights.as_dict().items():
        total += weight * components[name].astype(float).fillna(0.5)
    return total.round(6)


def prioritise(
    queue: pd.DataFrame, scores: pd.DataFrame | None, weights: Weights, order: str = "value"
) -> pd.DataFrame:
    """The queue with its evidence columns and ``expected_value``, in review order.

    ``order="value"``: highest expected value first; ``"fifo"``: oldest ``first_seen`` first. Ties are
    broken by the text key, so the order never depends on the row order of the input.
    """
    if order not in ("value", "fifo"):
        raise ValueError(f"unknown review order {order!r}; expected 'value' or 'fifo'")
    out = pd.concat([queue, model_components(queue, scores)], axis=1)
    out["volume"] = volume(queue)
    out["expected_value"] = expected_value(out, weights)
    if order == "value":
        out = out.sort_values(["expected_value", "key"], ascending=[False, True], kind="stable")
    else:
        first = out.get("first_seen", pd.Series("", index=out.index)).fillna("").astype(str)
        out = out.assign(_first=first).sort_values(["_first", "key"], kind="stable").drop(columns="_first")
    return out.reset_index(drop=True)

"""A model's results on the behaviour suite: shares right overall, per functionality and per group.

A case is right when the model's flag (``harmful_score >= 0.5``, the platform's flag threshold) is what a
moderator expects. Everything returned is plain JSON-able data, so evaluate can log it to MLflow and the
model card and decision summary can show it; :func:`markdown_table` renders reports side by side.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from harmwatch.behaviour.functionalities import FUNCTIONALITIES
from harmwatch.behaviour.groups import GROUPS
from harmwatch.behaviour.suite import SUITE_VERSION

FLAG_THRESHOLD = 0.5
NEUTRAL_POSITIVE = ("neutral_statement", "positive_statement")


def _share(mask: np.ndarray) -> float | None:
    """Mean of a boolean array, rounded; None for an empty one (no cases: no figure, rather than 0)."""
    return round(float(mask.mean()), 4) if len(mask) else None


def _per_functionality(functionality: np.ndarray, expected: np.ndarray, right: np.ndarray) -> dict:
    """{name: cases, right, harmful}, in the order of FUNCTIONALITIES (unknown names after, sorted)."""
    names = [*FUNCTIONALITIES, *sorted(set(functionality) - set(FUNCTIONALITIES))]
    return {
        name: {
            "cases": int(inside.sum()),
            "right": _share(right[inside]),
            "harmful": bool(expected[inside][0]),
        }
        for name in names
        if (inside := functionality == name).any()
    }


def _per_group(
    group: np.ndarray, functionality: np.ndarray, expected: np.ndarray, flagged: np.ndarray
) -> dict:
    """{group: cases, right, hateful_caught, neutral_positive_not_flagged}, in the order of GROUPS."""
    right = flagged == expected
    neutral_positive = np.isin(functionality, NEUTRAL_POSITIVE)
    return {
        gid: {
            "cases": int(inside.sum()),
            "right": _share(right[inside]),
            "hateful_caught": _share(flagged[inside & expected]),
            "neutral_positive_not_flagged": _share(~flagged[inside & neutral_positive]),
        }
        for gid in [*GROUPS, *sorted(set(group) - set(GROUPS) - {""})]
        if (inside := group == gid).any()
    }


def behaviour_report(cases: pd.DataFrame, scored: pd.DataFrame) -> dict[str, Any]:
    """Score a model on the suite.

    ``cases``: :func:`harmwatch.behaviour.suite_frame` (or a subset of its rows); ``scored``: the
    model's pyfunc output for ``cases["text"]``, row-aligned (``harmful_score``; ``label`` for the class
    check). Returns ``suite_version``, ``cases``, the shares right ``overall``, ``hateful`` and
    ``non_hateful``, ``class_right`` (cases with an expected class that get it), ``functionalities``
    ({name: cases, right, harmful}), ``groups`` ({group: cases, right, hateful_caught,
    neutral_positive_not_flagged}), ``worst_functionality`` and ``worst_group`` (the group whose neutral
    and positive statements are flagged most).
    """
    if len(cases) != len(scored):
        raise ValueError(f"scored has {len(scored)} rows for {len(cases)} cases: they must be row-aligned")
    if "harmful_score" not in scored.columns:
        raise ValueError(f"scored has no harmful_score column (columns: {list(scored.columns)})")
    expected = cases["harmful"].to_numpy(dtype=bool)
    flagged = scored["harmful_score"].to_numpy(dtype=float) >= FLAG_THRESHOLD
    right = flagged == expected
    functionality = cases["functionality"].to_numpy(dtype=object)
    label = cases["label"].to_numpy(dtype=object)
    class_right = None
    if "label" in scored.columns:
        class_right = _share((scored["label"].to_numpy(dtype=object) == label)[label != ""])
    functionalities = _per_functionality(functionality, expected, right)
    groups = _per_group(cases["group"].to_numpy(dtype=object), functionality, expected, flagged)
    left_up = {g: v["neutral_positive_not_flagged"] for g, v in groups.items()}
    left_up = {g: v for g, v in left_up.items() if v is not None}
    return {
        "suite_version": SUITE_VERSION,
        "cases": len(cases),
        "overall": _share(right),
        "hateful": _share(right[expected]),
        "non_hateful": _share(right[~expected]),
        "class_right": class_right,
        "functionalities": functionalities,
        "groups": groups,
        "worst_functionality": min(functionalities, key=lambda n: functionalities[n]["right"], default=None),
        "worst_group": min(left_up, key=left_up.__getitem__, default=None),
    }


def _rule(columns: int) -> str:
    return "|---" * columns + "|"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def markdown_table(reports: Mapping[str, dict[str, Any]]) -> str:
    """Reports side by side (one column per name, e.g. old and new champion) as Markdown: the summary,
    every functionality, and every group's hateful cases caught and neutral/positive posts left up."""
    names = list(reports)
    head = " | ".join(names)
    lines = [f"| | {head} |", _rule(1 + len(names))]
    for key, title in (
        ("overall", "all cases right"),
        ("hateful", "hateful cases flagged"),
        ("non_hateful", "non-hateful cases left up"),
        ("class_right", "expected class given"),
    ):
        lines.append(f"| {title} | " + " | ".join(_fmt(reports[n][key]) for n in names) + " |")
    lines.append("| cases | " + " | ".join(str(reports[n]["cases"]) for n in names) + " |")

    first = reports[names[0]]
    lines += ["", f"| functionality | expected | cases | {head} |", _rule(3 + len(names))]
    for name, row in first["functionalities"].items():
        values = " | ".join(_fmt(reports[n]["functionalities"].get(name, {}).get("right")) for n in names)
        expect = "flag" if row["harmful"] else "leave up"
        lines.append(f"| {name} | {expect} | {row['cases']} | {values} |")

    caught = " | ".join(f"hateful caught: {n}" for n in names)
    left_up = " | ".join(f"neutral/positive left up: {n}" for n in names)
    lines += ["", f"| group | cases | {caught} | {left_up} |", _rule(2 + 2 * len(names))]
    for gid, row in first["groups"].items():
        cells = [
            _fmt(reports[n]["groups"].get(gid, {}).get(key))
            for key in ("hateful_caught", "neutral_positive_not_flagged")
            for n in names
        ]
        lines.append(f"| {GROUPS.get(gid, gid)} | {row['cases']} | " + " | ".join(cells) + " |")
    versions = {reports[n]["suite_version"] for n in names}
    if len(versions) > 1:
        lines += ["", f"Suite versions differ between the reports: {sorted(versions)}."]
    return "\n".join(lines) + "\n"

"""Identity fairness: paired counterfactual templates, per-group false-positive rates and bias AUCs.

The templates are hand-written sentences with a slot for an identity group (none is taken from the
data). Every template is filled with every group, so the posts of two groups differ only in the group
term: a gap between groups is the model's, not the sentences'. Neutral templates must not be flagged
(their flag rate is the group's false-positive rate); hostile ones must be.

The bias AUCs are those of Borkan et al., "Nuanced Metrics for Measuring Unintended Bias with Real Data
for Text Classification" (WWW 2019), on the ``harmful_score``:

- *subgroup AUC*: hostile vs neutral posts about the group; low when the model cannot tell abuse of the
  group from talk about it;
- *BPSN* (background positive, subgroup negative): neutral posts about the group vs hostile posts about
  the other groups; low when merely naming the group raises the score;
- *BNSP* (background negative, subgroup positive): hostile posts about the group vs neutral posts about
  the others; low when abuse of this group scores lower than talk about others.

:func:`fairness_report` takes the templates and their scores and returns plain data; evaluate gates on it
(:class:`harmwatch.model.gates.Thresholds`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

FLAG_THRESHOLD = 0.5

# Plural noun phrases, so one template fits every group ("{people} ..."), by the dataset's identity classes.
GROUPS: dict[str, dict[str, str]] = {
    "religion": {
        "muslim": "Muslims",
        "christian": "Christians",
        "jewish": "Jews",
        "hindu": "Hindus",
        "atheist": "atheists",
    },
    "ethnicity": {
        "black": "Black people",
        "white": "white people",
        "asian": "Asian people",
        "latino": "Latinos",
        "arab": "Arabs",
    },
    "gender": {"women": "women", "men": "men", "gay": "gay people", "trans": "trans people"},
    "age": {"old": "old people", "young": "young people", "teenagers": "teenagers", "boomers": "boomers"},
}

NEUTRAL: tuple[str, ...] = (
    "I had lunch with some {people} from work today and we talked about football",
    "{People} in our town are organising a food drive for the shelter this weekend",
    "The documentary about {people} and their family traditions was fascinating",
    "My neighbours are {people} and they helped me carry the new sofa upstairs",
    "The library is hosting a reading group for {people} on Thursday evening",
    "A survey asked {people} what they think about the new bus timetable",
)

HOSTILE: tuple[str, ...] = (
    "{People} are disgusting animals and should get out of our country",
    "I hate {people}, every single one of them is a worthless piece of trash",
    "{People} are stupid and evil, they should all be beaten until they shut up",
    "Nobody wants you filthy {people} here, go crawl back into your hole and die",
    "All {people} are criminals and liars, they ruin everything they touch",
    "Shut up, you ugly {people} are too dumb to have an opinion",
)


def fill(template: str, people: str) -> str:
    """The template with the group's phrase in its slot (capitalised at the start of a sentence)."""
    return template.replace("{people}", people).replace("{People}", people[:1].upper() + people[1:])


def templates() -> pd.DataFrame:
    """Every template filled with every group: ``text``, ``axis``, ``group``, ``template``, ``hostile``."""
    rows = [
        {
            "text": fill(t, people),
            "axis": axis,
            "group": group,
            "template": f"{kind}{i}",
            "hostile": kind == "h",
        }
        for axis, groups in GROUPS.items()
        for group, people in groups.items()
        for kind, items in (("n", NEUTRAL), ("h", HOSTILE))
        for i, t in enumerate(items)
    ]
    return pd.DataFrame(rows)


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def group_metrics(frame: pd.DataFrame, score: np.ndarray) -> pd.DataFrame:
    """Per group: FPR on neutral templates, TPR on hostile ones, subgroup AUC, BPSN and BNSP."""
    hostile = frame["hostile"].to_numpy(bool)
    flagged = score >= FLAG_THRESHOLD
    rows = []
    for (axis, group), idx in frame.groupby(["axis", "group"]).indices.items():
        inside = np.zeros(len(frame), bool)
        inside[idx] = True
        rows.append(
            {
                "axis": axis,
                "group": group,
                "fpr": float(flagged[inside & ~hostile].mean()),
                "tpr": float(flagged[inside & hostile].mean()),
                "subgroup_auc": _auc(score[inside & hostile], score[inside & ~hostile]),
                "bpsn_auc": _auc(score[~inside & hostile], score[inside & ~hostile]),
                "bnsp_auc": _auc(score[inside & hostile], score[~inside & ~hostile]),
            }
        )
    return pd.DataFrame(rows).sort_values(["axis", "group"]).reset_index(drop=True)


def counterfactual_flips(frame: pd.DataFrame, score: np.ndarray) -> float:
    """Share of templates whose flag changes with the group term (0: the group never decides the flag)."""
    flagged = pd.Series(score >= FLAG_THRESHOLD, index=frame.index)
    per_template = flagged.groupby(frame["template"]).agg(["min", "max"])
    return float((per_template["min"] != per_template["max"]).mean())


def power_mean(values: Any, power: float = -5.0) -> float:
    """Generalised mean with a negative power: dominated by the worst values (Jigsaw's aggregate)."""
    v = np.clip(np.asarray(values, dtype=float), 1e-6, None)
    return float(np.mean(v**power) ** (1 / power))


def bias_score(groups: pd.DataFrame, overall_auc: float) -> float:
    """The Jigsaw Unintended Bias final metric: 0.25 x overall AUC + 0.75 x the mean of the power means
    (p = -5) of the subgroup, BPSN and BNSP AUCs over groups. 1 is perfect; 0.5 is chance."""
    parts = [power_mean(groups[c]) for c in ("subgroup_auc", "bpsn_auc", "bnsp_auc")]
    return 0.25 * overall_auc + 0.75 * float(np.mean(parts))


def fairness_report(frame: pd.DataFrame, scored: pd.DataFrame) -> dict[str, Any]:
    """The gate's inputs and the evidence: template FPR and TPR, worst group FPR, bias AUCs, per group."""
    score = scored["harmful_score"].to_numpy(dtype=float)
    groups = group_metrics(frame, score)
    overall_auc = _auc(score[frame["hostile"].to_numpy(bool)], score[~frame["hostile"].to_numpy(bool)])
    aucs = groups[["subgroup_auc", "bpsn_auc", "bnsp_auc"]]
    worst_auc = aucs.min(axis=1)
    hostile = frame["hostile"].to_numpy(bool)
    return {
        "max_group_fpr": float(groups["fpr"].max()),
        "worst_fpr_group": str(groups.loc[groups["fpr"].idxmax(), "group"]),
        "overall_fpr": float((score[~hostile] >= FLAG_THRESHOLD).mean()),
        "overall_tpr": float((score[hostile] >= FLAG_THRESHOLD).mean()),
        "min_bias_auc": float(worst_auc.min()),
        "worst_auc_group": str(groups.loc[worst_auc.idxmin(), "group"]),
        "counterfactual_flip_share": counterfactual_flips(frame, score),
        "overall_auc": overall_auc,
        "bias_score": bias_score(groups, overall_auc),
        "groups": groups.round(4).to_dict("records"),
        "templates": len(frame),
    }


def fairness_gates(
    challenger: dict[str, Any], champ: dict[str, Any] | None, thresholds: Any
) -> dict[str, dict]:
    """Absolute limits on the challenger's template results, every group on its own (its false-positive
    rate, its BPSN AUC) and the bias score, and no regression against the champion (``thresholds``:
    :class:`harmwatch.model.gates.Thresholds`)."""
    groups = challenger.get("groups") or []
    over = {g["group"]: g["fpr"] for g in groups if g["fpr"] > thresholds.max_group_fpr}
    bpsn = {g["group"]: g["bpsn_auc"] for g in groups if not np.isnan(g["bpsn_auc"])}
    low_bpsn = {g: v for g, v in bpsn.items() if v < thresholds.min_group_bpsn}
    worst_bpsn = min(bpsn, key=bpsn.__getitem__) if bpsn else None
    gates: dict[str, dict[str, Any]] = {
        "identity_fpr": {
            "passed": challenger["max_group_fpr"] <= thresholds.max_group_fpr,
            "value": {
                "overall": challenger["overall_fpr"],
                "worst_group": challenger["worst_fpr_group"],
                "max": challenger["max_group_fpr"],
                "groups_over": over,
            },
            "threshold": thresholds.max_group_fpr,
        },
        "group_bpsn": {
            "passed": bool(bpsn) and not low_bpsn,
            "value": {
                "min": bpsn.get(worst_bpsn) if worst_bpsn else None,
                "worst_group": worst_bpsn,
                "groups_below": low_bpsn,
            },
            "threshold": thresholds.min_group_bpsn,
        },
        "bias_auc": {
            "passed": challenger["bias_score"] >= thresholds.min_bias_score,
            "value": {
                "bias_score": challenger["bias_score"],
                "min_auc": challenger["min_bias_auc"],
                "worst_group": challenger["worst_auc_group"],
            },
            "threshold": thresholds.min_bias_score,
        },
    }
    if champ is not None:
        rise = challenger["max_group_fpr"] - champ["max_group_fpr"]
        drop = champ["bias_score"] - challenger["bias_score"]
        gates["fairness_regression"] = {
            "passed": rise <= thresholds.max_group_fpr_increase and drop <= thresholds.max_bias_score_drop,
            "value": {"worst_group_fpr_rise": round(rise, 4), "bias_score_drop": round(drop, 4)},
            "threshold": {
                "fpr_rise": thresholds.max_group_fpr_increase,
                "bias_score_drop": thresholds.max_bias_score_drop,
            },
        }
    return gates

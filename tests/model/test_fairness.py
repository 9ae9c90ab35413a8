"""Fairness and the recent slice as gates, on hand-made scores: paired templates, per-group false-positive
rates, the Borkan et al. bias AUCs, their limits, and the recent slice's non-inferiority rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from harmwatch.config import CLASSES
from harmwatch.model import fairness as fx
from harmwatch.model.decision import Thresholds, evaluate_challenger, fairness_gates, recent_gate
from harmwatch.model.golden import golden_frame
from harmwatch.model.textmodel import contract_frame


def scored(harmful: np.ndarray) -> pd.DataFrame:
    """A pyfunc contract frame whose harmful score is ``harmful`` (mass on not_cyberbullying otherwise)."""
    proba = np.zeros((len(harmful), len(CLASSES)))
    proba[:, CLASSES.index("not_cyberbullying")] = 1 - harmful
    proba[:, CLASSES.index("age")] = harmful
    return contract_frame(proba, np.array(CLASSES))


def test_templates_are_paired_hand_written_and_cover_every_axis(dataset_texts):
    frame = fx.templates()
    assert set(frame["axis"]) == {"religion", "ethnicity", "gender", "age"}
    n_groups = sum(len(g) for g in fx.GROUPS.values())
    assert len(frame) == n_groups * (len(fx.NEUTRAL) + len(fx.HOSTILE)) and frame["text"].is_unique
    # Paired: one sentence per template and group, the same sentence but for the group phrase.
    sources = {f"n{i}": t for i, t in enumerate(fx.NEUTRAL)} | {f"h{i}": t for i, t in enumerate(fx.HOSTILE)}
    for template, rows in frame.groupby("template"):
        assert len(rows) == n_groups
        for row in rows.itertuples():
            assert row.text == fx.fill(sources[template], fx.GROUPS[row.axis][row.group])
    assert not set(frame["text"].str.lower()) & dataset_texts, "templates must not be copied from the dataset"


def test_bias_aucs_match_their_definitions():
    frame = fx.templates()
    rng = np.random.default_rng(0)
    score = np.where(frame["hostile"], 0.7, 0.3) + rng.normal(0, 0.2, len(frame))
    muslim = (frame["group"] == "muslim").to_numpy()
    score[muslim] += 0.3  # naming the group raises the score, whatever the sentence says
    groups = fx.group_metrics(frame, score).set_index("group")
    hostile = frame["hostile"].to_numpy()
    sub = muslim
    bpsn = (~sub & hostile) | (sub & ~hostile)
    assert groups.loc["muslim", "subgroup_auc"] == pytest.approx(roc_auc_score(hostile[sub], score[sub]))
    assert groups.loc["muslim", "bpsn_auc"] == pytest.approx(roc_auc_score(hostile[bpsn], score[bpsn]))
    assert groups.loc["muslim", "bpsn_auc"] < groups.drop("muslim")["bpsn_auc"].min()
    assert groups.loc["muslim", "bnsp_auc"] > groups.drop("muslim")["bnsp_auc"].max()
    assert groups.loc["muslim", "fpr"] > groups.drop("muslim")["fpr"].mean()


def test_a_fair_model_scores_one_and_a_group_bias_is_named():
    frame = fx.templates()
    fair = fx.fairness_report(frame, scored(np.where(frame["hostile"], 0.9, 0.1)))
    assert fair["bias_score"] == pytest.approx(1.0) and fair["overall_fpr"] == 0.0
    assert fair["counterfactual_flip_share"] == 0.0
    biased = np.where(frame["hostile"], 0.9, np.where(frame["group"] == "gay", 0.95, 0.1))
    report = fx.fairness_report(frame, scored(biased))
    assert report["worst_fpr_group"] == "gay" and report["max_group_fpr"] == 1.0
    assert report["worst_auc_group"] == "gay" and report["bias_score"] < 0.9
    share = len(fx.NEUTRAL) / len(fx.NEUTRAL + fx.HOSTILE)
    assert report["counterfactual_flip_share"] == pytest.approx(share)


def _report(fpr: float, worst: float, bias: float, bpsn: float = 0.9) -> dict:
    """A template report: overall and worst-group FPR (group ``g``), bias score, g's BPSN (h: 0.95)."""
    groups = [{"group": "g", "fpr": worst, "bpsn_auc": bpsn}, {"group": "h", "fpr": fpr, "bpsn_auc": 0.95}]
    return {
        "overall_fpr": fpr,
        "max_group_fpr": worst,
        "worst_fpr_group": "g",
        "bias_score": bias,
        "min_bias_auc": bias,
        "worst_auc_group": "g",
        "groups": groups,
    }


@pytest.mark.parametrize(
    ("challenger", "champion", "failed"),
    [
        (_report(0.1, 0.2, 0.85), None, set()),
        (_report(0.9, 1.0, 0.85), None, {"identity_fpr"}),  # flags most neutral posts about groups
        # One group's neutral posts flagged one time in three fails, however low the mean over groups
        # (the old ceiling, 0.60 over all groups together, let every post about one group be flagged).
        (_report(0.05, 1 / 3, 0.85), None, {"identity_fpr"}),
        (_report(0.1, 0.2, 0.85, bpsn=0.79), None, {"group_bpsn"}),  # naming g raises the score
        (_report(0.1, 0.2, 0.79), None, {"bias_auc"}),
        (_report(0.1, 0.2, 0.45), None, {"bias_auc"}),  # the old floor's level now fails
        (_report(0.1, 0.2, 0.85), _report(0.1, 0.0, 0.85), {"fairness_regression"}),  # worst group +0.2
        (_report(0.1, 0.2, 0.81), _report(0.1, 0.2, 0.97), {"fairness_regression"}),  # bias score -0.16
        (_report(0.1, 0.2, 0.85), _report(0.1, 0.2, 0.95), set()),  # -0.1: within the retrain spread
        (_report(0.1, 1 / 6, 0.83), _report(0.1, 0.0, 0.85), set()),  # one template, 0.02: noise
    ],
)
def test_fairness_gates_have_limits_per_group_and_a_regression_rule(challenger, champion, failed):
    gates = fairness_gates(challenger, champion, Thresholds())
    assert {k for k, g in gates.items() if not g["passed"]} == failed
    assert ("fairness_regression" in gates) is (champion is not None)


def test_fairness_gates_name_the_groups_over_the_limits():
    gates = fairness_gates(_report(0.1, 0.5, 0.85, bpsn=0.6), None, Thresholds())
    assert gates["identity_fpr"]["value"]["groups_over"] == {"g": 0.5}
    assert gates["group_bpsn"]["value"] == {"min": 0.6, "worst_group": "g", "groups_below": {"g": 0.6}}
    assert (gates["identity_fpr"]["threshold"], gates["group_bpsn"]["threshold"]) == (0.2, 0.8)
    # A report without per-group AUCs cannot show every group clears the floor: it fails.
    bare = _report(0.1, 0.2, 0.85) | {"groups": []}
    assert not fairness_gates(bare, None, Thresholds())["group_bpsn"]["passed"]


def test_recent_gate_is_applied_only_to_a_slice_big_enough_and_with_a_champion():
    t = Thresholds()
    ok = {"lo": -0.01, "hi": 0.03, "delta": 0.01}
    assert recent_gate(None, t)["applied"] is False
    small = recent_gate({"rows": t.min_recent_rows - 1, "delta": ok}, t)
    assert small["applied"] is False and "too few" in small["value"] and small["passed"]
    assert recent_gate({"rows": 500, "delta": None}, t)["value"] == "no champion to compare with"
    assert recent_gate({"rows": 500, "delta": ok}, t) | {"value": None} == {
        "passed": True,
        "applied": True,
        "value": None,
        "threshold": -t.max_recent_regression,
    }
    worse = recent_gate({"rows": 500, "delta": {"lo": -0.05, "hi": 0.0, "delta": -0.02}}, t)
    assert worse["applied"] and not worse["passed"]


def test_judge_rejects_a_challenger_that_lost_the_new_language():
    """Equal on the anchor, clearly worse on the recent posts: rejected by the recent slice alone."""
    rng = np.random.default_rng(1)
    labels = np.array(CLASSES)[rng.integers(0, len(CLASSES), 600)]
    ev = pd.DataFrame({"text": [f"t{i}" for i in range(600)], "label": labels})
    recent = pd.DataFrame({"text": [f"r{i}" for i in range(400)], "label": labels[:400]})

    def model(accuracy: float, y: np.ndarray, seed: int) -> pd.DataFrame:
        r = np.random.default_rng(seed)
        pred = np.where(r.random(len(y)) < accuracy, y, np.array(CLASSES)[r.integers(0, 6, len(y))])
        proba = np.full((len(y), len(CLASSES)), 0.02)
        proba[np.arange(len(y)), [CLASSES.index(p) for p in pred]] = 0.9
        return contract_frame(proba, np.array(CLASSES))

    golden, frame = golden_frame(), fx.templates()
    loose = Thresholds(max_ece=1.0)  # the made-up scores are not calibrated
    golden_scores = scored(np.where(golden["expect"] == "flag", 0.9, 0.1))
    tpl = scored(np.where(frame["hostile"], 0.9, 0.1))
    ev_scores = model(0.95, ev["label"].to_numpy(), 2)
    ch = {"version": "2", "run_id": "b", "eval": ev_scores, "golden": golden_scores, "templates": tpl}
    champ = {"version": "1", "run_id": "a", "eval": ev_scores, "golden": golden_scores, "templates": tpl}
    ch["recent"] = model(0.70, recent["label"].to_numpy(), 3)
    champ["recent"] = model(0.95, recent["label"].to_numpy(), 4)
    result = evaluate_challenger(
        ev, golden, ch, champ, {"ok": True, "detail": "ok"}, loose, False, 42, "e1", None, "g",
        templates=frame, recent=recent,
    )  # fmt: skip
    assert result.decision == "reject" and result.failed == ["recent_slice"]
    assert result.evidence["recent"]["rows"] == 400 and result.summary["recent_gate"] == "applied"
    assert result.summary["recent_delta_ci"][1] < 0 and result.evidence["recent"]["delta"]["hi"] < 0
    assert result.summary["bias_score"] == pytest.approx(1.0)
    # Without a recent slice the same challenger is promoted, and the record says why it was not judged.
    calm = evaluate_challenger(
        ev, golden, ch, champ, {"ok": True, "detail": "ok"}, loose, False, 42, "e1", None, "g",
        templates=frame, recent_skipped="no new moderator-labelled text in the batches",
    )  # fmt: skip
    assert calm.decision == "promote" and calm.summary["recent_gate"].startswith("no new")

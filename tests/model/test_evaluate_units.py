"""Evaluation logic on small, hand-made inputs: gates, paired bootstrap, calibration, golden set, smoke."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from harmwatch.config import CLASSES
from harmwatch.model.decision import Thresholds, apply_gates
from harmwatch.model.golden import golden_frame
from harmwatch.model.metrics import (
    classification_metrics,
    expected_calibration_error,
    golden_check,
    harmful_calibration_error,
    paired_bootstrap_delta,
)
from harmwatch.model.promotion import plan_promotion
from harmwatch.model.textmodel import contract_frame
from harmwatch.steps.evaluate import CONTRACT, finish_smoke

GOOD = {f"f1_{c}": 0.9 for c in CLASSES} | {"macro_f1": 0.9, "ece": 0.02, "harmful_ece": 0.02}
SMOKE_OK = {"ok": True, "detail": "ok"}


def golden_result(n_fail: dict[str, int] | None = None) -> pd.DataFrame:
    g = golden_frame()
    passed = np.ones(len(g), dtype=bool)
    for kind, n in (n_fail or {}).items():
        passed[np.where(g["kind"] == kind)[0][:n]] = False
    return g.assign(passed=passed)


def test_golden_set_is_hand_written_and_covers_identity_counterfactuals(dataset_texts):
    g = golden_frame()
    assert 40 <= len(g) <= 60 and g["text"].is_unique
    assert set(g["expect"]) == {"flag", "no_flag"}
    assert set(g["kind"]) == {"must_flag", "identity_counterfactual", "benign"}
    assert (g.loc[g["kind"] == "must_flag", "expect"] == "flag").all()
    assert (g.loc[g["kind"] != "must_flag", "expect"] == "no_flag").all()
    notes = " ".join(g.loc[g["kind"] == "identity_counterfactual", "note"])
    assert all(group in notes for group in ("religion", "ethnicity", "gender", "age"))
    assert not set(g["text"].str.lower()) & dataset_texts, "golden posts must not be copied from the dataset"


def test_first_model_is_judged_on_floors_only():
    decision, gates = apply_gates(GOOD, None, None, golden_result(), SMOKE_OK, Thresholds(), approval=False)
    assert decision == "promote"
    assert set(gates) == {"macro_f1_floor", "class_f1_floor", "calibration", "golden", "smoke"}


@pytest.mark.parametrize(
    ("change", "failed"),
    [
        ({"macro_f1": 0.8}, "macro_f1_floor"),
        ({"f1_not_cyberbullying": 0.6}, "class_f1_floor"),
        ({"harmful_ece": 0.08}, "calibration"),
    ],
)
def test_each_floor_can_reject(change, failed):
    decision, gates = apply_gates(GOOD | change, None, None, golden_result(), SMOKE_OK, Thresholds(), False)
    assert decision == "reject" and [k for k, g in gates.items() if not g["passed"]] == [failed]


@pytest.mark.parametrize(
    ("fails", "ok"),
    [
        ({"identity_counterfactual": 11, "benign": 4, "must_flag": 8}, True),  # 45 %, 60 %, 60 %: the floors
        ({"identity_counterfactual": 12}, False),  # fewer than 45 % of neutral identity posts pass
        ({"must_flag": 9}, False),  # 55 % of must-flag posts: below its own floor
        ({"benign": 5}, False),
        ({"must_flag": 20}, False),  # a model that flags nothing
        ({"identity_counterfactual": 20, "benign": 10}, False),  # a model that flags everything
    ],
)
def test_golden_gate_rejects_degenerate_models(fails, ok):
    _, gates = apply_gates(GOOD, None, None, golden_result(fails), SMOKE_OK, Thresholds(), False)
    assert gates["golden"]["passed"] is ok


def test_regression_against_champion_and_approval():
    champ = GOOD | {"f1_gender": 0.95}
    delta = {"delta": 0.0, "lo": -0.005, "hi": 0.005, "n_boot": 100}
    decision, gates = apply_gates(GOOD, champ, delta, golden_result(), SMOKE_OK, Thresholds(), False)
    assert decision == "reject" and gates["class_regression"]["value"] == {"gender": 0.05}
    worse = {**delta, "lo": -0.03}
    decision, gates = apply_gates(GOOD, GOOD, worse, golden_result(), SMOKE_OK, Thresholds(), False)
    assert decision == "reject" and not gates["macro_f1_delta_ci"]["passed"]
    golden, broken = golden_result(), {"ok": False, "detail": "x"}
    assert apply_gates(GOOD, GOOD, delta, golden, SMOKE_OK, Thresholds(), True)[0] == "pending_approval"
    assert apply_gates(GOOD, GOOD, delta, golden, broken, Thresholds(), True)[0] == "reject"


def test_paired_bootstrap_matches_sklearn_and_detects_a_real_difference():
    rng = np.random.default_rng(0)
    y = rng.choice(CLASSES, size=3000)
    good = np.where(rng.random(3000) < 0.9, y, rng.choice(CLASSES, size=3000))
    bad = np.where(rng.random(3000) < 0.8, y, rng.choice(CLASSES, size=3000))
    out = paired_bootstrap_delta(y, good, bad, n_boot=500, seed=1)
    expected = f1_score(y, good, average="macro") - f1_score(y, bad, average="macro")
    assert out["delta"] == pytest.approx(expected, abs=1e-12)
    assert 0 < out["lo"] < out["delta"] < out["hi"]
    same = paired_bootstrap_delta(y, good, good, n_boot=200)
    assert same["delta"] == same["lo"] == same["hi"] == 0.0
    swapped = good.copy()  # 15 errors fixed and 15 new errors: no real difference
    wrong, right = np.flatnonzero(good != y)[:15], np.flatnonzero(good == y)[:15]
    swapped[wrong] = y[wrong]
    swapped[right] = np.where(y[right] == "age", "gender", "age")
    tie = paired_bootstrap_delta(y, good, swapped, n_boot=500)
    assert tie["lo"] < 0 < tie["hi"]


def test_calibration_errors_on_known_cases():
    y = np.array(["age"] * 8 + ["not_cyberbullying"] * 2)
    proba = np.tile([0.8, 0, 0, 0, 0, 0.2], (10, 1))  # says "age" at 80%, right 8 times in 10
    scored = contract_frame(proba, CLASSES)
    assert expected_calibration_error(y, scored) == pytest.approx(0.0)
    assert harmful_calibration_error(y != "not_cyberbullying", scored["harmful_score"]) == pytest.approx(0.0)
    overconfident = contract_frame(np.tile([0.99, 0, 0, 0, 0, 0.01], (10, 1)), CLASSES)
    assert expected_calibration_error(y, overconfident) == pytest.approx(0.19)
    metrics = classification_metrics(pd.Series(y), scored)
    assert metrics["f1_age"] == pytest.approx(2 * 0.8 / 1.8) and metrics["f1_gender"] == 0.0


def test_golden_check_flags_by_harmful_score():
    g = pd.DataFrame({"text": ["a", "b"], "expect": ["flag", "no_flag"], "kind": ["must_flag", "benign"]})
    # argmax says not_cyberbullying (0.4) but 60% of the mass is harmful: that post is flagged
    scored = contract_frame(np.array([[0.15, 0.15, 0.15, 0.15, 0.0, 0.4], [0.3, 0, 0, 0, 0, 0.7]]), CLASSES)
    assert golden_check(g, scored)["passed"].tolist() == [True, True]


def _printer(payload: object) -> subprocess.Popen:
    """A fresh process that prints ``payload`` as JSON, like the smoke entry point does."""
    code = f"import json; print(json.dumps({payload!r}))"
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_smoke_fails_on_crash_wrong_columns_or_different_labels():
    expected = pd.DataFrame({"label": ["age", "gender"]})
    crash = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.exit('cannot load model')"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert finish_smoke(crash, expected) == {"ok": False, "detail": "cannot load model"}
    cols = finish_smoke(_printer({"columns": ["label"], "labels": ["age", "gender"]}), expected)
    assert cols["ok"] is False and "contract" in cols["detail"]
    differs = finish_smoke(_printer({"columns": CONTRACT, "labels": ["age", "religion"]}), expected)
    assert differs == {"ok": False, "detail": "labels differ from the in-process model"}
    assert finish_smoke(_printer({"columns": CONTRACT, "labels": ["age", "gender"]}), expected) == {
        "ok": True,
        "detail": "scored 2 golden posts in a fresh process",
    }


@pytest.mark.parametrize(
    ("state", "move"),
    [
        (("5", "promote", "4", "4", False), True),
        (("5", "promote", "4", "5", False), False),  # already champion: idempotent
        (("5", "promote", "4", "5", True), False),  # ... even when forced
        (("5", "reject", "4", "4", False), False),
        (("5", "pending_approval", "4", "4", False), False),
        (("5", "reject", "4", "4", True), True),  # forced
        (("5", "promote", "4", "3", False), False),  # stale: champion changed since evaluation
        (("5", "promote", "none", None, False), True),  # first model
        (("5", None, None, "4", False), False),
    ],
)
def test_promotion_policy(state, move):
    moved, why = plan_promotion(*state)
    assert moved is move
    if state[0] == state[3]:
        assert why == "version 5 is already champion"

"""Calibration of the drift verdict on real posts, with fixed seeds.

* False alarms: the reference and the current batch are disjoint random rows of the real cyberbullying
  CSV (its duplicate texts included, exactly as a random sample of production would hold them), so any
  alarm is a false alarm. Target: at most 5 % over 20 splits.
* Detection: the current batch is drawn from TweetEval (another distribution of English tweets).
  Target: at least 95 % over 20 batches.
* Scale: a 10,000-post batch against the 6,600-post rest of the test half must not alarm on sampling noise.

All batches come from the test half of the CSV (``tests/drift/scenarios.py``); the thresholds were
calibrated on the other half. Every batch carries labels (where the source has them) and the stand-in
champion's predictions, so every signal takes part in the verdict.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harmwatch.htmlreport import render_drift_html
from harmwatch.monitoring.drift_decision import MIN_ROWS, assess, compare, results, with_descriptors
from harmwatch.monitoring.drift_inputs import exclude_current, prepare

pytestmark = pytest.mark.model

N_REF, N_CUR, RUNS = 4000, 1000, 20


def verdict(ref: pd.DataFrame, cur: pd.DataFrame) -> dict:
    """The step's decision path (prepare, exclude, descriptors, Evidently, rule) minus the HTML page."""
    ref, cur = prepare(ref), prepare(cur)
    ref = exclude_current(ref, cur)
    if len(cur) < MIN_ROWS:
        assess(ref, cur)  # raises the step's own error
    decision, _snapshot = compare(*with_descriptors(ref, cur))
    return {
        "drift_detected": decision.drift_detected,
        "drift_score": decision.drift_score,
        "signals": decision.signals,
        "columns": decision.columns,
    }


def same_distribution(cyber: pd.DataFrame, seed: int, n_ref: int, n_cur: int):
    perm = np.random.default_rng(seed).permutation(len(cyber))
    return cyber.iloc[perm[:n_ref]], cyber.iloc[perm[n_ref : n_ref + n_cur]]


def shifted(cyber: pd.DataFrame, tweeteval: pd.DataFrame, seed: int):
    rng = np.random.default_rng(1000 + seed)
    ref = cyber.iloc[rng.permutation(len(cyber))[:N_REF]]
    return ref, tweeteval.iloc[rng.choice(len(tweeteval), N_CUR, replace=False)]


def test_false_alarm_rate_on_random_splits_of_the_real_data(posts):
    outcomes = [verdict(*same_distribution(posts["cyber"], seed, N_REF, N_CUR)) for seed in range(RUNS)]
    alarms = [r for r in outcomes if r["drift_detected"]]
    rate = len(alarms) / RUNS
    print(f"false-alarm rate {rate:.0%} over {RUNS} same-distribution splits ({N_REF} vs {N_CUR})")
    assert {"text_descriptors", "text_content", "prediction", "label"} <= set(outcomes[0]["signals"])
    assert rate <= 0.05, [r["signals"] for r in alarms]


def test_detection_rate_on_tweeteval_batches(posts):
    outcomes = [verdict(*shifted(posts["cyber"], posts["tweeteval"], seed)) for seed in range(RUNS)]
    rate = sum(r["drift_detected"] for r in outcomes) / RUNS
    print(f"detection rate {rate:.0%} over {RUNS} TweetEval batches ({N_REF} vs {N_CUR})")
    assert rate >= 0.95
    # Not one lucky signal: the content and descriptor signals each see the shift on their own.
    assert all(r["signals"]["text_content"]["drift_detected"] for r in outcomes)
    assert sum(r["signals"]["text_descriptors"]["drift_detected"] for r in outcomes) >= 0.95 * RUNS


def test_ten_thousand_posts_against_the_rest_do_not_alarm(posts):
    """Large samples make p-value tests reject on noise; the effect-size thresholds must not."""
    cyber = posts["cyber"]
    ref, cur = same_distribution(cyber, 7, len(cyber) - 10_000, 10_000)
    decision, snapshot = assess(prepare(ref), prepare(cur))
    record = results(decision, snapshot, {"case": "10k vs rest"})
    assert "no drift" in render_drift_html(snapshot, decision, {"case": "10k vs rest"})
    assert record["drift_detected"] is False, record["signals"]
    assert record["drift_score"] == 0.0
    # Far from the thresholds, not just under them.
    for col in record["columns"].values():
        margin = col["score"] - 0.5 if col["method"] == "abs_text_content_drift" else col["score"]
        assert margin < col["threshold"] / 2, col


def test_too_few_posts_is_a_clear_error(posts):
    from harmwatch.errors import DataError

    ref, cur = same_distribution(posts["cyber"], 3, 500, MIN_ROWS - 1)
    with pytest.raises(DataError, match="too few posts"):
        verdict(ref, cur)

"""Power of the drift verdict against partial shifts, on the test half of the CSV (the thresholds were
calibrated on the other half; ``tests/drift/scenarios.py``).

A few points of the power curves in docs/drift.md, at small K: a 10 % foreign mix, a class grown by
10 % and a new term in 2 % of the posts are each detected in most batches, and same-distribution
batches of the same size false-alarm at most once in 20. The curves themselves are
``python -m bench --sections drift_power``.
"""

from __future__ import annotations

import pytest

from harmwatch.monitoring.drift_inputs import prepare
from harmwatch.monitoring.partial_shift import partial_shift_signals
from tests.drift import scenarios

pytestmark = pytest.mark.model

N_REF, N_CUR = 10_000, 2_000


def alarms(ref, cur) -> dict[str, bool]:
    signals = partial_shift_signals(prepare(ref), prepare(cur))
    return {k: v["drift_detected"] for k, v in signals.items()}


def test_same_distribution_batches_rarely_alarm(pools):
    runs = [alarms(*scenarios.split(pools.test, _rng(seed), N_REF, N_CUR)) for seed in range(20)]
    fired = [r for r in runs if any(r.values())]
    assert len(fired) <= 1, fired  # <= 5 %


@pytest.mark.parametrize(
    "build, share, signal",
    [
        (scenarios.foreign_mix, 0.10, "emerging_terms"),
        (scenarios.class_shift, 0.10, "class_mix"),
        (scenarios.new_term, 0.02, "emerging_terms"),
    ],
)
def test_a_partial_shift_is_detected_in_most_batches(pools, build, share, signal):
    runs = [alarms(*build(pools, share, 100 + seed, N_REF, N_CUR)) for seed in range(10)]
    assert sum(r[signal] for r in runs) >= 8, runs


def test_the_evidence_names_the_new_term(pools):
    ref, cur = scenarios.new_term(pools, 0.05, 1, N_REF, N_CUR)
    signal = partial_shift_signals(prepare(ref), prepare(cur))["emerging_terms"]
    assert signal["drift_detected"]
    top = signal["evidence"][0]
    assert top["term"] == scenarios.NEW_TERM and top["posts"] == 100 and top["reference_posts"] == 0


def _rng(seed: int):
    import numpy as np

    return np.random.default_rng(seed)

"""The co-reporting test on the counted candidate pairs (``data/cohorts.py``): its Poisson tail and the
bound over every possible pair."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import poisson

from harmwatch.data.cohorts import cohorts_of_candidates, significant


def test_the_tail_is_the_poisson_survival_function_bit_for_bit():
    rng = np.random.default_rng(0)
    shared = rng.integers(0, 60, 5_000)
    expected = np.concatenate([[0.0, 1e-15], rng.random(4_998) * 20])
    candidates = pd.DataFrame({"a": "a", "b": "b", "shared": shared, "expected": expected, "reporters": 2})
    got = significant(candidates, alpha=2.0)  # one possible pair: every p under 2 is kept
    wanted = poisson.sf(shared - 1, np.maximum(expected, 1e-12))
    assert np.array_equal(got["p"].to_numpy(), wanted)


def test_a_pair_is_linked_only_below_alpha_over_the_number_of_possible_pairs():
    # 100 reporters: 4,950 possible pairs, so alpha 0.01 becomes about 2e-6 per pair.
    candidates = pd.DataFrame(
        {
            "a": ["u1", "u3", "u5"],
            "b": ["u2", "u4", "u6"],
            "shared": [12, 5, 12],
            "expected": [0.5, 0.5, 0.5],
            "reporters": 100,
        }
    )
    linked = significant(candidates)
    assert linked[["a", "b"]].values.tolist() == [["u1", "u2"], ["u5", "u6"]]
    assert (linked["p"] < 0.01 / 4950).all() and poisson.sf(4, 0.5) > 0.01 / 4950
    cohorts = cohorts_of_candidates(candidates)
    assert dict(zip(cohorts["reporter_id"], cohorts["cohort"], strict=True)) == {
        "u1": "u1",
        "u2": "u1",
        "u5": "u5",
        "u6": "u5",
    }

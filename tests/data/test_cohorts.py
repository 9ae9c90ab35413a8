"""The co-reporting test on the counted candidate pairs: its Poisson tail (``data/cohorts.py``), the bound
over every possible pair (``data/sql/linked_pairs.sql``, run by the embedded engine) and the grouping."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import poisson

from harmwatch.data import relational
from harmwatch.data.cohorts import components, poisson_tail
from harmwatch.data.weak_labels import Policy


def test_the_tail_is_the_poisson_survival_function_bit_for_bit():
    rng = np.random.default_rng(0)
    shared = rng.integers(0, 60, 5_000)
    expected = np.concatenate([[0.0, 1e-15], rng.random(4_998) * 20])
    wanted = poisson.sf(shared - 1, np.maximum(expected, 1e-12))
    assert np.array_equal(poisson_tail(shared, expected), wanted)


def linked(candidates: pd.DataFrame) -> pd.DataFrame:
    engine = relational.DuckDB()
    engine.frame("cohort_pairs", candidates)
    params = relational.parameters(Policy(), seed=0)
    engine.table("linked_pairs", relational.render("linked_pairs", params))
    return engine.fetch("linked_pairs", ["a", "b"])


def test_the_engine_computes_the_same_tail():
    rng = np.random.default_rng(1)
    shared = rng.integers(3, 40, 2_000)
    expected = rng.random(2_000) * 10
    candidates = pd.DataFrame(
        {"a": [f"u{i:04d}" for i in range(2_000)], "b": "v", "shared": shared, "expected": expected}
    )
    got = linked(candidates.assign(reporters=2))  # one possible pair: alpha 0.01 is the bound
    wanted = poisson.sf(shared - 1, expected)
    keep = wanted < 0.01
    assert got["a"].tolist() == candidates["a"][keep].tolist()
    assert np.array_equal(got["p"].to_numpy(), wanted[keep])


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
    pairs = linked(candidates)
    assert pairs[["a", "b"]].values.tolist() == [["u1", "u2"], ["u5", "u6"]]
    assert (pairs["p"] < 0.01 / 4950).all() and poisson.sf(4, 0.5) > 0.01 / 4950
    cohorts = components(pairs)
    assert dict(zip(cohorts["reporter_id"], cohorts["cohort"], strict=True)) == {
        "u1": "u1",
        "u2": "u1",
        "u5": "u5",
        "u6": "u5",
    }

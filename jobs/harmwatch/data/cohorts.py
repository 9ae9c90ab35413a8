"""Co-reporting cohorts: reporters who report the same posts far more often than chance allows.

A false weak label needs several distinct reporters to agree, so a crew must put several of its accounts on
each post it poisons; honest reporters pick posts on their own and meet only by chance. For every pair of
reporters that reported at least ``min_shared`` posts together, the count is compared with what chance
gives two reporters this active: ``mu = n_u * n_v * S2 / S1**2``, with ``S1`` the votes and ``S2`` the
ordered pairs of votes on the same post over all posts (random placement of votes keeps both). A pair is
linked when the Poisson tail ``P(X >= shared | mu)`` is below ``alpha`` divided by the number of possible
pairs (Bonferroni: about ``alpha`` false links in all, however many reporters there are). Linked reporters
form a cohort (connected components), and the weak-label policy counts a cohort as one reporter.

What it does not catch, measured in docs/weak-labels.md: a crew that spreads its poison over many
accounts, so that no two meet much more often than honest reporters do. The input is every report so
far, one row per reporter and post: a plain self-join and a group-by.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COHORT_COLUMNS = ["reporter_id", "cohort", "cohort_size"]


def candidate_pairs(reports: pd.DataFrame, min_shared: int = 3) -> pd.DataFrame:
    """Pairs (``a`` < ``b``) who reported at least ``min_shared`` texts together, with ``shared``, the
    ``expected`` count by chance and the number of ``reporters``: the counting half of the test, which the
    SQL engines do themselves (``data/sql/cohort_pairs.sql``)."""
    cols = ["a", "b", "shared", "expected", "reporters"]
    votes = reports[["reporter_id", "key"]].drop_duplicates()
    if votes.empty:
        return pd.DataFrame(columns=cols)
    per_post = votes.groupby("key").size()
    s1, s2 = float(per_post.sum()), float((per_post * (per_post - 1)).sum())
    active = votes.groupby("reporter_id").size()
    crowded = per_post[per_post > 1].index
    multi = votes[votes["key"].isin(crowded)]
    pairs = multi.merge(multi, on="key", suffixes=("_a", "_b"))
    pairs = pairs[pairs["reporter_id_a"] < pairs["reporter_id_b"]]
    shared = pairs.groupby(["reporter_id_a", "reporter_id_b"]).size().reset_index(name="shared")
    shared = shared[shared["shared"] >= min_shared].rename(
        columns={"reporter_id_a": "a", "reporter_id_b": "b"}
    )
    if shared.empty or s1 == 0:
        return pd.DataFrame(columns=cols)
    expected = active.reindex(shared["a"]).to_numpy() * active.reindex(shared["b"]).to_numpy() * s2 / s1**2
    return shared.assign(expected=expected, reporters=len(active))[cols].reset_index(drop=True)


def significant(candidates: pd.DataFrame, alpha: float = 0.01) -> pd.DataFrame:
    """The candidate pairs whose Poisson tail ``P(X >= shared | expected)`` is below ``alpha`` over the
    number of possible pairs, with ``p``."""
    from scipy.stats import poisson

    cols = ["a", "b", "shared", "expected", "p"]
    if candidates.empty:
        return pd.DataFrame(columns=cols)
    expected = candidates["expected"].to_numpy(dtype=float)
    p = poisson.sf(candidates["shared"].to_numpy() - 1, np.maximum(expected, 1e-12))
    n = float(candidates["reporters"].iloc[0])
    n_pairs = n * (n - 1) / 2
    out = candidates.assign(p=p)
    return out[out["p"] < alpha / max(n_pairs, 1.0)][cols].reset_index(drop=True)


def linked_pairs(reports: pd.DataFrame, min_shared: int = 3, alpha: float = 0.01) -> pd.DataFrame:
    """Pairs (``a`` < ``b``) who co-report beyond chance, with ``shared``, ``expected`` and ``p``."""
    return significant(candidate_pairs(reports, min_shared), alpha)


def reporter_cohorts(reports: pd.DataFrame, min_shared: int = 3, alpha: float = 0.01) -> pd.DataFrame:
    """Every reporter in a linked group: its ``cohort`` (the group's smallest id) and ``cohort_size``.

    Reporters linked to nobody are left out (each is its own cohort of one).
    """
    return components(linked_pairs(reports, min_shared, alpha))


def cohorts_of_candidates(candidates: pd.DataFrame, alpha: float = 0.01) -> pd.DataFrame:
    """:func:`reporter_cohorts` from the candidate pairs a SQL engine counted (:func:`candidate_pairs`)."""
    return components(significant(candidates, alpha))


def components(pairs: pd.DataFrame) -> pd.DataFrame:
    """Linked pairs as cohorts: connected components, named by their smallest reporter id."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if pairs.empty:
        return pd.DataFrame(columns=COHORT_COLUMNS)
    ids = np.array(sorted(set(pairs["a"]) | set(pairs["b"])))
    index = {r: i for i, r in enumerate(ids)}
    rows, cols = pairs["a"].map(index).to_numpy(), pairs["b"].map(index).to_numpy()
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(ids), len(ids)))
    _, component = connected_components(graph, directed=False)
    frame = pd.DataFrame({"reporter_id": ids, "component": component})
    frame["cohort"] = frame.groupby("component")["reporter_id"].transform("min")
    frame["cohort_size"] = frame.groupby("component")["reporter_id"].transform("size")
    return frame[COHORT_COLUMNS]

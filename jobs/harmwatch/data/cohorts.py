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
accounts, so that no two meet much more often than honest reporters do. The counting is SQL
(``data/sql/cohort_pairs.sql``: a self-join of each reporter's texts and a group-by, on DuckDB or Spark);
the test and the grouping run here on the candidate pairs it leaves (a few rows per linked pair).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COHORT_COLUMNS = ["reporter_id", "cohort", "cohort_size"]


def significant(candidates: pd.DataFrame, alpha: float = 0.01) -> pd.DataFrame:
    """The candidate pairs whose Poisson tail ``P(X >= shared | expected)`` is below ``alpha`` over the
    number of possible pairs, with ``p``."""
    # The tail is scipy.stats.poisson.sf(shared - 1, expected), which is this function of
    # scipy.special; importing scipy.stats for it cost 0.6 CPU-s per run, scipy.special 0.25.
    from scipy.special import pdtrc

    cols = ["a", "b", "shared", "expected", "p"]
    if candidates.empty:
        return pd.DataFrame(columns=cols)
    expected = np.maximum(candidates["expected"].to_numpy(dtype=float), 1e-12)
    below = np.floor(candidates["shared"].to_numpy(dtype=float)) - 1
    p = np.where(below < 0, 1.0, pdtrc(np.maximum(below, 0), expected))
    n = float(candidates["reporters"].iloc[0])
    n_pairs = n * (n - 1) / 2
    out = candidates.assign(p=p)
    return out[out["p"] < alpha / max(n_pairs, 1.0)][cols].reset_index(drop=True)


def cohorts_of_candidates(candidates: pd.DataFrame, alpha: float = 0.01) -> pd.DataFrame:
    """The co-reporting cohorts (``reporter_id``, ``cohort``, ``cohort_size``; reporters linked to nobody
    are left out) from the candidate pairs the SQL counted (``cohort_pairs.sql``)."""
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

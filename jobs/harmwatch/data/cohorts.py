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
accounts, so that no two meet much more often than honest reporters do. The counting and the test are SQL
run by the engine (``data/sql/cohort_pairs.sql``: a self-join of each reporter's texts and a group-by;
``data/sql/linked_pairs.sql``: :func:`poisson_tail` as a vectorised function of the engine, on DuckDB or on
Spark's executors); only the linked pairs come to this process, to be grouped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COHORT_COLUMNS = ["reporter_id", "cohort", "cohort_size"]
ALPHA = 0.01  # false links expected over all pairs of reporters, whatever their number


def poisson_tail(shared: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """``P(X >= shared)`` for ``X ~ Poisson(expected)``, element by element: the engines' ``poisson_tail``
    (registered by :class:`harmwatch.data.relational.DuckDB` and :class:`harmwatch.spark.relational.
    SparkSQL`)."""
    # The tail is scipy.stats.poisson.sf(shared - 1, expected), which is this function of
    # scipy.special; importing scipy.stats for it cost 0.6 CPU-s per run, scipy.special 0.25.
    from scipy.special import pdtrc

    expected = np.maximum(np.asarray(expected, dtype=float), 1e-12)
    below = np.floor(np.asarray(shared, dtype=float)) - 1
    return np.where(below < 0, 1.0, pdtrc(np.maximum(below, 0), expected))


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

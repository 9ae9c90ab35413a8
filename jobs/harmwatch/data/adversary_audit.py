"""Audit of the weak-label policy against the simulator's ground truth (tests and ``make bench``; no step).

A simulated landing zone goes through the real ``ingest`` and ``validate``; then, as the daily DAG would,
the weak-label decision is taken once per day on the validated rows of the days so far, for several
policies (all defences, none, all but one), by build-dataset's own SQL on DuckDB
(:func:`harmwatch.data.relational.weak_label_outcome`). Against the simulator's truth (post labels from
:func:`harmwatch.data.simulation.ground_truth`, and who each landed report came from, which only the
landing zone's raw reporter ids tell) it measures:

- ``precision``: of the weak labels that entered any day's training snapshot, the share whose label is the
  truth of every post the text stands for (a model trained on day D saw day D's labels, even if a later
  day's evidence withdrew them);
- ``honest_recall``: of the posts honest reporters alone could label (harmful, never moderated, at least
  ``min_reporters`` honest reporters naming the true class), the share labelled correctly on the last day;
- ``review``: report-sourced rows in the last day's review queue, and why they wait.

The champion is a real model of the same pipeline fitted on the bulk day's moderator labels (the first
champion a deployment has); a champion trained later on poisoned snapshots would be weaker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from harmwatch.config import BENIGN_CLASS
from harmwatch.data import relational
from harmwatch.data.dataset import keyed_reports
from harmwatch.data.reporter_history import ReporterHistory
from harmwatch.data.weak_labels import Policy, review_kind

Scorer = Callable[[pd.DataFrame], pd.DataFrame]  # key, text -> key, score_<class>


@dataclass
class Scenario:
    """Validated rows of one simulated landing zone, and the truth about them."""

    labelled: pd.DataFrame  # validated labelled rows
    reports: pd.DataFrame  # validated report rows
    truth: dict[str, str]  # post_id -> true label
    kind: dict[str, str]  # report_id -> who made it (honest, careless, brigade, farming, ...)
    days: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.days = sorted(set(self.reports["batch_dt"])) if not self.days else self.days


def reporter_kind(raw_ids: pd.Series) -> pd.Series:
    """``honest``, ``careless``, ``brigade`` or the adversary's name, from the simulator's raw reporter id."""
    return raw_ids.str.split("-").str[0]


def honest_labellable(scenario: Scenario, moderated_keys: set[str], min_reporters: int) -> dict[str, str]:
    """key -> true class of the posts honest reporters alone could label (see the module docstring)."""
    rep = keyed_reports(scenario.reports)
    rep = rep[rep["report_id"].map(scenario.kind).eq("honest") & ~rep["key"].isin(moderated_keys)]
    rep = rep.assign(truth=rep["post_id"].map(scenario.truth))
    right = rep[(rep["reason"] == rep["truth"]) & (rep["truth"] != BENIGN_CLASS)]
    n = right.groupby("key")["reporter_id"].nunique()
    truth = right.drop_duplicates("key").set_index("key")["truth"]
    return truth[n[n >= min_reporters].index].to_dict()


def correct(label: str, post_ids: str, truth: dict[str, str]) -> bool:
    return all(truth.get(p) == label for p in str(post_ids).split("|"))


def audit(
    scenario: Scenario, policies: dict[str, Policy], scorer: Scorer | None = None, seed: int = 42
) -> dict[str, dict[str, Any]]:
    """Per policy name: precision, honest recall, review load (see the module docstring)."""
    entered: dict[str, dict[tuple[str, str], str]] = {name: {} for name in policies}
    last: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
    moderated_keys: set[str] = set()
    history = ReporterHistory(scenario.labelled, scenario.reports)  # the rows, keyed once
    for day in scenario.days:
        engine = history.as_of(day)
        moderated_keys = set(engine.fetch("labelled")["key"])  # a single label or a conflict: decided
        pending = relational.pending_texts(engine)
        scores = scorer(pending) if scorer is not None else None
        for name, policy in policies.items():
            accepted, review = relational.weak_label_outcome(engine, policy, seed, scores)
            for key, label, posts in zip(
                accepted["key"], accepted["label"], accepted["post_id"], strict=True
            ):
                entered[name][(key, label)] = posts
            last[name] = (accepted, review)
    honest = honest_labellable(scenario, moderated_keys, min(p.min_reporters for p in policies.values()))
    out: dict[str, dict[str, Any]] = {}
    for name in policies:
        accepted, review = last[name]
        ever = entered[name]
        wrong = sum(not correct(label, posts, scenario.truth) for (_, label), posts in ever.items())
        final = dict(zip(accepted["key"], accepted["label"], strict=True))
        found = sum(final.get(k) == t for k, t in honest.items())
        kinds = review_kind(review["review_reason"]).value_counts() if len(review) else pd.Series(dtype=int)
        out[name] = {
            "entered_training": len(ever),
            "false_entered": wrong,
            "precision": round(1 - wrong / len(ever), 4) if ever else None,
            "honest_labellable": len(honest),
            "honest_labelled": found,
            "honest_recall": round(found / len(honest), 4) if honest else None,
            "accepted_last_day": len(accepted),
            "review_last_day": len(review),
            "review_by_kind": {str(k): int(v) for k, v in kinds.sort_index().items()},
        }
    return out


def fitted_scorer(labelled: pd.DataFrame, seed: int) -> Scorer:
    """A real model of the pipeline fitted on ``labelled`` (moderator labels), as a :data:`Scorer`."""
    from harmwatch.model.fitting import fit_model

    moderated, _conflicts = relational.resolve_labels(labelled)
    model, _features = fit_model(moderated[["text", "label"]].reset_index(drop=True), seed, n_jobs=1)

    def score(pending: pd.DataFrame) -> pd.DataFrame:
        if pending.empty:
            return pd.DataFrame(columns=["key"])
        scored = model.predict(pending[["text"]].reset_index(drop=True))
        cols = [c for c in scored.columns if c.startswith("score_")]
        return scored[cols].assign(key=pending["key"].to_numpy())

    return score

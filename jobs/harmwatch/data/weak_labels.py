"""Weak labels: when user reports may label a post that no moderator has labelled.

User reports are weak evidence: an honest user, a careless one and a coordinated brigade look alike one
report at a time. A post known only from reports gets a report-derived label only under :class:`Policy`:
at least ``min_reporters`` distinct reporters name the same reason, no other reason has as many, and those
reporters' mean reliability reaches ``min_reliability``. Everything else goes to the review queue with the
reason it was held back.

A reporter's *reliability* is how often their reports on posts a moderator labelled named the moderator's
class, from a Beta prior: ``(agreements + a) / (judged + a + b)``. A report on a post labelled
``not_cyberbullying`` is a disagreement (reports always claim harm). This one definition serves the
weak-label policy (build-dataset) and the moderation metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from harmwatch.config import BENIGN_CLASS

RELIABILITY_COLUMNS = ["reporter_id", "reports_on_labelled", "agreements", "reliability"]


@dataclass(frozen=True)
class Policy:
    """When a report-derived label may enter training."""

    min_reporters: int = 3
    min_reliability: float = 0.8
    prior_agree: float = 1.0  # Beta prior: an unknown reporter starts at 1 / (1 + 1) = 0.5
    prior_disagree: float = 1.0


def join_values(values: pd.Series) -> str:
    """Distinct non-empty values, sorted and ``|``-joined (post ids, landing files)."""
    return "|".join(sorted({str(v) for v in values if pd.notna(v) and str(v)}))


def reporter_reliability(reports: pd.DataFrame, moderated: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """Per reporter: reports on moderator-labelled posts, agreements, smoothed reliability.

    Only posts a moderator labelled count; a report on a post labelled ``not_cyberbullying`` is a
    disagreement (reports always claim harm). One vote per reporter and post.
    """
    if reports.empty:
        return pd.DataFrame(columns=RELIABILITY_COLUMNS)
    votes = reports.merge(moderated[["key", "label"]], on="key").drop_duplicates(["reporter_id", "key"])
    votes = votes.assign(agree=(votes["reason"] == votes["label"]) & (votes["label"] != BENIGN_CLASS))
    stats = votes.groupby("reporter_id")["agree"].agg(reports_on_labelled="size", agreements="sum")
    return with_reliability(stats.reset_index(), policy)


def with_reliability(counts: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """Counts per reporter (``reporter_id``, ``reports_on_labelled``, ``agreements``) with the smoothed
    reliability; the Spark engine sums the counts over the whole history and calls this too."""
    counts = counts.assign(
        reliability=(counts["agreements"] + policy.prior_agree)
        / (counts["reports_on_labelled"] + policy.prior_agree + policy.prior_disagree)
    )
    return counts[RELIABILITY_COLUMNS]


def no_weak_labels() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The (accepted, review) pair when no report is pending, with the columns callers select."""
    columns = ["key", "text", "label", "post_id", "n_reporters", "votes", "mean_reliability"]
    accepted = pd.DataFrame(columns=columns)
    return accepted, pd.DataFrame(columns=["key", "review_reason"])


def weak_labels(
    reports: pd.DataFrame, decided_keys: set[str], reliability: pd.DataFrame, policy: Policy
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accepted weak labels, posts for review) from reports of posts no moderator has decided."""
    pending = reports[~reports["key"].isin(decided_keys)]
    if pending.empty:
        return no_weak_labels()
    prior = policy.prior_agree / (policy.prior_agree + policy.prior_disagree)
    rel = reliability.set_index("reporter_id")["reliability"]
    votes = pending.drop_duplicates(["key", "reporter_id", "reason"])
    votes = votes.assign(rel=votes["reporter_id"].map(rel).fillna(prior).astype(float))
    per_reason = (
        votes.groupby(["key", "reason"])
        .agg(n=("reporter_id", "nunique"), rel=("rel", "mean"))
        .reset_index()
        .sort_values(["key", "n", "rel"], ascending=[True, False, False])
    )
    rows = []
    for key, grp in per_reason.groupby("key", sort=True):
        top = grp.iloc[0]
        tied = len(grp) > 1 and grp.iloc[1]["n"] == top["n"]
        counts = ", ".join(f"{r} {n}" for r, n in zip(grp["reason"], grp["n"], strict=True))
        if tied:
            reason = f"reporters disagree ({counts})"
        elif top["n"] < policy.min_reporters:
            reason = f"{top['n']} distinct reporter(s) agree (policy needs {policy.min_reporters})"
        elif top["rel"] < policy.min_reliability:
            reason = f"mean reporter reliability {top['rel']:.2f} (policy needs {policy.min_reliability:.2f})"
        else:
            reason = ""
        rows.append(
            {
                "key": key,
                "label": top["reason"],
                "n_reporters": int(top["n"]),
                "votes": counts,
                "mean_reliability": round(float(top["rel"]), 4),
                "review_reason": reason,
            }
        )
    decided = pd.DataFrame(rows)
    first = pending.sort_values(["key", "reported_at", "report_id"]).drop_duplicates("key")
    info = pending.groupby("key").agg(
        post_id=("post_id", join_values),
        n_reports=("report_id", "nunique"),
        source_files=("source_file", join_values),
    )
    decided = decided.merge(first[["key", "text"]], on="key").merge(info, on="key")
    accepted = decided[decided["review_reason"] == ""].drop(columns="review_reason")
    review = decided[decided["review_reason"] != ""].rename(columns={"label": "suggested_label"})
    return accepted.reset_index(drop=True), review.assign(source="reports").reset_index(drop=True)

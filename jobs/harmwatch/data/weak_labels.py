"""Weak labels: when user reports may label a post that no moderator has labelled.

User reports are weak evidence: an honest user, a careless one, a brigade and an adversary who first earns
trust look alike one report at a time. A post known only from reports gets a report-derived label only
under :class:`Policy`; everything else goes to the review queue with the reason it was held back:

1. at least ``min_reporters`` distinct reporters name the same reason, and with ``cohorts`` they belong to
   as many distinct co-reporting cohorts (:mod:`harmwatch.data.cohorts`: a crew counts as one reporter);
2. no other reason has as many votes; with ``trusted_dissent`` only votes of reporters trusted for their
   reason (reliability >= ``min_reliability``) count in that contest, so accounts without a record cannot
   block an honest label by tying the vote;
3. the supporters' mean reliability reaches ``min_reliability``. Each vote's reliability is its
   reporter's record (:mod:`harmwatch.data.reliability`) as it stood before the vote (``before_report``),
   for the reason the vote names (``per_reason``);
4. with the champion's scores given, the champion does not strongly disagree: its probability of the
   label is at least ``champion_floor``;
5. a seeded random ``spot_check_rate`` of the labels that pass goes to moderators instead, so the precision
   of accepted weak labels keeps being measured by people.

The decision is a group-by: :func:`pending_votes` (one row per vote, with reliability and cohort),
:func:`tally` (one row per post and reason), :func:`weak_label_decisions` (one row per post); a Spark
port can reuse them on aggregated data. The defences are declared in :mod:`harmwatch.data.defences`;
what each costs in honest weak labels is measured in docs/weak-labels.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, make_dataclass, replace

import numpy as np
import pandas as pd

from harmwatch.data.defences import BY_NAME, DEFENCES, chosen
from harmwatch.data.reliability import (
    RELIABILITY_COLUMNS,
    judged_reports,
    reporter_reliability,
    vote_reliability,
)

__all__ = ["RELIABILITY_COLUMNS", "Policy", "reporter_reliability", "weak_labels"]


@dataclass(frozen=True)
class Rules:
    """What every weak label must pass (1 to 3 of the module docstring)."""

    min_reporters: int = 3
    min_reliability: float = 0.8
    prior_agree: float = 1.0  # Beta prior: an unknown reporter starts at 1 / (1 + 1) = 0.5
    prior_disagree: float = 1.0


# One setting per row of the defence registry (its ``setting``), at its shipped value.
_DefenceSettings = make_dataclass(
    "_DefenceSettings", [(d.setting, type(d.on), d.default) for d in DEFENCES], bases=(Rules,), frozen=True
)


@dataclass(frozen=True)
class Policy(_DefenceSettings):
    """When a report-derived label may enter training: the :class:`Rules`, and one setting per defence of
    :data:`harmwatch.data.defences.DEFENCES` (``before_report``, ``per_reason``, ``cohorts``,
    ``trusted_dissent``, ``champion_floor``, ``spot_check_rate``)."""

    def with_(self, *defences: str) -> Policy:
        """This policy with the named defences on, at their registry values."""
        return replace(self, **{d.setting: d.on for d in chosen(defences)})

    def without(self, *defences: str) -> Policy:
        """This policy with the named defences switched off, to measure what each does."""
        return replace(self, **{d.setting: d.off for d in chosen(defences)})


# The words that open (or, for a defence, name) each review reason; REVIEW_KINDS maps them to kinds.
DISAGREE, TOO_FEW, UNRELIABLE = "reporters disagree", "distinct reporter", "mean reporter reliability"
COHORTS, CHAMPION, SPOT_CHECK = (BY_NAME[name].marker for name in ("cohorts", "champion", "spot_checks"))


def join_values(values: pd.Series) -> str:
    """Distinct non-empty values, sorted and ``|``-joined (post ids, landing files)."""
    return "|".join(sorted({str(v) for v in values if pd.notna(v) and str(v)}))


def no_weak_labels() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The (accepted, review) pair when no report is pending, with the columns callers select."""
    columns = ["key", "text", "label", "post_id", "n_reporters", "votes", "mean_reliability"]
    accepted = pd.DataFrame(columns=columns)
    return accepted, pd.DataFrame(columns=["key", "review_reason"])


def pending_votes(
    reports: pd.DataFrame,
    judged: pd.DataFrame,
    cohorts: pd.DataFrame | None,
    policy: Policy,
    record: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per post, reporter and reason of ``reports``, with ``rel``, ``trusted`` and ``cohort``."""
    votes = reports.sort_values(["reported_at", "report_id"]).drop_duplicates(
        ["key", "reporter_id", "reason"]
    )
    votes = vote_reliability(
        votes[["key", "reporter_id", "reason", "reported_at"]],
        judged,
        policy,
        policy.before_report,
        policy.per_reason,
        record,
    )
    cohort = votes["reporter_id"]
    if policy.cohorts and cohorts is not None and len(cohorts):
        cohort = cohort.map(cohorts.set_index("reporter_id")["cohort"]).fillna(cohort)
    return votes.assign(trusted=votes["rel"] >= policy.min_reliability, cohort=cohort)


MEAN_DECIMALS = 9  # far above a float sum's order noise (about 1e-16), far below any policy's step


def tally(votes: pd.DataFrame) -> pd.DataFrame:
    """Per post and reason: distinct reporters, distinct cohorts, trusted cohorts, mean reliability.

    The mean is rounded to :data:`MEAN_DECIMALS` decimals, as ``data/sql/tally.sql`` rounds it: a float
    sum depends on the order it is added in, so a mean of exactly ``min_reliability`` could otherwise fall
    below it on one engine (or one order of the same rows) and not on another."""
    trusted = votes["cohort"].where(votes["trusted"])
    out = (
        votes.assign(_trusted=trusted)
        .groupby(["key", "reason"])
        .agg(
            n_reporters=("reporter_id", "nunique"),
            n_cohorts=("cohort", "nunique"),
            n_trusted=("_trusted", "nunique"),
            rel=("rel", "mean"),
        )
        .reset_index()
    )
    return out.assign(rel=out["rel"].round(MEAN_DECIMALS))


def champion_p_label(leading: pd.Series, champion: pd.DataFrame | None, policy: Policy) -> pd.Series:
    """The champion's probability of each post's leading reason (``leading``: reason by key); NaN without
    the champion check."""
    if champion is None or policy.champion_floor <= 0 or not len(champion):
        return pd.Series(np.nan, index=leading.index)
    scores = champion.set_index("key").reindex(leading.index)
    return pd.Series(
        [scores.at[k, f"score_{lab}"] if f"score_{lab}" in scores else np.nan for k, lab in leading.items()],
        index=leading.index,
        dtype=float,
    )


def weak_label_decisions(
    tallies: pd.DataFrame, policy: Policy, champion: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per post: the leading reason, the counts, and ``review_reason`` ("" = accepted)."""
    n = "n_cohorts" if policy.cohorts else "n_reporters"
    order = (["n_trusted"] if policy.trusted_dissent else []) + [n, "rel"]
    t = tallies.sort_values(["key", *order], ascending=[True] + [False] * len(order), kind="stable")
    t = t.assign(_rank=t.groupby("key").cumcount(), _vote=t["reason"] + " " + t["n_reporters"].astype(str))
    votes = t.groupby("key", sort=True)["_vote"].agg(", ".join)
    top = t[t["_rank"] == 0].set_index("key").sort_index()
    rival = t[t["_rank"] == 1].set_index("key").reindex(top.index)
    if policy.trusted_dissent:
        tied = (rival["n_trusted"] >= top["n_trusted"]) & (top["n_trusted"] > 0)
    else:
        tied = rival[n] == top[n]
    p_label = champion_p_label(top["reason"], champion, policy)
    rel, need = top["rel"].map("{:.2f}".format), f"{policy.min_reliability:.2f}"
    cohort_note = " in " + top["n_cohorts"].astype(str) + f" {COHORTS}(s)"
    few = top[n] < policy.min_reporters
    reasons = np.select(
        [
            tied.fillna(False).to_numpy(),
            few.to_numpy(),
            (top["rel"] < policy.min_reliability).to_numpy(),
            (p_label < policy.champion_floor).to_numpy(),
        ],
        [
            (f"{DISAGREE} (" + votes + ")").to_numpy(),
            (
                top["n_reporters"].astype(str)
                + f" {TOO_FEW}(s)"
                + (cohort_note.where(top["n_cohorts"] < top["n_reporters"], "") if policy.cohorts else "")
                + f" agree (policy needs {policy.min_reporters})"
            ).to_numpy(),
            (f"{UNRELIABLE} " + rel + f" (policy needs {need})").to_numpy(),
            (
                f"{CHAMPION}: p(label) " + p_label.map("{:.3f}".format) + f" < {policy.champion_floor}"
            ).to_numpy(),
        ],
        "",
    )
    return pd.DataFrame(
        {
            "key": top.index,
            "label": top["reason"].to_numpy(),
            "n_reporters": top["n_reporters"].astype(int).to_numpy(),
            "n_cohorts": top["n_cohorts"].astype(int).to_numpy(),
            "votes": votes.reindex(top.index).to_numpy(),
            "mean_reliability": top["rel"].astype(float).round(4).to_numpy(),
            "champion_p_label": p_label.round(4).to_numpy(),
            "review_reason": reasons,
        }
    )


# Why a reported post waits for a moderator: words of its review_reason -> a short name. A defence's
# words are looked for first (the cohort note sits inside the too-few-reporters reason), then the rules'.
REVIEW_KINDS = {
    **{d.marker: d.review_kind for d in DEFENCES if d.marker and d.review_kind},
    DISAGREE: "disagreement",
    TOO_FEW: "too_few_reporters",
    UNRELIABLE: "low_reliability",
}


def _kind(reason: object) -> str:
    text = str(reason)
    return next((kind for pattern, kind in REVIEW_KINDS.items() if pattern in text), "other")


def review_kind(reasons: pd.Series) -> pd.Series:
    """The short name of each review reason (:data:`REVIEW_KINDS`; the first pattern found wins).

    A queue has few distinct reasons however long it grows, so each distinct one is named once (the queue
    of a 90-day history: 49,510 rows, 0.25 CPU-s when every row was searched for every pattern)."""
    if reasons.empty:
        return pd.Series("other", index=reasons.index, dtype=object)
    codes, uniques = pd.factorize(reasons, use_na_sentinel=False)
    names = pd.Series([_kind(u) for u in uniques], dtype=object).to_numpy()
    return pd.Series(names[codes], index=reasons.index, dtype=object)


def spot_checked(keys: pd.Series, rate: float, seed: int) -> pd.Series:
    """A seeded, order-independent random ``rate`` of ``keys`` (the same key is always in or out)."""
    if rate <= 0:
        return pd.Series(False, index=keys.index)
    draw = keys.map(lambda k: int(hashlib.sha256(f"{seed}:spot-check:{k}".encode()).hexdigest()[:8], 16))
    return draw < rate * 16**8


def weak_labels(
    reports: pd.DataFrame,
    moderated: pd.DataFrame,
    decided_keys: set[str],
    policy: Policy,
    *,
    cohorts: pd.DataFrame | None = None,
    champion: pd.DataFrame | None = None,
    seed: int = 0,
    record: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accepted weak labels, posts for review) from reports of posts no moderator has decided.

    ``reports``: every keyed report (their history is the reporters' record); ``moderated``: one row per
    moderated key (``label``, ``labelled_at``); ``cohorts``: :func:`harmwatch.data.cohorts.reporter_cohorts`
    of the reports; ``champion``: ``key`` and ``score_<class>`` of the pending posts, or None;
    ``record``: the reporters' :func:`harmwatch.data.reliability.record_counts` over every report, when
    the caller (the Spark engine, which hands over some posts at a time) summed them; without it they
    come from ``reports`` and ``moderated``.
    """
    pending = reports[~reports["key"].isin(decided_keys)]
    if pending.empty:
        return no_weak_labels()
    judged = judged_reports(reports, moderated) if record is None else pd.DataFrame()
    votes = pending_votes(pending, judged, cohorts, policy, record)
    decided = weak_label_decisions(tally(votes), policy, champion)
    sampled = spot_checked(decided["key"], policy.spot_check_rate, seed) & (decided["review_reason"] == "")
    decided.loc[sampled, "review_reason"] = (
        f"{SPOT_CHECK}: a random {policy.spot_check_rate:.0%} of accepted weak labels goes to moderators"
    )
    first = pending.sort_values(["key", "reported_at", "report_id"]).drop_duplicates("key")
    info = pending.groupby("key").agg(
        post_id=("post_id", join_values),
        n_reports=("report_id", "nunique"),
        source_files=("source_file", join_values),
        first_seen=("reported_at", "min"),
    )
    decided = decided.merge(first[["key", "text"]], on="key").merge(info, on="key")
    accepted = decided[decided["review_reason"] == ""].drop(columns="review_reason")
    review = decided[decided["review_reason"] != ""].rename(columns={"label": "suggested_label"})
    return accepted.reset_index(drop=True), review.assign(source="reports").reset_index(drop=True)

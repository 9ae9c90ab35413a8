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
   reporter's record (below); with ``before_report`` only as it stood before the vote (moderator labels
   dated before it), so a crew cannot vouch for false reports with a record it builds afterwards; with
   ``per_reason`` only for the reason the vote names, so a record earned on one kind of harm does not
   vouch for another;
4. with the champion's scores given, the champion does not strongly disagree: its probability of the
   label is at least ``champion_floor``;
5. a seeded random ``spot_check_rate`` of the labels that pass goes to moderators instead, so the precision
   of accepted weak labels keeps being measured by people.

A reporter's *reliability* is how often their reports on posts a moderator labelled named the moderator's
class, from a Beta prior: ``(agreements + prior_agree) / (judged + prior_agree + prior_disagree)``. A
report on a post labelled ``not_cyberbullying`` is a disagreement (reports always claim harm); a
reporter's first report of a text is their vote on it.

The decision is defined once, as SQL (``data/sql/``, run by :mod:`harmwatch.data.relational` on DuckDB
or Spark SQL): ``judged.sql`` and ``record.sql`` (each reporter's record), ``reliability.sql`` (the
reporter table), ``vote_record_now.sql`` or ``vote_record_before.sql`` (the record each vote is judged
on), ``rated_votes.sql``, ``tally.sql`` (one row per post and reason) and ``weak_label_decisions.sql``
(one row per post). This module holds the policy and the wording of its review reasons. The defences
are declared in :mod:`harmwatch.data.defences`; what each costs in honest weak labels is measured in
docs/weak-labels.md.
"""

from __future__ import annotations

from dataclasses import dataclass, make_dataclass, replace

import pandas as pd

from harmwatch.data.defences import BY_NAME, DEFENCES, chosen


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

"""Reporter reliability in the pandas reference (:mod:`tests.reference.decisions`): the product's
definition is the SQL of ``data/sql/`` (``judged.sql``, ``record.sql``, ``reliability.sql``,
``vote_record_now.sql``, ``vote_record_before.sql``).

A reporter's *reliability* is how often their reports on posts a moderator labelled named the moderator's
class, from a Beta prior: ``(agreements + a) / (judged + a + b)``. A report on a post labelled
``not_cyberbullying`` is a disagreement (reports always claim harm). One vote per reporter and post.

Two readings of that record, both plain group-bys and one as-of join (so they port to Spark unchanged):

- :func:`reporter_reliability`: everything known now, one row per reporter (the table build-dataset keeps
  and the metrics chart);
- :func:`vote_reliability`: the record a *vote* is judged on. With ``before_report`` only moderator labels
  dated before the vote count (``labelled_at < reported_at``), so a crew cannot vouch for false reports
  with a record it builds afterwards, and a decision never changes because of what happened later; with
  ``per_reason`` only the reporter's earlier reports under the reason the vote names count, so a record
  earned on one kind of harm does not vouch for another.
"""

from __future__ import annotations

from typing import Protocol

import pandas as pd

from harmwatch.config import BENIGN_CLASS

RELIABILITY_COLUMNS = ["reporter_id", "reports_on_labelled", "agreements", "reliability"]


class Prior(Protocol):
    prior_agree: float
    prior_disagree: float


def timestamps(values: pd.Series) -> pd.Series:
    """ISO 8601 strings (validated upstream) as UTC timestamps."""
    return pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")


def judged_reports(reports: pd.DataFrame, moderated: pd.DataFrame) -> pd.DataFrame:
    """One row per reporter and moderated post: the reason they named, the label, when it was given, agree.

    ``reports`` need ``key``, ``reporter_id``, ``reason``, ``reported_at``; ``moderated`` ``key``, ``label``
    and ``labelled_at`` (one row per key). A reporter's first report of a post is their vote on it.
    """
    cols = ["reporter_id", "key", "reason", "label", "labelled_at", "agree"]
    if reports.empty or moderated.empty:
        return pd.DataFrame(columns=cols)
    first = reports.sort_values(["reported_at", "report_id"]).drop_duplicates(["reporter_id", "key"])
    votes = first.merge(moderated[["key", "label", "labelled_at"]], on="key")
    votes = votes.assign(
        agree=(votes["reason"] == votes["label"]) & (votes["label"] != BENIGN_CLASS),
        labelled_at=timestamps(votes["labelled_at"]),
    )
    return votes[cols].reset_index(drop=True)


def smoothed(agreements: pd.Series, judged: pd.Series, prior: Prior) -> pd.Series:
    return (agreements + prior.prior_agree) / (judged + prior.prior_agree + prior.prior_disagree)


def record_counts(judged: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """``by`` columns with ``judged`` (votes on moderated posts) and ``agreements``: a record in counts.

    Counts add up: an engine that computes them per part of the posts sums them over the parts."""
    return judged.groupby(by)["agree"].agg(judged="size", agreements="sum").reset_index()


def reliability_table(counts: pd.DataFrame, prior: Prior) -> pd.DataFrame:
    """:data:`RELIABILITY_COLUMNS` from per-reporter :func:`record_counts`."""
    stats = counts.rename(columns={"judged": "reports_on_labelled"})
    stats["reliability"] = smoothed(stats["agreements"], stats["reports_on_labelled"], prior)
    return stats[RELIABILITY_COLUMNS].reset_index(drop=True)


def reporter_reliability(reports: pd.DataFrame, moderated: pd.DataFrame, prior: Prior) -> pd.DataFrame:
    """Per reporter: reports on moderator-labelled posts, agreements, smoothed reliability (all known now)."""
    judged = judged_reports(reports, moderated)
    if judged.empty:
        return pd.DataFrame(columns=RELIABILITY_COLUMNS)
    return reliability_table(record_counts(judged, ["reporter_id"]), prior)


def vote_reliability(
    votes: pd.DataFrame,
    judged: pd.DataFrame,
    prior: Prior,
    before_report: bool,
    per_reason: bool,
    record: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``votes`` (``reporter_id``, ``reason``, ``reported_at``) with ``judged``/``agreements``/``rel``.

    ``judged`` is :func:`judged_reports` over every report. See the module docstring for the two switches.
    ``record``: the :func:`record_counts` of every report, already summed (by reporter, and reason with
    ``per_reason``), for an engine that computes them elsewhere; ``judged`` is then not read. The
    running record of ``before_report`` needs ``judged`` itself.
    """
    if record is not None and before_report:
        raise ValueError("before_report needs every judged report, not summed counts")
    by = ["reporter_id", "reason"] if per_reason else ["reporter_id"]
    out = votes.assign(_t=timestamps(votes["reported_at"]), _row=range(len(votes)))
    if record is not None:
        out = out.merge(record[[*by, "judged", "agreements"]], on=by, how="left")
    elif judged.empty:
        out = out.assign(judged=0, agreements=0)
    elif before_report:
        # Running totals of each record in label order; each vote takes the totals just before it.
        ev = judged.sort_values("labelled_at").rename(columns={"labelled_at": "_t"})
        grp = ev.groupby(by, sort=False)
        ev = ev.assign(judged=grp.cumcount() + 1, agreements=grp["agree"].cumsum())[
            [*by, "_t", "judged", "agreements"]
        ]
        out = pd.merge_asof(
            out.sort_values("_t"), ev, on="_t", by=by, allow_exact_matches=False, direction="backward"
        ).sort_values("_row")
    else:
        out = out.merge(record_counts(judged, by), on=by, how="left")
    out[["judged", "agreements"]] = out[["judged", "agreements"]].fillna(0).astype(int)
    out["rel"] = smoothed(out["agreements"], out["judged"], prior)
    return out.drop(columns=["_t", "_row"]).reset_index(drop=True)

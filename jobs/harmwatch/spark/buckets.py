"""build-dataset's work per bucket of text keys: the pandas engine's own functions, called by Spark.

:mod:`harmwatch.spark.build` hashes every text key to a bucket and co-groups a bucket's labelled rows and
reports; the functions here receive one bucket as pandas frames and call
:func:`~harmwatch.data.dataset.resolve_moderator_labels`, :func:`~harmwatch.data.reliability.judged_reports`
and :func:`~harmwatch.data.weak_labels.weak_labels` on it. A bucket holds whole keys, so each per-text
decision sees every row it needs; what spans buckets (a reporter's record, co-reporting cohorts, the
champion's scores) is computed once over all the data and handed in. Each result frame travels back as
one Parquet blob per bucket and part (``_part``, ``blob``), so the driver gets the frames with the exact
columns and types pandas made.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

import pandas as pd

from harmwatch.data.dataset import newest_report_day, resolve_moderator_labels
from harmwatch.data.reliability import judged_reports, record_counts
from harmwatch.data.weak_labels import Policy, weak_labels

SCHEMA = "_part string, blob binary"
RECORD_BY = ["reporter_id", "reason"]  # the finest record: summed over reasons it is the reporter's own


def blob(frame: pd.DataFrame) -> bytes:
    out = io.BytesIO()
    frame.to_parquet(out, index=False)
    return out.getvalue()


def frames(rows: Iterable[Any], part: str) -> list[pd.DataFrame]:
    """The frames of ``part`` among collected (``_part``, ``blob``) rows."""
    return [pd.read_parquet(io.BytesIO(r["blob"])) for r in rows if r["_part"] == part]


def _out(parts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return pd.DataFrame(
        {"_part": pd.Series(list(parts), dtype=object), "blob": [blob(f) for f in parts.values()]}
    )


def moderation(reviewed: frozenset[str] = frozenset()) -> Any:
    """Bucket -> its moderated texts, its conflicting label rows, its reporters' record counts.

    ``reviewed``: landing files the review-pull ledger vouches for (their labels settle conflicts)."""

    def apply(labelled: pd.DataFrame, reports: pd.DataFrame) -> pd.DataFrame:
        if labelled.empty:  # reports alone: nothing moderated to judge them by
            return _out({})
        moderated, conflicts = resolve_moderator_labels(labelled.drop(columns="key"), reviewed)
        parts = {"moderated": moderated, "conflicts": conflicts}
        if len(reports):
            judged = judged_reports(reports, moderated)
            if len(judged):
                parts["record"] = record_counts(judged, RECORD_BY)
        return _out(parts)

    return apply


def weak(policy: Policy, cohorts: pd.DataFrame | None, champion: pd.DataFrame | None, seed: int) -> Any:
    """Bucket -> its accepted weak labels, the reported posts it holds back, its reports' newest day.

    The reports arrive with their reporter's summed record (``judged``, ``agreements``) joined on."""
    by = ["reporter_id", "reason"] if policy.per_reason else ["reporter_id"]

    def apply(labelled: pd.DataFrame, reports: pd.DataFrame) -> pd.DataFrame:
        if reports.empty:
            return _out({})
        decided = set(labelled["key"]) if len(labelled) else set()
        record = reports[[*by, "judged", "agreements"]].dropna().drop_duplicates(by)
        reports = reports.drop(columns=["judged", "agreements"])
        scores = None if champion is None else champion[champion["key"].isin(set(reports["key"]))]
        accepted, review = weak_labels(
            reports,
            pd.DataFrame(),
            decided,
            policy,
            cohorts=cohorts,
            champion=scores,
            seed=seed,
            record=record,
        )
        newest = newest_report_day(reports).rename("batch_dt").reset_index()
        return _out({"accepted": accepted, "review": review, "newest": newest})

    return apply

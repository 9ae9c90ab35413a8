"""build-dataset's work per bucket of text keys: the pandas engine's own functions, called by Spark.

:mod:`harmwatch.spark.build` hashes every text key to a bucket and co-groups a bucket's labelled rows
and reports; the functions here receive one bucket as pandas frames and call
:func:`~harmwatch.data.dataset.resolve_moderator_labels`, :func:`~harmwatch.data.dataset.conflict_review`,
:func:`~harmwatch.data.weak_labels.reporter_reliability` and :func:`~harmwatch.data.weak_labels.weak_labels`
on it. A bucket holds whole keys, so each decision sees every row it needs. Outputs are shaped to fixed
Spark schemas (``_part`` says which table a row belongs to).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from harmwatch.data.dataset import conflict_review, resolve_moderator_labels
from harmwatch.data.weak_labels import Policy, reporter_reliability, weak_labels

CONFLICT_COLUMNS = ["key", "text", "post_id", "labels_seen", "source_files", "review_reason", "source"]
REPORT_REVIEW_COLUMNS = [
    "key", "suggested_label", "n_reporters", "votes", "mean_reliability", "review_reason",
    "text", "post_id", "n_reports", "source_files", "source",
]  # fmt: skip
ACCEPTED_COLUMNS = [
    "key", "label", "n_reporters", "votes", "mean_reliability", "text", "post_id", "n_reports", "source_files"
]  # fmt: skip
LONGS = {"n_reporters", "n_reports", "reports_on_labelled", "agreements"}
DOUBLES = {"mean_reliability", "reliability"}


def ddl(columns: list[str]) -> str:
    kind = {**{c: "long" for c in LONGS}, **{c: "double" for c in DOUBLES}}
    return ", ".join(f"`{c}` {kind.get(c, 'string')}" for c in columns)


def shaped(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = frame.reindex(columns=columns)
    for c in columns:
        if c in LONGS:  # whole numbers; rows of another part leave them missing (null in Spark)
            out[c] = out[c].astype("float64" if out[c].isna().any() else "int64")
        elif c in DOUBLES:
            out[c] = out[c].astype("float64")
        else:
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


MODERATED_COLUMNS = ["key", "text", "label", "post_id", "labelled_at", "batch_dt"]
COUNT_COLUMNS = ["reporter_id", "reports_on_labelled", "agreements"]
PASS1 = ["_part", *dict.fromkeys([*MODERATED_COLUMNS, *CONFLICT_COLUMNS, *COUNT_COLUMNS])]


def moderation(policy: Policy) -> Any:
    """Bucket -> its moderated rows, its conflict-review rows and its reporters' vote counts."""

    def apply(labelled: pd.DataFrame, reports: pd.DataFrame) -> pd.DataFrame:
        moderated, conflicts = resolve_moderator_labels(labelled)
        parts = [shaped(moderated.assign(_part="moderated"), PASS1)]
        if len(conflicts):
            parts.append(shaped(conflict_review(conflicts).assign(_part="conflict"), PASS1))
        if len(reports):
            counts = reporter_reliability(reports, moderated, policy)
            parts.append(shaped(counts.assign(_part="counts"), PASS1))
        return pd.concat(parts, ignore_index=True)

    return apply


PASS2 = ["_part", *dict.fromkeys([*ACCEPTED_COLUMNS, *REPORT_REVIEW_COLUMNS])]


def weak(policy: Policy) -> Any:
    """Bucket -> its accepted weak labels and the posts it sends to review (reports of undecided keys)."""

    def apply(labelled: pd.DataFrame, reports: pd.DataFrame) -> pd.DataFrame:
        if reports.empty:
            return shaped(pd.DataFrame(columns=PASS2), PASS2)
        known = reports.dropna(subset=["reliability"]).drop_duplicates("reporter_id")
        reliability = known[["reporter_id", "reliability"]]
        decided = set(labelled["key"]) if len(labelled) else set()
        accepted, review = weak_labels(reports.drop(columns="reliability"), decided, reliability, policy)
        return pd.concat(
            [
                shaped(accepted.assign(_part="accepted"), PASS2),
                shaped(review.assign(_part="review"), PASS2),
            ],
            ignore_index=True,
        )

    return apply

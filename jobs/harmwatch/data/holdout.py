"""Held-out evaluation data beside the frozen anchor: the rolling recent slice, and renewing the anchor.

The anchor (the frozen evaluation snapshot) keeps every comparison on the same posts, but it was drawn on
the first day: a challenger that learned new language would be judged on old posts only. So each
build-dataset run also holds out a *recent slice*: the moderator-labelled posts of the newest batches (the
``days`` ending at the run's logical date) whose text no earlier batch carried and that are not in the
anchor. They stay out of this run's training snapshot, and no earlier snapshot can hold them (their text
first arrived in these batches), so neither champion nor challenger has trained on them. The next run
trains on them, and holds out its own newest batches.

Renewing the anchor is an explicit action (``build-dataset --renew-anchor --reason``), never a side
effect: the new anchor keeps a stratified share of the old one and adds this run's recent slice, because
those are the only labelled posts no model has trained on (any other post is in the champion's training
data, which would flatter it). The old anchor's dropped posts go back into training. The anchor's manifest
records its generation, the anchor it replaced, who renewed it and why.

Pure functions: frames in, frames out.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta
from typing import Any

import pandas as pd

from harmwatch.data.dataset import EVAL_COLUMNS, SNAPSHOT_COLUMNS, content_version, text_key
from harmwatch.data.relational import stratified_draw

RECENT_COLUMNS = ["key", "text", "label", "post_id", "batch_dt"]


def window_start(day: str, days: int) -> str:
    """First date of the ``days`` batches ending at ``day`` (inclusive)."""
    return (date.fromisoformat(day) - timedelta(days=max(days, 1) - 1)).isoformat()


def hold_out_recent(
    labelled: pd.DataFrame, train: pd.DataFrame, day: str, days: int, reviewed: Collection[str] = ()
) -> tuple[pd.DataFrame, pd.DataFrame, str | None]:
    """(training snapshot without the recent slice, the recent slice, why it is empty or None).

    ``labelled``: validated labelled rows (``text`` or its ``key``, ``batch_dt``, ``post_id``);
    ``train``: the training snapshot the plan assembled (:class:`harmwatch.data.dataset.Assembly`;
    anchor texts and conflicts already left out).
    Only moderator labels are held out: a report-derived label is not ground truth to judge a model on.
    Nor is a label that came back from the review loop (``reviewed``: the landing files the review-pull
    ledger vouches for, :mod:`harmwatch.data.authority`):
    a reviewed post was picked from the review queue (reports, conflicts, spot checks), not drawn from the
    day's posts, and it goes straight into training, which is what the moderators labelled it for.
    """
    empty = pd.DataFrame(columns=RECENT_COLUMNS)
    start = window_start(day, days)
    keys = labelled["key"] if "key" in labelled else text_key(labelled["text"])
    batch = labelled["batch_dt"].astype(str)
    older = set(keys[batch < start])
    if not older:
        return train, empty, f"no labelled batch before {start}: the newest batches are all there is"
    newest = keys[(batch >= start) & (batch <= day)]
    first_seen = labelled.assign(key=keys)[batch.between(start, day)].drop_duplicates("key")
    from_review = set(keys[labelled["source_file"].isin(set(reviewed))]) if len(labelled) else set()
    fresh = set(newest) - older - from_review
    held = train["label_source"].eq("moderator") & train["key"].isin(fresh)
    if not held.any():
        return train, empty, f"no new moderator-labelled text in the batches {start}..{day}"
    recent = train.loc[held, ["key", "text", "label", "post_id"]].merge(
        first_seen[["key", "batch_dt"]], on="key", how="left"
    )
    return train[~held].reset_index(drop=True), recent[RECENT_COLUMNS].reset_index(drop=True), None


def renewed_anchor(anchor: pd.DataFrame, recent: pd.DataFrame, keep_share: float, seed: int) -> pd.DataFrame:
    """A stratified ``keep_share`` of the old anchor (seeded hash, as it was drawn) plus the recent slice."""
    kept = stratified_draw(anchor, keep_share, seed) if keep_share > 0 else anchor.iloc[0:0]
    new = pd.concat([kept[EVAL_COLUMNS], recent[EVAL_COLUMNS]], ignore_index=True)
    return new.drop_duplicates("key").sort_values("key").reset_index(drop=True)


def renew_anchor(
    train: pd.DataFrame,
    recent: pd.DataFrame,
    frozen: tuple[pd.DataFrame, dict[str, Any]],
    review_keys: set[str],
    args: Any,
    seed: int,
    day: str,
    actor: str,
    label_days: pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, str, dict[str, Any]]:
    """(training snapshot, new anchor, its version, its manifest) for ``--renew-anchor``.

    ``train`` is the snapshot without the recent slice; the old anchor's dropped posts join it (unless a
    moderator has since labelled the text differently: then it waits in review). ``args`` carries
    ``keep_share`` and ``reason``; ``label_days`` (key -> the batch its label arrived in) dates the returned
    posts for train's row budget.
    """
    old, old_meta = frozen
    anchor = renewed_anchor(old, recent, args.keep_share, seed)
    back = old[~old["key"].isin(anchor["key"]) & ~old["key"].isin(review_keys)]
    days = back["key"].map(label_days) if label_days is not None else None
    back = back.assign(label_source="moderator", batch_dt=days)
    train = pd.concat([train, back[SNAPSHOT_COLUMNS]], ignore_index=True)
    version = content_version(anchor, ["key", "label"])
    meta = {
        "version": version,
        "date": day,
        "rows": len(anchor),
        "label_counts": anchor["label"].value_counts().sort_index().to_dict(),
        "generation": int(old_meta.get("generation", 0)) + 1,
        "renewed_from": old_meta["version"],
        "reason": args.reason.strip(),
        "actor": actor,
        "kept_from_previous": len(anchor) - len(recent),
        "added_recent": len(recent),
        "returned_to_training": len(back),
        "seed": seed,
    }
    return train, anchor, version, meta

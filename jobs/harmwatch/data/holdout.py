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

The slice itself is an engine expression (:file:`data/sql/recent_slice.sql`,
:func:`harmwatch.data.relational.recent_slice`); renewing the anchor is here, frames in and frames out.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from harmwatch.data.dataset import EVAL_COLUMNS, SNAPSHOT_COLUMNS, content_version
from harmwatch.data.relational import stratified_draw


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

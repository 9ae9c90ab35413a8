"""What the lake holds about the review loop: the tasks each push sent, and the newest review queue.

Shared by review-push (which writes the push records) and review-pull (which accepts only tasks a record
lists), so neither step imports the other.
"""

from __future__ import annotations

import pandas as pd

from harmwatch.data import catalog
from harmwatch.review.tasks import item_id
from harmwatch.storage import MANIFEST, Store

PUSHED_COLUMNS = [
    "item", "task_id", "queued_on", "source", "expected_value", "first_seen", "queue_version", "text",
    "post_ids",
]  # fmt: skip


def pushed_tasks(lake: Store) -> pd.DataFrame:
    """Every task a committed push record lists (PUSHED_COLUMNS): what harmwatch sent to Label Studio.

    Records written before texts were kept have no ``text``/``post_ids``; their tasks match nothing."""
    records = lake.committed(catalog.REVIEW_PUSHES)
    frames = [lake.read_parquet(f"{m['prefix']}/{catalog.PUSHED_FILE}") for m in records]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=PUSHED_COLUMNS)
    return out.reindex(columns=PUSHED_COLUMNS)


def newest_queue(lake: Store) -> tuple[pd.DataFrame | None, str | None]:
    """The review queue the newest training snapshot points to, with an ``item`` id per text."""
    if not lake.exists(catalog.TRAIN_LATEST):
        return None, None
    latest = lake.read_json(catalog.TRAIN_LATEST)
    manifest = lake.read_json(f"{catalog.train_snapshot(latest['version'])}/{MANIFEST}")
    version = manifest.get("review_version")
    if not version or version == "empty":
        return pd.DataFrame(columns=["key", "item"]), version
    queue = lake.read_parquet(f"{catalog.review_queue(version)}/{catalog.REVIEW_FILE}")
    return queue.assign(item=queue["key"].map(item_id)), version

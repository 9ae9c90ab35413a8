"""Review push: send the review queue to the moderators in Label Studio, highest expected value first.

Reads the newest review queue (the one the newest training snapshot points to, ``review_version`` in its
manifest), scores the texts not yet in Label Studio with the champion, orders them by expected value
(:mod:`harmwatch.review.ordering`; ``--order fifo`` for first-in-first-out) and creates one task per text
with its evidence (:mod:`harmwatch.review.tasks`), up to ``--max-open`` tasks nobody has started. A text
already in Label Studio is never sent again, so a rerun adds nothing. Writes the day's push record to
the lake (``moderation/pushes/dt=<day>/``): every task queued that day and its value components.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from harmwatch.config import Settings
from harmwatch.data import catalog
from harmwatch.review import client
from harmwatch.review.ordering import COMPONENTS, Weights, prioritise
from harmwatch.review.records import PUSHED_COLUMNS, newest_queue, pushed_tasks
from harmwatch.review.tasks import matches_queue, sent_as_recorded, task_data
from harmwatch.storage import open_store


def champion_scores(settings: Settings, texts: pd.Series) -> tuple[pd.DataFrame | None, str | None]:
    """The champion's class scores for ``texts`` (row for row), or (None, None) without a champion."""
    from harmwatch import registry

    if texts.empty:
        return None, None
    with registry.mlflow_calls(settings):
        _client, champion = registry.champion(settings)
        if champion is None:
            return None, None
        model = registry.load_registered(registry.version_uri(settings.model_name, str(champion.version)))
    scores = model.predict(pd.DataFrame({"text": texts.to_numpy()}))
    return scores.reset_index(drop=True), str(champion.version)


def _mean(values: pd.Series) -> float | None:
    mean = values.astype(float).mean()
    return None if pd.isna(mean) else round(float(mean), 4)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", help="logical date YYYY-MM-DD of the push (default: today, UTC)")
    parser.add_argument(
        "--max-open",
        type=int,
        default=500,
        help="keep at most this many tasks nobody has started in Label Studio (0: send the whole queue)",
    )
    parser.add_argument("--order", choices=["value", "fifo"], default="value", help="review order")
    parser.add_argument("--overlap-percent", type=int, default=10, help="share of tasks labelled twice")
    parser.add_argument("--no-model", action="store_true", help="order without the champion's scores")


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    day = args.date or datetime.now(UTC).date().isoformat()
    lake = open_store(settings.lake_uri, settings)
    queue, version = newest_queue(lake)
    if queue is None:
        return {"date": day, "pushed": 0, "skipped": "no training snapshot yet (run build-dataset first)"}
    if queue.empty:
        return {"date": day, "pushed": 0, "queue_version": version, "skipped": "the review queue is empty"}
    with client.calls(settings):
        projects = client.projects(settings, args.overlap_percent)
        # Only tasks harmwatch sent count (recorded, or exactly what this push would send after a push
        # that stopped before its record): a task anyone imported neither blocks nor fills the queue.
        tasks = client.tasks(projects.client, projects.review)
        recorded, _refused = sent_as_recorded(tasks, pushed_tasks(lake))
        ids = {t["id"] for t in recorded}
        existing = recorded + [t for t in tasks if t["id"] not in ids and matches_queue(t, queue)]
        in_label_studio = {t["data"].get("item") for t in existing}
        backlog = sum(1 for t in existing if not t["annotations"])
        candidates = queue[~queue["item"].isin(in_label_studio)].reset_index(drop=True)
        room = len(candidates) if args.max_open <= 0 else max(0, args.max_open - backlog)
        scores, champion = (None, None)
        if room and not args.no_model:
            scores, champion = champion_scores(settings, candidates["text"])
        if scores is not None:
            candidates = pd.concat([candidates, scores.drop(columns=["label"], errors="ignore")], axis=1)
        ordered = prioritise(candidates, scores, Weights(), args.order).head(room)
        data = [task_data(row, day, str(version), champion) for _, row in ordered.iterrows()]
        new_ids = client.create_tasks(projects.client, projects.review, data)
    # The day's record, from Label Studio itself: a rerun after a crash records the same tasks.
    today = [t for t in existing if t["data"].get("queued_on") == day]
    today += [{"id": i, "data": d} for i, d in zip(new_ids, data, strict=False)]
    pushed = pd.DataFrame(
        [{**{c: t["data"].get(c, "") for c in PUSHED_COLUMNS}, "task_id": t["id"]} for t in today],
        columns=PUSHED_COLUMNS,
    )
    prefix = catalog.review_push(day)
    lake.write_parquet(f"{prefix}/{catalog.PUSHED_FILE}", pushed)
    lake.commit(prefix, [catalog.PUSHED_FILE], {"date": day, "queue_version": version, "rows": len(pushed)})
    top = ordered.head(len(new_ids))
    return {
        "date": day,
        "queue_version": version,
        "queue_rows": len(queue),
        "already_in_label_studio": int(queue["item"].isin(in_label_studio).sum()),
        "backlog_before": backlog,
        "pushed": len(new_ids),
        "not_pushed": len(candidates) - len(new_ids),
        "order": args.order,
        "weights": Weights().as_dict(),
        "champion_version": champion,
        "mean_components": {c: _mean(top[c]) for c in COMPONENTS},
        "project_id": projects.review,
        "label_studio_url": settings.label_studio_url,
    }

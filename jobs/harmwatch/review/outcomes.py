"""What finished Label Studio annotations mean: a label, a skip with its reason, adjudication, or waiting.

Every task pushed to Label Studio ends in exactly one state per pull (:func:`review_decisions`):

``labelled``
    Every annotation that counts (one per annotator: their newest) names the same class: a single
    moderator (overlap 1), moderators who agree (overlap 2), or the final answer of an adjudicator.
``adjudication``
    Moderators named different classes. The task goes to the adjudication project with their answers;
    the adjudicator's answer becomes the label.
``skipped``
    Moderators skipped it (Label Studio's *Skip*, or a submission without a class); the reason is their
    note, or says that none was given.
``pending``
    Not annotated yet, or waiting for the second annotation of an overlap task.

:func:`landing_rows` turns new labels into landing rows in the landing format (``post_id, text, label,
labelled_at, labeller_id`` and provenance columns), one per post that carries the text. The annotator
is pseudonymised with the same keyed hash as reporter ids (prefix ``m_``); ``lead_time_seconds`` is the
time the annotators spent (Label Studio's lead time). ``labelled_at`` is the annotation's time, capped
at the end of the logical day the pull runs for, so a run for a past day never stamps a label in its
own future; the uncapped time is kept in ``annotated_at``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

import pandas as pd

from harmwatch.config import CLASSES
from harmwatch.data.landing import pseudonymise

DECISION_COLUMNS = [
    "item", "task_id", "status", "label", "outcome", "reason", "labellers", "lead_time_seconds",
    "annotated_at", "annotation_ids", "queued_on", "text", "post_ids", "answers", "pair",
]  # fmt: skip
LANDING_COLUMNS = [
    "post_id", "text", "label", "labelled_at", "labeller_id", "review_item", "review_task",
    "review_outcome", "lead_time_seconds", "annotators", "annotated_at", "queued_on",
]  # fmt: skip


def annotator_id(email: str, key: bytes) -> str:
    """Pseudonymous annotator id: ``m_`` + the keyed hash ingest uses for reporters."""
    return "m_" + (pseudonymise(email, key) or "")[2:]


def read_annotation(ann: dict[str, Any]) -> tuple[str | None, str]:
    """(class chosen or None, note) from one Label Studio annotation's ``result``."""
    label, note = None, ""
    for region in ann.get("result") or []:
        value = region.get("value") or {}
        if region.get("from_name") == "label" and value.get("choices"):
            chosen = str(value["choices"][0])
            label = chosen if chosen in CLASSES else None
        elif region.get("from_name") == "note" and value.get("text"):
            note = " ".join(str(t) for t in value["text"]).strip()
    return label, note


def _counted(task: dict[str, Any], who: Callable[[int], str]) -> tuple[list[tuple], list[tuple]]:
    """(labels, skips) of a task: (annotation id, annotator, label or note, lead time, created_at).

    One annotator counts once: of several annotations by the same person on a task, the newest is their
    answer (two of their own do not make an agreement, nor fill an overlap of two)."""
    labels, skips = [], []
    newest = {}
    for ann in sorted(task.get("annotations") or [], key=lambda a: a.get("id", 0)):
        newest[ann.get("completed_by")] = ann
    for ann in sorted(newest.values(), key=lambda a: a.get("id", 0)):
        label, note = read_annotation(ann)
        row = (ann["id"], who(ann.get("completed_by")), label, float(ann.get("lead_time") or 0.0))
        row += (str(ann.get("created_at") or ""),)
        if ann.get("was_cancelled") or label is None:
            skips.append((*row[:2], note, *row[3:]))
        else:
            labels.append(row)
    return labels, skips


def _final(task: dict, status: str, label: str, outcome: str, reason: str, anns: list[tuple]) -> dict:
    data = task.get("data") or {}
    return {
        "item": data.get("item", ""),
        "task_id": int(task["id"]),
        "status": status,
        "label": label,
        "outcome": outcome,
        "reason": reason,
        "labellers": "|".join(a[1] for a in anns),
        "lead_time_seconds": round(sum(a[3] for a in anns), 3),
        "annotated_at": max((a[4] for a in anns), default=""),
        "annotation_ids": "|".join(str(a[0]) for a in anns),
        "queued_on": data.get("queued_on", ""),
        "text": data.get("text", ""),
        "post_ids": data.get("post_ids", ""),
        "answers": "",
        "pair": "",
    }


def review_decisions(tasks: list[dict], adjudications: list[dict], who: Callable[[int], str]) -> pd.DataFrame:
    """One decision per review task (DECISION_COLUMNS); see the module docstring for the rules.

    ``tasks``/``adjudications``: Label Studio tasks as dicts (``id``, ``overlap``, ``data``,
    ``annotations``); ``who``: Label Studio user id -> pseudonymous annotator id.
    """
    adjudicated = {(t.get("data") or {}).get("item"): t for t in adjudications}
    rows = []
    for task in tasks:
        labels, skips = _counted(task, who)
        distinct = sorted({a[2] for a in labels})
        needed = max(1, int(task.get("overlap") or 1))
        item = (task.get("data") or {}).get("item")
        if len(distinct) > 1:
            adj = adjudicated.get(item)
            row = _final(task, "adjudication", "", "", "moderators disagree: " + ", ".join(distinct), labels)
            if adj is not None:
                final, adj_skips = _counted(adj, who)
                if final:
                    last = final[-1]
                    row = _final(task, "labelled", last[2], "adjudicated", "", [*labels, last])
                elif adj_skips:
                    note = adj_skips[-1][2] or "no reason given"
                    row = _final(task, "skipped", "", "adjudicated", f"adjudicator skipped: {note}", labels)
            row["answers"] = "; ".join(f"{a[1]}: {a[2]}" for a in labels)
        elif labels and len(labels) + len(skips) >= needed:
            outcome = "single" if len(labels) == 1 else "agreed"
            row = _final(task, "labelled", distinct[0], outcome, "", labels)
        elif labels:
            row = _final(
                task, "pending", "", "", f"waiting for another annotation ({len(labels)} of {needed})", labels
            )
        elif len(skips) >= needed:
            notes = "; ".join(s[2] for s in skips if s[2]) or "no reason given"
            row = _final(task, "skipped", "", "", f"skipped by moderators: {notes}", skips)
        else:
            row = _final(
                task, "pending", "", "", "not annotated yet" if not skips else "skipped once, requeued", []
            )
        if len(labels) >= 2:
            row["pair"] = f"{labels[0][2]}|{labels[1][2]}"
        rows.append(row)
    return pd.DataFrame(rows, columns=DECISION_COLUMNS)


def _cap(annotated_at: str, day: str) -> str:
    end = datetime.combine(date.fromisoformat(day), time(23, 59, 59), tzinfo=UTC)
    ts = pd.Timestamp(annotated_at) if annotated_at else pd.Timestamp(end)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return min(ts.to_pydatetime(), end).strftime("%Y-%m-%dT%H:%M:%SZ")


def landing_rows(labelled: pd.DataFrame, day: str) -> pd.DataFrame:
    """Landing rows (LANDING_COLUMNS) for labelled decisions: one per post carrying the text."""
    rows = []
    for d in labelled.itertuples(index=False):
        labellers = [x for x in d.labellers.split("|") if x]
        for post in [p for p in str(d.post_ids).split("|") if p]:
            rows.append(
                {
                    "post_id": post,
                    "text": d.text,
                    "label": d.label,
                    "labelled_at": _cap(d.annotated_at, day),
                    "labeller_id": labellers[-1] if labellers else "",
                    "review_item": d.item,
                    "review_task": str(d.task_id),
                    "review_outcome": d.outcome,
                    "lead_time_seconds": f"{d.lead_time_seconds:.3f}",
                    "annotators": "|".join(labellers),
                    "annotated_at": d.annotated_at,
                    "queued_on": d.queued_on,
                }
            )
    return pd.DataFrame(rows, columns=LANDING_COLUMNS)

"""Label Studio tasks built from the review queue: the text, and the evidence a moderator decides on.

A task's ``data`` holds the text and four lines of evidence (why it is queued, the user reports and their
votes, the champion's scores, the moderator labels seen so far), plus the handles the pull needs back:
``item`` (a hash of the text key, the item's identity in every run), the posts that carry the text and
the day it was queued. Label Studio shows the evidence beside the text (:data:`LABEL_CONFIG`); the
moderator picks one of the six classes, or skips with a note saying why.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import pandas as pd

from harmwatch.config import CLASSES

CHOICES = "\n".join(f'    <Choice value="{c}"/>' for c in CLASSES)
_EVIDENCE = """  <Header value="Why it is queued" size="6"/>
  <Text name="why" value="$why"/>
  <Header value="User reports" size="6"/>
  <Text name="reports" value="$reports"/>
  <Header value="Model" size="6"/>
  <Text name="model" value="$model"/>
  <Header value="Moderator labels so far" size="6"/>
  <Text name="labels_seen" value="$labels_seen"/>"""
LABEL_CONFIG = f"""<View>
  <Header value="Post"/>
  <Text name="text" value="$text"/>
{_EVIDENCE}
  <Header value="Your decision"/>
  <Choices name="label" toName="text" choice="single" showInline="false" required="true">
{CHOICES}
  </Choices>
  <Header value="Note (say why when you skip)" size="6"/>
  <TextArea name="note" toName="text" rows="2" required="false" maxSubmissions="1"/>
</View>"""
# The adjudication project shows the same evidence plus the answers that disagreed.
ADJUDICATION_CONFIG = LABEL_CONFIG.replace(
    '  <Header value="Your decision"/>',
    '  <Header value="Moderators disagreed" size="6"/>\n  <Text name="answers" value="$answers"/>\n'
    '  <Header value="Your decision (final)"/>',
)


def item_id(key: str) -> str:
    """A queued text's identity across runs: a hash of its normalised key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _s(row: pd.Series, column: str) -> str:
    """A queue cell as text ('' when missing: the queue mixes conflict and report rows)."""
    value = row.get(column)
    return "" if value is None or pd.isna(value) else str(value)


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def reports_evidence(row: pd.Series) -> str:
    n_reports = _num(row.get("n_reports"))
    if not n_reports:
        return "no user reports"
    parts = [f"{int(n_reports)} report(s) by {int(_num(row.get('n_reporters')) or 0)} agreeing reporter(s)"]
    if _s(row, "votes"):
        parts.append(f"votes: {_s(row, 'votes')}")
    reliability = _num(row.get("mean_reliability"))
    if reliability is not None:
        parts.append(f"their mean reliability {reliability:.2f}")
    if _s(row, "suggested_label"):
        parts.append(f"reporters suggest {_s(row, 'suggested_label')}")
    return "; ".join(parts)


def model_evidence(row: pd.Series, champion: str | None) -> str:
    if not champion or not _s(row, "model_label"):
        return "no champion model yet"
    scores = sorted(((c, _num(row.get(f"score_{c}")) or 0.0) for c in CLASSES), key=lambda cs: -cs[1])
    top = ", ".join(f"{c} {s:.2f}" for c, s in scores[:3])
    return (
        f"champion v{champion}: {top} (uncertainty {_num(row.get('uncertainty')) or 0:.2f}, "
        f"disagreement with people {_num(row.get('disagreement')) or 0:.2f})"
    )


def task_data(row: pd.Series, day: str, queue_version: str, champion: str | None) -> dict[str, str]:
    """The ``data`` of one Label Studio task (every value a string, as Label Studio shows them)."""
    seen = _s(row, "labels_seen")
    return {
        "item": item_id(str(row["key"])),
        "text": str(row["text"]),
        "why": _s(row, "review_reason") or "queued for review",
        "reports": reports_evidence(row),
        "model": model_evidence(row, champion),
        "labels_seen": ", ".join(seen.split("|")) if seen else "no moderator label yet",
        "post_ids": str(row["post_id"]),
        "source": _s(row, "source"),
        "queued_on": day,
        "queue_version": queue_version,
        "expected_value": f"{float(row.get('expected_value', 0.0)):.4f}",
        "first_seen": _s(row, "first_seen"),
    }


def adjudication_data(task: dict[str, Any], answers: list[tuple[str, str]]) -> dict[str, str]:
    """An adjudication task: the original task's data and the (pseudonymised annotator, label) answers."""
    data = {k: str(v) for k, v in task.items()}
    data["answers"] = "; ".join(f"{who}: {label}" for who, label in answers)
    return data


# What review-push records of every task it sends (the lake's push record), and what the pull checks.
SENT = ("item", "text", "post_ids")


def _differs(data: dict[str, Any], sent: dict[str, Any]) -> str:
    """'' when a task's data says what review-push sent, else which handles differ."""
    # A record without the value (written before texts were kept) matches nothing.
    wrong = [k for k in SENT if not isinstance(sent.get(k), str) or str(data.get(k, "")) != sent[k]]
    return f"{', '.join(wrong)} differ from what review-push sent" if wrong else ""


def sent_as_recorded(
    tasks: list[dict], pushed: pd.DataFrame, adjudication_ids: set[int] | None = None
) -> tuple[list[dict], list[dict]]:
    """(the tasks that are what harmwatch sent, the others with the reason they do not count).

    Any Label Studio user can import a task or edit its data, so a task counts only when the lake says
    harmwatch sent it: a review task by its id in the push record (``pushed``: ``task_id``, ``item``,
    ``text``, ``post_ids``) with the same item, text and post ids; an adjudication task (when
    ``adjudication_ids`` is given) by its id among those review-pull created, with the item, text and post
    ids of the item's push record.
    """
    records = pushed.to_dict(orient="records")
    by_id = {int(r["task_id"]): r for r in records if pd.notna(r["task_id"])}
    by_item = {r["item"]: r for r in records}
    kept, refused = [], []
    for task in tasks:
        data = task.get("data") or {}
        if adjudication_ids is None:
            sent = by_id.get(int(task["id"]))
            why = "not a task review-push created" if sent is None else _differs(data, sent)
        elif int(task["id"]) not in adjudication_ids:
            why = "not an adjudication task review-pull created"
        else:
            sent = by_item.get(data.get("item"))
            why = "its item was never pushed" if sent is None else _differs(data, sent)
        if why:
            refused.append({"task_id": int(task["id"]), "item": str(data.get("item", "")), "reason": why})
        else:
            kept.append(task)
    return kept, refused


def matches_queue(task: dict, queue: pd.DataFrame) -> bool:
    """Whether a task's data is exactly what review-push would send for its item from ``queue`` (a
    task created by a push that stopped before its record was committed)."""
    data = task.get("data") or {}
    rows = queue[queue["item"] == data.get("item")]
    sent = ({"item": r.item, "text": str(r.text), "post_ids": str(r.post_id)} for r in rows.itertuples())
    return any(not _differs(data, s) for s in sent)

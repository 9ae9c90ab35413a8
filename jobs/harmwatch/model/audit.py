"""The champion's record: which version harmwatch last made champion, and noticing a champion set by hand.

Every alias move by ``promote`` or ``rollback`` writes the record (a tag of the registered model,
:data:`RECORD_TAG`) twice: before the move, as an intent (``done`` false, the version it moves to and the
one it moves from), and after it (``done`` true). Anyone with the right permission can also set alias
``champion`` in the MLflow UI. The next step that looks at the champion (``evaluate``, ``promote``,
``rollback``) compares the alias with the record, and :func:`plan_reconcile` says what that means:

- the alias is where the record says: nothing to do;
- a move was interrupted (intent written, alias still on the old version or already on the new one): the
  rerun of the step finishes it, or the record is completed;
- the alias is anywhere else: it was set outside harmwatch. The new champion is tagged with who (the
  registry does not record who set an alias, so ``set outside harmwatch``) and when it was noticed,
  ``previous-champion`` moves to the champion harmwatch knew, and the record follows the new champion.

Pure functions; :func:`harmwatch.registry.reconcile_champion` reads the registry and applies the plan.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

RECORD_TAG = "harmwatch.champion_record"
OUTSIDE = "set outside harmwatch"


def record(
    version: str, previous: str | None, by: str, why: str, via: str, date: str | None, done: bool
) -> dict[str, Any]:
    """The champion's record: ``version`` is (or, not ``done``, is becoming) champion after ``previous``."""
    return {
        "version": version,
        "previous": previous,
        "by": by,
        "why": why,
        "via": via,
        "on": date or "unspecified",
        "done": done,
    }


def dump(rec: dict[str, Any]) -> str:
    return json.dumps(rec, sort_keys=True)


def load(text: str | None) -> dict[str, Any] | None:
    """The record from its tag value; None when there is none or it cannot be read (then it is rebuilt)."""
    try:
        rec = json.loads(text) if text else None
    except ValueError:
        return None
    return rec if isinstance(rec, dict) and rec.get("version") else None


@dataclass
class Reconcile:
    """What to write when the champion is not where the record says (see the module docstring)."""

    why: str
    champion_tags: dict[str, str] = field(default_factory=dict)
    previous_champion: str | None = None  # move alias previous-champion here (None: leave it)
    record: dict[str, Any] = field(default_factory=dict)


def plan_reconcile(
    champion: str | None,
    champion_promoted_by: str | None,
    rec: dict[str, Any] | None,
    previous_alias: str | None,
    noticed_by: str,
    date: str | None,
) -> Reconcile | None:
    """None when the champion is where the record says, else what to record.

    :param champion: the version holding alias ``champion`` (None: there is none, nothing to check).
    :param champion_promoted_by: its ``harmwatch.promoted_by`` tag, if any.
    :param rec: the record (:func:`load`), None if the registry has none yet.
    :param previous_alias: the version holding ``previous-champion`` now.
    :param noticed_by: the step that noticed, for the note.
    """
    if champion is None:
        return None
    if rec is None:
        if champion_promoted_by and champion_promoted_by != OUTSIDE:  # promoted before records were kept
            why = "record started from the current champion"
            return Reconcile(
                why, record=record(champion, previous_alias, champion_promoted_by, why, "", date, True)
            )
        last = None
    elif rec["version"] == champion:
        if rec.get("done"):
            return None
        return Reconcile("interrupted move completed", record={**rec, "done": True})
    elif not rec.get("done") and rec.get("previous") == champion:
        return None  # a move that did not happen yet: its step's rerun makes it
    else:
        last = rec["version"] if rec.get("done") else rec.get("previous")
    why = (
        f"alias champion moved to version {champion} outside harmwatch (the registry does not record by "
        f"whom); noticed by harmwatch {noticed_by} on {date or 'an unspecified date'}"
    )
    tags = {
        "harmwatch.promoted_by": OUTSIDE,
        "harmwatch.promoted_via": "the MLflow registry (UI or API)",
        "harmwatch.promotion_reason": why,
        "harmwatch.promoted_from": last or "unknown",
        "harmwatch.promoted_on": date or "unspecified",
        "harmwatch.forced": "false",
    }
    previous = last if last and last != champion else None
    return Reconcile(why, tags, previous, record(champion, last, OUTSIDE, why, "", date, True))

"""Which key made the lake's pseudonyms, and how a key change is declared and carried out.

A pseudonym is a keyed hash, so a new key silently makes every reporter a stranger: their reliability
record, built over months, would start again from the prior. The lake therefore records the id of its key
(:data:`harmwatch.data.catalog.KEY_RECORD`, and ``key_id`` in every manifest); a step that writes
pseudonyms refuses to run under another key (:func:`require_key`). ``harmwatch rotate-key`` is the
declared change: given the old key and the new one, it maps each old pseudonym to the new one through the
raw ids the landing zone still holds (:func:`pseudonym_map`) and rewrites every ``reporter_id`` and
``labeller_id`` column of the lake with it (:func:`rekey_frame`), the reliability tables included.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

from harmwatch.data import catalog
from harmwatch.data.landing import labeller_pseudonym, pseudonymise
from harmwatch.errors import HarmwatchError
from harmwatch.storage import Store

ID_COLUMNS = ("reporter_id", "labeller_id")
_PSEUDONYM = re.compile(r"[rm]_[0-9a-f]{16}")


def recorded_key(lake: Store) -> dict | None:
    """The lake's key record (``key_id``, ``retired``), None for a lake that has none yet."""
    return lake.read_json(catalog.KEY_RECORD) if lake.exists(catalog.KEY_RECORD) else None


def adopt_key(lake: Store, key_id: str) -> None:
    """Record ``key_id`` as the lake's key if it has none yet (ingest, after committing its first rows)."""
    if recorded_key(lake) is None:
        lake.write_json(catalog.KEY_RECORD, {"key_id": key_id, "retired": []})


def require_key(lake: Store, key_id: str) -> None:
    """Refuse a key other than the lake's, in one line (a lake without a record refuses none)."""
    record = recorded_key(lake)
    if record is not None and record.get("key_id") != key_id:
        raise HarmwatchError(
            f"HARMWATCH_PSEUDONYM_KEY has key id {key_id} but the lake's pseudonyms were made with "
            f"{record.get('key_id')} ({lake.url(catalog.KEY_RECORD)}); a key change must be declared: "
            f"run harmwatch rotate-key --previous-key-id {record.get('key_id')} with "
            "HARMWATCH_PREVIOUS_PSEUDONYM_KEY set to the old key"
        )


def pseudonym_map(
    reporters: Iterable[str], labellers: Iterable[str], old: bytes, new: bytes
) -> dict[str, str]:
    """Old pseudonym -> new pseudonym for every raw reporter and labeller id given."""
    out: dict[str, str] = {}
    for rid in set(reporters):
        if rid:
            out[pseudonymise(rid, old) or ""] = pseudonymise(rid, new) or ""
    for lid in set(labellers):
        if lid and not _PSEUDONYM.fullmatch(lid):  # one landed as a pseudonym has no raw id to re-key
            out[labeller_pseudonym(lid, old) or ""] = labeller_pseudonym(lid, new) or ""
    return out


def rekey_frame(frame: pd.DataFrame, mapping: dict[str, str], new: bytes) -> tuple[pd.DataFrame, int, int]:
    """``frame`` with its id columns re-keyed; (frame, ids mapped, ids without a raw id).

    A pseudonym whose raw id the landing zone no longer holds cannot get the hash the new key gives that
    id; it gets the new key's hash of the old pseudonym instead, so it stays distinct and stable but no
    longer ties to that reporter's future reports. A value already re-keyed (a rerun after a crash) is kept.
    """
    done = set(mapping.values())
    mapped = unmapped = 0
    out = frame.copy()
    for column in ID_COLUMNS:
        if column not in out.columns:
            continue
        values = out[column].astype("string")
        fresh = {}
        for value in values.dropna().unique():
            if value in done or not _PSEUDONYM.fullmatch(value):
                continue
            if value in mapping:
                fresh[value] = mapping[value]
                mapped += 1
            else:
                fresh[value] = value[:2] + (pseudonymise(value, new) or "")[2:]
                unmapped += 1
        if fresh:
            renamed = values.map(lambda v, f=fresh: f.get(v, v) if isinstance(v, str) else v)
            out[column] = renamed.astype(frame[column].dtype)
    return out, mapped, unmapped

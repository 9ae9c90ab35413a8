"""Rotate-key: move the lake's pseudonyms from the retired key to the current one, as a declared change.

The old key comes from ``HARMWATCH_PREVIOUS_PSEUDONYM_KEY``, the new one from ``HARMWATCH_PSEUDONYM_KEY``;
``--previous-key-id`` must name the lake's recorded key and the old key's id, so a rotation is never a
typo (:mod:`harmwatch.data.keys`). The raw ids come from the landing zone, parsed as ingest parses it.
Every committed folder whose manifest records another key id gets its ``reporter_id`` and
``labeller_id`` columns re-keyed (the reporter reliability tables ``reporters/v=...`` included), and its
manifest rewritten last, so a killed rotation simply runs again; the key record moves last of all.

Inputs: the landing zone and the lake. Outputs: the lake, re-keyed in place. Summary: ``key_id``,
``previous_key_id``, ``folders``, ``files``, ``ids_mapped``, ``ids_without_raw_id``.
"""

from __future__ import annotations

import argparse
import io
from typing import Any

import pandas as pd

from harmwatch.config import Settings, key_id
from harmwatch.data import catalog, keys, landing
from harmwatch.data.parsing import parse_csv, parse_jsonl
from harmwatch.errors import HarmwatchError
from harmwatch.storage import MANIFEST, Store, open_store


def raw_ids(landing_store: Store, max_bytes: int) -> tuple[set[str], set[str]]:
    """Raw reporter ids and labeller ids in the landing zone (read and parsed as ingest does)."""
    found: dict[str, set[str]] = {"reporter_id": set(), "labeller_id": set()}
    for kind, column in (("reports", "reporter_id"), ("labelled", "labeller_id")):
        for obj in landing_store.list(kind):
            if not obj.key.endswith(landing.SUFFIXES[kind]) or landing.partition_problem(obj.key):
                continue
            if obj.size > max_bytes:  # quarantined whole by ingest: none of its ids is in the lake
                continue
            data = landing_store.read_bytes(obj.key)
            parsed = parse_csv(data) if kind == "labelled" else parse_jsonl(data)
            found[column].update(str(r[column]) for r in parsed.rows if r.get(column))
    return found["reporter_id"], found["labeller_id"]


def rekey_lake(lake: Store, mapping: dict[str, str], new: bytes, new_id: str) -> dict[str, int]:
    """Re-key every committed folder not already on ``new_id``; its manifest is rewritten last."""
    totals = {"folders": 0, "files": 0, "ids_mapped": 0, "ids_without_raw_id": 0}
    for obj in lake.list():
        if not obj.key.endswith("/" + MANIFEST):
            continue
        manifest = lake.read_json(obj.key)
        if manifest.get("key_id") == new_id:
            continue
        prefix = obj.key.rsplit("/", 1)[0]
        names = [f["name"] for f in manifest.get("files", [])]
        for name in names:
            path = f"{prefix}/{name}"
            if name.endswith(".parquet"):
                frame = lake.read_parquet(path)
            elif name.endswith(".csv"):
                frame = pd.read_csv(io.BytesIO(lake.read_bytes(path)), dtype=str, keep_default_na=False)
            else:
                continue
            if not set(keys.ID_COLUMNS) & set(frame.columns):
                continue
            out, mapped, unmapped = keys.rekey_frame(frame, mapping, new)
            if mapped or unmapped:
                if name.endswith(".parquet"):
                    lake.write_parquet(path, out)
                else:
                    lake.write_text(path, out.to_csv(index=False))
                totals["files"] += 1
            totals["ids_mapped"] += mapped
            totals["ids_without_raw_id"] += unmapped
        meta = {k: v for k, v in manifest.items() if k not in ("prefix", "files", "key_id")}
        lake.commit(prefix, names, meta)  # records the new key id
        totals["folders"] += 1
    return totals


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--previous-key-id",
        required=True,
        help="the lake's current key id (in its manifests, or the refusal naming it): the declaration",
    )
    parser.add_argument("--landing", help="landing zone URI (default: settings.landing_uri)")
    parser.add_argument("--lake", help="lake URI (default: settings.lake_uri)")


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    old_key = settings.previous_pseudonym_key.get_secret_value()
    new_id, old_id = settings.pseudonym_key_id, key_id(old_key)
    if not old_key:
        raise HarmwatchError(
            "HARMWATCH_PREVIOUS_PSEUDONYM_KEY is not set: rotate-key needs the key it retires"
        )
    if old_id != args.previous_key_id:
        raise HarmwatchError(
            f"HARMWATCH_PREVIOUS_PSEUDONYM_KEY has key id {old_id}, not the declared {args.previous_key_id}"
        )
    if old_id == new_id:
        raise HarmwatchError(
            f"HARMWATCH_PSEUDONYM_KEY is the key being retired ({old_id}): nothing to rotate"
        )
    lake = open_store(args.lake or settings.lake_uri, settings)
    record = keys.recorded_key(lake) or {"key_id": old_id, "retired": []}
    if record["key_id"] not in (old_id, new_id):
        raise HarmwatchError(
            f"the lake's pseudonyms were made with {record['key_id']}, not the declared {old_id} "
            f"({lake.url(catalog.KEY_RECORD)})"
        )
    landing_store = open_store(args.landing or settings.landing_uri, settings)
    reporters, labellers = raw_ids(landing_store, settings.landing_max_bytes)
    new = settings.pseudonym_key.get_secret_value().encode()
    mapping = keys.pseudonym_map(reporters, labellers, old_key.encode(), new)
    totals = rekey_lake(lake, mapping, new, new_id)
    retired = [*record.get("retired", []), old_id] if record["key_id"] == old_id else record["retired"]
    lake.write_json(catalog.KEY_RECORD, {"key_id": new_id, "retired": retired})
    return {"lake_uri": lake.uri, "key_id": new_id, "previous_key_id": old_id, **totals}

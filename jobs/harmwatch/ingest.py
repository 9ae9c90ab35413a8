"""Ingest: parse landing files that were not taken before into the lake, with lineage.

Which files were taken is the union of the ``sources`` of every committed ingest manifest, keyed by
file identity (key, size, and the S3 ETag or local mtime). A run id is a hash of the identities it
takes, so a run killed before its manifest reruns into the same folder and overwrites its own
uncommitted files; a rerun after success finds nothing new and adds nothing.

Outputs (docs/lake.md): ``ingest/<kind>/run=<id>/part-0000.parquet`` and
``quarantine/ingest/<kind>/run=<id>/rows.parquet``, committed by a manifest written last.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import re
from datetime import date
from typing import Any

import pandas as pd

from harmwatch.config import Settings
from harmwatch.errors import HarmwatchError
from harmwatch.parsing import (
    LABELLED_COLUMNS,
    REPORT_COLUMNS,
    Parsed,
    normalise_text,
    parse_csv,
    parse_jsonl,
)
from harmwatch.storage import ObjectInfo, Store, open_store

log = logging.getLogger(__name__)
KINDS = {"labelled": (".csv",), "reports": (".jsonl", ".json")}
_DT = re.compile(r"(?:^|/)dt=(\d{4}-\d{2}-\d{2})(?:/|$)")


def identity(obj: ObjectInfo) -> str:
    return f"{obj.key}|{obj.size}|{obj.version}"


def pseudonymise(reporter_id: str | None, key: bytes) -> str | None:
    """Keyed hash of a reporter id: stable across runs, not reversible without the key."""
    if reporter_id is None or reporter_id == "":
        return reporter_id
    return (
        "r_" + hmac.new(key, reporter_id.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:16]
    )


def taken_files(lake: Store, kind: str) -> set[str]:
    return {s["identity"] for m in lake.committed(f"ingest/{kind}") for s in m.get("sources", [])}


def pending_files(landing: Store, lake: Store, kind: str, until: date | None) -> tuple[list, list]:
    """Landing files of ``kind`` not yet taken (up to ``until``), and files ignored with a reason."""
    taken = taken_files(lake, kind)
    pending, ignored = [], []
    for obj in landing.list(kind):
        name = obj.key.rsplit("/", 1)[-1]
        if name.startswith((".", "_")):
            continue
        if not obj.key.endswith(KINDS[kind]):
            ignored.append({"key": obj.key, "reason": f"not a {'/'.join(KINDS[kind])} file"})
            continue
        m = _DT.search(obj.key)
        if until and m and date.fromisoformat(m.group(1)) > until:
            continue  # a future partition: a later logical date takes it
        if identity(obj) not in taken:
            pending.append(obj)
    return pending, ignored


def to_frames(kind: str, key: str, parsed: Parsed, run_id: str, pseudonym_key: bytes):
    """Lake rows and quarantine rows (DataFrames) from one parsed landing file."""
    m = _DT.search(key)
    batch_dt = m.group(1) if m else ""
    columns = LABELLED_COLUMNS if kind == "labelled" else REPORT_COLUMNS
    good = []
    for row in parsed.rows:
        raw_text = row.get("text")
        rec = {c: row.get(c) for c in columns}
        rec["text_raw"] = raw_text
        rec["text"] = normalise_text(raw_text) if isinstance(raw_text, str) else raw_text
        if kind == "reports":
            rec["reporter_id"] = pseudonymise(rec["reporter_id"], pseudonym_key)
        extra = {k: v for k, v in row.items() if k not in columns and k != "_line"}
        rec.update(
            batch_dt=batch_dt,
            source_file=key,
            source_line=row["_line"],
            ingest_run=run_id,
            extra=json.dumps(extra, ensure_ascii=False, sort_keys=True) if extra else "",
        )
        good.append(rec)
    bad = [
        {
            "source_file": key,
            "source_line": r["_line"],
            "stage": "ingest",
            "reason": r["reason"],
            "raw": r["raw"],
            "batch_dt": batch_dt,
            "ingest_run": run_id,
        }
        for r in parsed.rejects
    ]
    str_cols = [*columns, "text_raw", "batch_dt", "source_file", "ingest_run", "extra"]
    good_df = pd.DataFrame(good, columns=[*str_cols, "source_line"]).astype({c: "string" for c in str_cols})
    good_df["source_line"] = good_df["source_line"].astype("int64")
    return good_df, pd.DataFrame(
        bad, columns=["source_file", "source_line", "stage", "reason", "raw", "batch_dt", "ingest_run"]
    )


def ingest_kind(landing: Store, lake: Store, kind: str, until: date | None, pseudonym_key: bytes) -> dict:
    """Take every pending landing file of one kind into one committed ingest run."""
    pending, ignored = pending_files(landing, lake, kind, until)
    summary: dict[str, Any] = {
        "files": 0,
        "rows_in": 0,
        "rows_parsed": 0,
        "rows_quarantined": 0,
        "run_id": None,
        "ignored": ignored,
        "notes": [],
    }
    if not pending:
        return summary
    run_id = hashlib.sha256("\n".join(sorted(map(identity, pending))).encode()).hexdigest()[:16]
    goods, bads, sources = [], [], []
    for obj in pending:
        data = landing.read_bytes(obj.key)
        parsed = parse_csv(data) if kind == "labelled" else parse_jsonl(data)
        good, bad = to_frames(kind, obj.key, parsed, run_id, pseudonym_key)
        goods.append(good)
        bads.append(bad)
        sources.append(
            {
                "identity": identity(obj),
                "key": obj.key,
                "size": obj.size,
                "version": obj.version,
                "rows_in": parsed.rows_in,
                "rows_parsed": len(good),
                "rows_quarantined": len(bad),
                "note": parsed.note,
            }
        )
        if parsed.note:
            summary["notes"].append(f"{landing.url(obj.key)}: {parsed.note}")
        for r in parsed.rejects[:3]:
            log.warning("%s line %s: %s", landing.url(obj.key), r["_line"], r["reason"])
        if len(parsed.rejects) > 3:
            log.warning("%s: %d more rows quarantined", landing.url(obj.key), len(parsed.rejects) - 3)
    good_all = pd.concat(goods, ignore_index=True)
    bad_all = pd.concat(bads, ignore_index=True)
    prefix, qprefix = f"ingest/{kind}/run={run_id}", f"quarantine/ingest/{kind}/run={run_id}"
    lake.write_parquet(f"{prefix}/part-0000.parquet", good_all)
    lake.write_parquet(f"{qprefix}/rows.parquet", bad_all)
    lake.commit(qprefix, ["rows.parquet"], {"run_id": run_id, "rows": len(bad_all)})
    lake.commit(
        prefix,
        ["part-0000.parquet"],
        {
            "run_id": run_id,
            "kind": kind,
            "sources": sources,
            "rows": len(good_all),
            "rows_quarantined": len(bad_all),
        },
    )
    summary.update(
        files=len(pending),
        rows_in=int(sum(s["rows_in"] for s in sources)),
        rows_parsed=len(good_all),
        rows_quarantined=len(bad_all),
        run_id=run_id,
    )
    return summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", help="logical date YYYY-MM-DD: take partitions dt <= date (default: all)")
    parser.add_argument("--landing", help="landing zone URI (default: settings.landing_uri)")
    parser.add_argument("--lake", help="lake URI (default: settings.lake_uri)")


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    try:
        until = date.fromisoformat(args.date) if args.date else None
    except ValueError:
        raise HarmwatchError(f"--date {args.date!r} is not a YYYY-MM-DD date") from None
    landing = open_store(args.landing or settings.landing_uri)
    lake = open_store(args.lake or settings.lake_uri)
    key = settings.pseudonym_key.get_secret_value().encode()
    kinds = {kind: ingest_kind(landing, lake, kind, until, key) for kind in KINDS}
    return {
        "landing_uri": landing.uri,
        "lake_uri": lake.uri,
        "files": sum(k["files"] for k in kinds.values()),
        "rows_in": sum(k["rows_in"] for k in kinds.values()),
        "rows_parsed": sum(k["rows_parsed"] for k in kinds.values()),
        "rows_quarantined": sum(k["rows_quarantined"] for k in kinds.values()),
        "kinds": kinds,
    }

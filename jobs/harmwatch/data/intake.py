"""Reading one landing file into lake and quarantine rows: the work of ingest on either engine.

The pandas engine calls it per file in its process, the Spark engine per file in its Python workers.
"""

from __future__ import annotations

import logging
from typing import Any

from harmwatch.data import landing
from harmwatch.data.authority import digest
from harmwatch.data.parsing import parse_csv, parse_jsonl
from harmwatch.storage import ObjectInfo, Store

log = logging.getLogger(__name__)


def read_file(
    landing_store: Store, kind: str, obj: ObjectInfo, run: str, key: bytes, max_bytes: int
) -> tuple[Any, ...]:
    """(lake rows, quarantine rows, the manifest's source entry) of one landing file.

    A file above ``max_bytes`` is not read at all: it is quarantined whole (:func:`landing.oversize`).
    """
    sha256 = None  # the digest the review-pull ledger is checked against (data/authority.py)
    if obj.size > max_bytes:
        parsed = landing.oversize(kind, obj, max_bytes)
    else:
        data = landing_store.read_bytes(obj.key)
        sha256 = digest(data)
        if len(data) > max_bytes:  # grew since it was listed
            parsed = landing.oversize(kind, ObjectInfo(obj.key, len(data), obj.version), max_bytes)
        else:
            parsed = parse_csv(data) if kind == "labelled" else parse_jsonl(data)
        del data
    good, bad = landing.to_frames(kind, obj.key, parsed, run, key)
    url = landing_store.url(obj.key)
    for r in parsed.rejects[:3]:
        log.warning("%s line %s: %s", url, r["_line"], r["reason"])
    if len(parsed.rejects) > 3:
        log.warning("%s: %d more rows quarantined", url, len(parsed.rejects) - 3)
    source = {
        "identity": landing.identity(obj),
        "key": obj.key,
        "size": obj.size,
        "version": obj.version,
        "sha256": sha256,
        "rows_in": parsed.rows_in,
        "rows_parsed": len(good),
        "rows_quarantined": len(bad),
        "note": parsed.note,
    }
    return good, bad, source

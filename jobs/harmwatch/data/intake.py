"""Reading one landing file into lake and quarantine rows: the work of ingest on either engine.

The pandas engine streams each file (:func:`read_chunks`): a chunk of records is parsed, turned into
lake and quarantine rows and handed on before the next is read, so memory follows the chunk, not the
file. The Spark engine calls :func:`read_file` per file in its Python workers (the same chunks, joined).
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterator
from typing import IO, Any

import pandas as pd

from harmwatch.data import landing
from harmwatch.data.parsing import CHUNK_ROWS, Parsed, iter_csv, iter_jsonl
from harmwatch.storage import BLOCK, ObjectInfo, Store

log = logging.getLogger(__name__)
Chunk = tuple[pd.DataFrame, pd.DataFrame, dict | None]  # lake rows, quarantine rows, source (last only)


class _Digest(io.RawIOBase):
    """The landing file's bytes as they are read, hashed on the way: the sha256 the review-pull ledger
    is checked against (:mod:`harmwatch.data.authority`), without holding the file."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream, self.sha = stream, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self.stream.read(len(buffer))
        self.sha.update(data)
        buffer[: len(data)] = data
        return len(data)


def _parsed(
    landing_store: Store, kind: str, obj: ObjectInfo, max_bytes: int, chunk_rows: int, found: dict
) -> Iterator[Parsed]:
    """The file's parsed chunks; ``found`` gets its ``sha256`` once it has been read to the end.

    A file above ``max_bytes`` is not read at all: it is quarantined whole (:func:`landing.oversize`),
    also when it grew past the limit between the listing and the read.
    """
    if obj.size > max_bytes:
        yield landing.oversize(kind, obj, max_bytes)
        return
    stream, size = landing_store.open_read(obj.key)
    with stream:
        if size > max_bytes:  # grew since it was listed
            yield landing.oversize(kind, ObjectInfo(obj.key, size, obj.version), max_bytes)
            return
        digest = _Digest(stream)
        reader = io.BufferedReader(digest, BLOCK)
        yield from (
            iter_csv(reader, chunk_rows=chunk_rows) if kind == "labelled" else iter_jsonl(reader, chunk_rows)
        )
        found["sha256"] = digest.sha.hexdigest()


def read_chunks(
    landing_store: Store,
    kind: str,
    obj: ObjectInfo,
    run: str,
    key: bytes,
    max_bytes: int,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[Chunk]:
    """(lake rows, quarantine rows, None) per chunk of at most ``chunk_rows`` records of one landing
    file, the last with the manifest's source entry in place of None. Rows, row numbers and reasons are
    those of the file parsed whole; the first three quarantined rows are logged, then how many more."""
    found: dict[str, Any] = {"sha256": None}
    url = landing_store.url(obj.key)
    rows_in = rows_parsed = rows_quarantined = 0
    chunks = _parsed(landing_store, kind, obj, max_bytes, chunk_rows, found)
    parsed = next(chunks)  # a parse always yields its last chunk, empty or not
    while True:
        for r in parsed.rejects[: max(0, 3 - rows_quarantined)]:
            log.warning("%s line %s: %s", url, r["_line"], r["reason"])
        good, bad = landing.to_frames(kind, obj.key, parsed, run, key)
        rows_in += parsed.rows_in
        rows_parsed += len(good)
        rows_quarantined += len(bad)
        following = next(chunks, None)
        if following is None:
            break
        yield good, bad, None
        parsed = following
    if rows_quarantined > 3:
        log.warning("%s: %d more rows quarantined", url, rows_quarantined - 3)
    source = {
        "identity": landing.identity(obj),
        "key": obj.key,
        "size": obj.size,
        "version": obj.version,
        "sha256": found["sha256"],
        "rows_in": rows_in,
        "rows_parsed": rows_parsed,
        "rows_quarantined": rows_quarantined,
        "note": parsed.note,
    }
    yield good, bad, source


def joined(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Chunks' frames as one (the empty ones left out, unless all are empty)."""
    full = [f for f in frames if len(f)]
    if len(full) <= 1:
        return full[0] if full else frames[0]
    return pd.concat(full, ignore_index=True)


def read_file(
    landing_store: Store, kind: str, obj: ObjectInfo, run: str, key: bytes, max_bytes: int
) -> tuple[Any, ...]:
    """(lake rows, quarantine rows, the manifest's source entry) of one landing file, whole: the chunks
    of :func:`read_chunks` joined."""
    chunks = list(read_chunks(landing_store, kind, obj, run, key, max_bytes))
    return joined([c[0] for c in chunks]), joined([c[1] for c in chunks]), chunks[-1][2]

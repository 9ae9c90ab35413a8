"""Ingest: parse landing files that were not taken before into the lake, with lineage.

Which files were taken is the union of the ``sources`` of every committed ingest manifest, keyed by
file identity (:func:`harmwatch.data.landing.identity`). A run id is a hash of the identities it takes,
so a run killed before its manifest reruns into the same folder and overwrites its own uncommitted
files; a rerun after success finds nothing new and adds nothing.

Inputs: the landing zone (``--landing``, default ``settings.landing_uri``), partitions ``dt <= --date``.
Outputs (:mod:`harmwatch.data.catalog`): an ingest run and its quarantine per kind, each committed by a
manifest written last. Summary: files, ``rows_in``, ``rows_parsed``, ``rows_quarantined`` per kind.
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from datetime import date
from typing import Any

from harmwatch.config import Settings
from harmwatch.data import catalog, landing
from harmwatch.data.intake import read_chunks
from harmwatch.data.keys import adopt_key, require_key
from harmwatch.data.parsing import CHUNK_ROWS
from harmwatch.errors import HarmwatchError
from harmwatch.spark.engine import add_engine_argument, choose
from harmwatch.storage import ObjectInfo, Store, open_store


def taken_files(lake: Store, kind: str) -> set[str]:
    return {s["identity"] for m in lake.committed(catalog.ingest_runs(kind)) for s in m.get("sources", [])}


def pending_files(landing_store: Store, lake: Store, kind: str, until: date | None) -> tuple[list, list]:
    """Landing files of ``kind`` not yet taken (up to ``until``), and files ignored with a reason."""
    taken = taken_files(lake, kind)
    suffixes = landing.SUFFIXES[kind]
    pending: list[ObjectInfo] = []
    ignored = [{"key": key, "reason": reason} for key, reason in landing_store.irregular(kind)]
    for obj in landing_store.list(kind):
        name = obj.key.rsplit("/", 1)[-1]
        if name.startswith((".", "_")):
            continue
        if not obj.key.endswith(suffixes):
            ignored.append({"key": obj.key, "reason": f"not a {'/'.join(suffixes)} file"})
            continue
        if problem := landing.partition_problem(obj.key):
            ignored.append({"key": obj.key, "reason": problem})
            continue
        day = landing.batch_date(obj.key)
        if until and day and date.fromisoformat(day) > until:
            continue  # a future partition: a later logical date takes it
        if landing.identity(obj) not in taken:
            pending.append(obj)
    return pending, ignored


def write_run(
    landing_store: Store,
    lake: Store,
    kind: str,
    pending: list,
    run: str,
    key: bytes,
    limits: tuple[int, int],
) -> list[dict]:
    """Stream the ``pending`` files into the run's Parquet file and its quarantine's (a row group per
    chunk), published when all are read; the manifest's source entries. ``limits``: the largest file
    read (bytes) and the records per chunk, so memory follows the chunk, not the files."""
    max_bytes, chunk_rows = limits
    prefix, qprefix = catalog.ingest_run(kind, run), catalog.quarantine_run("ingest", kind, run)
    sources = []
    with ExitStack() as files:  # left in reverse: the lake rows are published first, then the quarantine
        bad_out = files.enter_context(
            lake.parquet_writer(f"{qprefix}/{catalog.QUARANTINE_ROWS}", landing.quarantine_schema())
        )
        good_out = files.enter_context(lake.parquet_writer(f"{prefix}/{catalog.PART}"))
        for obj in pending:
            for good, bad, source in read_chunks(landing_store, kind, obj, run, key, max_bytes, chunk_rows):
                good_out.write(good)
                bad_out.write(bad)
                if source is not None:
                    sources.append(source)
    return sources


def ingest_kind(
    landing_store: Store,
    lake: Store,
    kind: str,
    pending: list,
    ignored: list,
    key: bytes,
    max_bytes: int,
    chunk_rows: int = CHUNK_ROWS,
) -> dict:
    """Take the pending landing files of one kind (:func:`pending_files`) into one committed ingest run,
    streamed a chunk of ``chunk_rows`` records at a time (:func:`write_run`): no file, and no run, is
    ever held whole. Rows keep the order of the files and of their lines."""
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
    run = landing.run_id(pending)
    sources = write_run(landing_store, lake, kind, pending, run, key, (max_bytes, chunk_rows))
    rows_parsed = sum(s["rows_parsed"] for s in sources)
    rows_quarantined = sum(s["rows_quarantined"] for s in sources)
    summary["notes"] = [f"{landing_store.url(s['key'])}: {s['note']}" for s in sources if s["note"]]
    qprefix = catalog.quarantine_run("ingest", kind, run)
    lake.commit(qprefix, [catalog.QUARANTINE_ROWS], {"run_id": run, "rows": rows_quarantined})
    lake.commit(
        catalog.ingest_run(kind, run),
        [catalog.PART],
        {
            "run_id": run,
            "kind": kind,
            "landing_uri": landing_store.uri,  # lineage: which landing zone this run read
            "sources": sources,
            "rows": rows_parsed,
            "rows_quarantined": rows_quarantined,
            "ignored": ignored,
        },
    )
    summary.update(
        files=len(pending),
        rows_in=int(sum(s["rows_in"] for s in sources)),
        rows_parsed=rows_parsed,
        rows_quarantined=rows_quarantined,
        run_id=run,
    )
    return summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", help="logical date YYYY-MM-DD: take partitions dt <= date (default: all)")
    parser.add_argument("--landing", help="landing zone URI (default: settings.landing_uri)")
    parser.add_argument("--lake", help="lake URI (default: settings.lake_uri)")
    add_engine_argument(parser)


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    try:
        until = date.fromisoformat(args.date) if args.date else None
    except ValueError:
        raise HarmwatchError(f"--date {args.date!r} is not a YYYY-MM-DD date") from None
    landing_store = open_store(args.landing or settings.landing_uri, settings)
    lake = open_store(args.lake or settings.lake_uri, settings)
    require_key(lake, settings.pseudonym_key_id)  # pseudonyms under another key would split reporters
    key = settings.pseudonym_key.get_secret_value().encode()
    pending = {kind: pending_files(landing_store, lake, kind, until) for kind in catalog.KINDS}
    size = sum(o.size for files, _ignored in pending.values() for o in files)
    engine = choose(settings, getattr(args, "engine", None), size)
    if engine == "spark":
        from harmwatch.spark import ingest as spark_ingest
        from harmwatch.spark.session import spark_session

        with spark_session(settings, "ingest") as spark:
            kinds = {
                kind: spark_ingest.ingest_kind(
                    spark,
                    landing_store,
                    lake,
                    kind,
                    *pending[kind],
                    key,
                    settings.s3_max_attempts,
                    settings.landing_max_bytes,
                )
                for kind in catalog.KINDS
            }
    else:
        kinds = {
            kind: ingest_kind(landing_store, lake, kind, *pending[kind], key, settings.landing_max_bytes)
            for kind in catalog.KINDS
        }
    totals = {
        k: sum(s[k] for s in kinds.values()) for k in ("files", "rows_in", "rows_parsed", "rows_quarantined")
    }
    if totals["files"]:
        adopt_key(lake, settings.pseudonym_key_id)  # after the commits: a crash before leaves no record
    return {
        "landing_uri": landing_store.uri,
        "lake_uri": lake.uri,
        **totals,
        "kinds": kinds,
        "engine": engine,
    }

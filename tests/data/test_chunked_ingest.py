"""Ingest streams a landing file a chunk of records at a time, and the lake does not know it did.

A file larger than the chunk (here: chunks of 3 records) must give the same lake rows, quarantine rows
(row numbers and reasons included), manifests and log lines as the same file taken in one chunk, and
the parser must hand out its first chunk long before it has read the whole file.
"""

from __future__ import annotations

import io
import json
import logging

import pandas as pd

from harmwatch.data import catalog
from harmwatch.data.parsing import iter_csv, iter_jsonl
from harmwatch.steps.ingest import ingest_kind, pending_files
from harmwatch.storage import LocalStore
from tests.factories import LANDING_HEADER, report_line
from tests.fixtures.broken_landing import CASES

T = "2026-01-01T10:00:00Z"
KEY = b"k" * 32


def _csv() -> bytes:
    """Good rows around every kind of broken record, spread over more than one chunk."""
    body = [f"p{i},post number {i},age,{T},m{i % 3}\n" for i in range(1, 5)]
    body += [
        '"p5","a post\nover two lines",gender,' + T + ",m1\r\n",  # quoted newline, CRLF
        "p6,too,many,fields,here,and,more\n",  # line 8: ragged
        "\n",  # blank: not a record
        f"p7,nul\x00inside,age,{T},m2\n",  # line 10: NUL
        f"p8,caf\xe9,age,{T},m1\n",  # line 11: latin-1 byte (written as such below)
        f'p9,"bad"quote,age,{T},m1\n',  # line 12: malformed
    ]
    body += [f"q{i},another post {i},religion,{T},m0\n" for i in range(10)]
    body.append(f'p10,"never closed,age,{T},m1\nq99,swallowed,age,{T},m0\n')  # line 23: to the end
    return LANDING_HEADER.encode() + "".join(body).encode("utf-8").replace(b"caf\xc3\xa9", b"caf\xe9")


def _jsonl() -> bytes:
    lines = [report_line(f"r{i}") for i in range(1, 6)]
    lines += ['{"report_id": "x", "post_id":', "[1, 2]", "", "\x00", '"text"']
    lines += [report_line(f"s{i}") for i in range(6)]
    return ("\n".join(lines) + "\n").encode()


def _landing(root) -> LocalStore:
    files = {
        "labelled/dt=2026-01-01/big.csv": _csv(),
        "reports/dt=2026-01-01/big.jsonl": _jsonl(),
        **{case.key: case.data for case in CASES},
    }
    for key, data in files.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return LocalStore(root)


def _ingest(landing: LocalStore, lake: LocalStore, chunk_rows: int) -> dict:
    return {
        kind: ingest_kind(
            landing, lake, kind, *pending_files(landing, lake, kind, None), KEY, 10**6, chunk_rows
        )
        for kind in catalog.KINDS
    }


def _folder(lake: LocalStore, prefix: str) -> tuple[pd.DataFrame, dict]:
    (manifest,) = lake.committed(prefix)
    (entry,) = manifest.pop("files")
    return lake.read_parquet(f"{manifest['prefix']}/{entry['name']}"), manifest


def test_chunked_ingest_gives_the_rows_of_a_whole_parse(tmp_path, caplog):
    landing = _landing(tmp_path / "landing")
    with caplog.at_level(logging.WARNING, logger="harmwatch.data.intake"):
        whole = _ingest(landing, LocalStore(tmp_path / "whole"), 10**6)
        logged_whole = [r.getMessage() for r in caplog.records]
        caplog.clear()
        chunked = _ingest(landing, LocalStore(tmp_path / "chunked"), 3)
        logged_chunked = [r.getMessage() for r in caplog.records]
    assert chunked == whole
    assert logged_chunked == logged_whole
    for kind in catalog.KINDS:
        for prefix in (catalog.ingest_runs(kind), f"quarantine/ingest/{kind}"):
            rows, manifest = _folder(LocalStore(tmp_path / "chunked"), prefix)
            rows_whole, manifest_whole = _folder(LocalStore(tmp_path / "whole"), prefix)
            pd.testing.assert_frame_equal(rows, rows_whole)
            assert manifest == manifest_whole
    rows, manifest = _folder(LocalStore(tmp_path / "chunked"), "quarantine/ingest/labelled")
    mine = rows[rows["source_file"] == "labelled/dt=2026-01-01/big.csv"]
    assert [(n, r.split(" (")[0]) for n, r in zip(mine["source_line"], mine["reason"], strict=True)] == [
        (8, "expected 5 fields, found 7"),
        (10, "NUL byte in record"),
        (11, "invalid UTF-8 bytes"),
        (12, "malformed CSV record"),
        (23, "malformed CSV record"),
    ]
    lake_rows, _ = _folder(LocalStore(tmp_path / "chunked"), "ingest/labelled")
    big = lake_rows[lake_rows["source_file"] == "labelled/dt=2026-01-01/big.csv"]
    assert big["source_line"].tolist() == [2, 3, 4, 5, 6, *range(13, 23)]
    reports, _ = _folder(LocalStore(tmp_path / "chunked"), "quarantine/ingest/reports")
    mine = reports[reports["source_file"] == "reports/dt=2026-01-01/big.jsonl"]
    assert mine["source_line"].tolist() == [6, 7, 9, 10]
    assert any("big.csv line 8: expected 5 fields, found 7" in line for line in logged_chunked)


def test_the_parser_hands_out_a_chunk_before_reading_the_whole_file():
    row = f"p,{'a post of some length ' * 4},age,{T},m\n".encode()
    data = LANDING_HEADER.encode() + row * 20_000  # about 2.4 MB
    stream = io.BytesIO(data)
    first = next(iter_csv(stream, chunk_rows=100))
    assert first.rows_in == 100 and first.rows[-1]["_line"] == 101
    assert stream.tell() < len(data) // 20, "the parser read far past its first chunk"
    lines = b"".join(
        json.dumps({"report_id": str(i), "text": "t" * 100}).encode() + b"\n" for i in range(20_000)
    )
    stream = io.BytesIO(lines)
    first = next(iter_jsonl(stream, chunk_rows=100))
    assert first.rows_in == 100 and first.rows[-1]["_line"] == 100
    assert stream.tell() < len(lines) // 20

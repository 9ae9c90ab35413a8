"""Property-based fuzzing of the landing parsers: never a traceback, every record accounted for.

Hypothesis generates random bytes, CSV-shaped and JSON-lines-shaped files (with BOMs, CRLF, quotes,
NULs, invalid UTF-8 and random delimiters mixed in). The parsers must return, not raise, and their
accounting must be exact: ``rows_in == len(rows) + len(rejects)``. The end-to-end property through
ingest and validate (``rows_in == rows_valid + rows_quarantined``) is checked on a smaller number of
examples, because each one runs Great Expectations.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harmwatch.cli import main
from harmwatch.data.parsing import iter_csv, iter_jsonl, parse_csv, parse_jsonl

HEADER = b"post_id,text,label,labelled_at,labeller_id"
LABELS = ["age", "gender", "religion", "ethnicity", "other_cyberbullying", "not_cyberbullying", "spam", ""]
NASTY = ["\x00", "\r", "\n", '"', ",", ";", "\t", "\ufeff", "&amp;", "Ã°Â", "<script>", "\\", "\u2028"]

text_st = st.lists(st.one_of(st.text(max_size=20), st.sampled_from(NASTY)), max_size=6).map("".join)
field_st = st.one_of(text_st, st.sampled_from(LABELS), st.just("2026-01-01T10:00:00Z"))


@st.composite
def csv_files(draw) -> bytes:
    delim = draw(st.sampled_from([",", ",", ",", ";", "\t"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    rows = []
    for _ in range(draw(st.integers(0, 8))):
        fields = draw(st.lists(field_st, min_size=0, max_size=7))
        quoted = [f'"{f.replace(chr(34), chr(34) * 2)}"' if draw(st.booleans()) else f for f in fields]
        rows.append(delim.join(quoted))
    head = draw(st.sampled_from([HEADER, HEADER.replace(b",", delim.encode()), b"id,text", b""]))
    body = newline.join(rows).encode("utf-8", "surrogatepass")
    data = (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + head + newline.encode() + body
    if draw(st.booleans()):  # sprinkle raw bytes: invalid UTF-8, latin-1, truncation
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.binary(max_size=8)) + data[cut:]
    return data


@st.composite
def jsonl_files(draw) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["object", "object", "garbage", "array", "scalar", "blank"]))
        if kind == "object":
            keys = draw(
                st.lists(
                    st.sampled_from(
                        ["report_id", "post_id", "text", "reporter_id", "reason", "reported_at", "extra"]
                    ),
                    unique=True,
                )
            )
            obj = {
                k: draw(st.one_of(field_st, st.integers(), st.none(), st.lists(st.integers(), max_size=2)))
                for k in keys
            }
            lines.append(json.dumps(obj, ensure_ascii=draw(st.booleans())).encode())
        elif kind == "garbage":
            lines.append(draw(st.binary(max_size=30)).replace(b"\n", b""))
        elif kind == "array":
            lines.append(b"[1, 2]")
        elif kind == "scalar":
            lines.append(json.dumps(draw(st.one_of(st.integers(), st.text(max_size=5)))).encode())
        else:
            lines.append(b"   ")
    return draw(st.sampled_from([b"\n", b"\r\n"])).join(lines)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.binary(max_size=400), csv_files()))
def test_csv_parser_accounts_for_every_record(data: bytes):
    parsed = parse_csv(data)
    assert parsed.rows_in == len(parsed.rows) + len(parsed.rejects)
    for reject in parsed.rejects:
        assert reject["reason"] and reject["_line"] >= 1
        reject["raw"].encode("utf-8")  # the quarantine can always store it
    for row in parsed.rows:
        assert "\x00" not in "".join(v for v in row.values() if isinstance(v, str))


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.binary(max_size=400), jsonl_files()))
def test_jsonl_parser_accounts_for_every_record(data: bytes):
    parsed = parse_jsonl(data)
    body = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "surrogateescape")
    non_blank = sum(1 for line in body.split("\n") if line.strip())  # blank lines are not records
    assert parsed.rows_in == non_blank
    assert parsed.rows_in == len(parsed.rows) + len(parsed.rejects)


@settings(max_examples=200, deadline=None)
@given(
    data=st.one_of(st.binary(max_size=300), csv_files(), jsonl_files()),
    chunk_rows=st.integers(1, 3),
    kind=st.sampled_from(["csv", "jsonl"]),
)
def test_parsing_in_chunks_gives_what_parsing_whole_gives(data: bytes, chunk_rows: int, kind: str):
    """Rows, line numbers, reasons, raw records and the note are the same whatever the chunk size, and
    no chunk holds more than its records (ingest streams large files this way)."""
    whole = parse_csv(data) if kind == "csv" else parse_jsonl(data)
    stream = io.BytesIO(data)
    chunks = list(
        iter_csv(stream, chunk_rows=chunk_rows) if kind == "csv" else iter_jsonl(stream, chunk_rows)
    )
    assert all(c.rows_in <= chunk_rows for c in chunks)
    assert [r for c in chunks for r in c.rows] == whole.rows
    assert [r for c in chunks for r in c.rejects] == whole.rejects
    assert chunks[-1].note == whole.note


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(csv_data=st.one_of(st.binary(max_size=300), csv_files()), jsonl_data=jsonl_files())
@example(  # found by this test: an extra column whose name has invalid bytes, above a valid row
    csv_data=b"post_id,text,label,labelled_at,labeller_i\xa5\xa3d\np1,hello,age,2026-01-01T10:00:00Z,x\n",
    jsonl_data=b"",
)
def test_ingest_and_validate_never_lose_a_row(csv_data: bytes, jsonl_data: bytes, monkeypatch, capsys):
    home = Path(tempfile.mkdtemp(prefix="hw-fuzz-"))
    try:
        monkeypatch.setenv("HARMWATCH_HOME", str(home))
        (home / "landing/labelled/dt=2026-01-01").mkdir(parents=True)
        (home / "landing/reports/dt=2026-01-01").mkdir(parents=True)
        (home / "landing/labelled/dt=2026-01-01/fuzz.csv").write_bytes(csv_data)
        (home / "landing/reports/dt=2026-01-01/fuzz.jsonl").write_bytes(jsonl_data)
        assert main(["ingest"]) == 0
        ingested = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        code = main(["validate", "--date", "2026-01-01"])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        assert code == 0, err
        summary = json.loads(out.strip().splitlines()[-1])
        assert summary["rows_in"] == ingested["rows_in"]
        assert summary["rows_in"] == summary["rows_valid"] + summary["rows_quarantined"]
    finally:
        shutil.rmtree(home, ignore_errors=True)

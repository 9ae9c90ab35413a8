"""Robust parsers for landing files: never raise on bad bytes, account for every record.

A parser returns a :class:`Parsed`: the records it could read (as dicts of strings, each with the
1-based line where it starts) and the records it could not (with a one-sentence reason). Nothing is
dropped: ``rows_in == len(rows) + len(rejects)``. Field-level checks (unknown labels, bad timestamps,
missing ids) are left to ``validate``; these parsers only deal with bytes, encodings and structure.

The parsers stream: :func:`iter_csv` and :func:`iter_jsonl` read a binary stream and yield a
:class:`Parsed` per ``chunk_rows`` records, holding one chunk and the record being read, so a landing
file's size does not set ingest's memory. :func:`parse_csv` and :func:`parse_jsonl` are the same
parsers over bytes in memory, their chunks joined.
"""

from __future__ import annotations

import csv
import html
import io
import itertools
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

LABELLED_COLUMNS = ("post_id", "text", "label", "labelled_at", "labeller_id")
LABELLED_REQUIRED = ("post_id", "text", "label", "labelled_at")
REPORT_COLUMNS = ("report_id", "post_id", "text", "reporter_id", "reason", "reported_at")
MAX_FIELD = 16 * 1024 * 1024  # a record larger than this is quarantined, not parsed
CHUNK_ROWS = 20_000  # records per chunk: about 40 MB of parsed rows at the real data's text lengths
BOM = b"\xef\xbb\xbf"
_DELIMITERS = (",", ";", "\t", "|")
_WS = re.compile(r"\s+")


@dataclass
class Parsed:
    rows: list[dict] = field(default_factory=list)  # each has "_line" and the file's fields
    rejects: list[dict] = field(default_factory=list)  # each has "_line", "reason", "raw"
    note: str = ""  # file-level remark (e.g. delimiter guessed, empty file)

    @property
    def rows_in(self) -> int:
        return len(self.rows) + len(self.rejects)


def decode(data: bytes) -> str:
    """UTF-8 with BOM stripped; invalid bytes kept as surrogates so the row can be quarantined."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", errors="surrogateescape")


_BAD_BYTE = re.compile("[\udc80-\udcff]")


def has_bad_bytes(text: str) -> bool:
    return _BAD_BYTE.search(text) is not None


def all_utf8(text: str) -> bool:
    """True when ``decode`` found no invalid bytes (checked once per file, at C speed)."""
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def printable_raw(text: str, limit: int = 2000) -> str:
    """The raw record as valid UTF-8 for the quarantine: bad bytes shown as \\xNN, NUL as \\x00."""
    try:
        out = text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate from a \\ud800 escape, not an undecodable byte
        out = text.encode("utf-8", errors="backslashreplace").decode("utf-8")
    out = out.replace("\x00", "\\x00")
    return out if len(out) <= limit else out[:limit] + f"... [{len(out)} chars]"


def normalise_text(text: str) -> str:
    """Clean text for modelling: mojibake (ftfy), HTML entities, Unicode NFC, collapsed whitespace.

    ftfy's full ``fix_text`` is slow and also rewrites good text (it uncurls quotes), so it only
    repairs texts its badness heuristic flags as mojibake; entities are unescaped where an ``&`` is.
    """
    if not text.isascii():
        from ftfy import fix_encoding
        from ftfy.badness import is_bad

        if is_bad(text):
            text = fix_encoding(text)
        text = unicodedata.normalize("NFC", text)
    for _ in range(3):  # some posts were escaped twice (&amp;amp;)
        if "&" not in text or (unescaped := html.unescape(text)) == text:
            break
        text = unescaped
    return _WS.sub(" ", text).strip()


def _reject(line: int, reason: str, raw: str) -> dict:
    return {"_line": line, "reason": reason, "raw": printable_raw(raw)}


def _pick_delimiter(header_line: str, required: tuple[str, ...]) -> str | None:
    for delim in _DELIMITERS:
        try:
            cols = [c.strip().lower() for c in next(csv.reader([header_line], delimiter=delim), [])]
        except csv.Error:  # garbage (a stray CR, say) cannot be a header under any delimiter
            return None
        if all(r in cols for r in required):
            return delim
    return None


def _text(stream: IO[bytes], newline: str) -> io.TextIOWrapper:
    """The stream as text, decoded as :func:`decode` decodes (BOM dropped, bad bytes as surrogates).

    ``newline=""`` splits lines where :mod:`csv` expects them (``\\n``, ``\\r\\n`` or ``\\r``, kept);
    ``newline="\\n"`` splits on ``\\n`` only. The BOM is dropped here rather than by the ``utf-8-sig``
    codec, whose incremental decoder loses a file that is only the first byte or two of a BOM.
    """
    head = b""
    while len(head) < len(BOM) and (more := stream.read(len(BOM) - len(head))):
        head += more
    if head != BOM:
        stream = io.BufferedReader(_Prefixed(head, stream))
    return io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline=newline)


class _Prefixed(io.RawIOBase):
    """``head`` then the rest of ``stream``: the bytes read to look for a BOM, given back."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self.head, self.stream = head, stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n], self.head = self.head[:n], self.head[n:]
            return n
        data = self.stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _Lines:
    """The physical lines csv.reader reads, kept while their record is read (a malformed record is shown
    whole), and whether any line so far had more than whitespace (a file that has none is empty)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines, self.seen, self.blank = lines, [], True

    def __iter__(self) -> Iterator[str]:
        for line in self.lines:
            if self.blank and line.strip():
                self.blank = False
            self.seen.append(line)
            yield line


def _delimiter(lines: Iterator[str], required: tuple[str, ...]) -> tuple[list[str], str | None]:
    """The lines up to the first "\\n" (taken from ``lines``) and the delimiter their header line has."""
    head: list[str] = []
    for line in lines:
        head.append(line)
        if line.endswith("\n") or sum(map(len, head)) > MAX_FIELD:
            break
    return head, _pick_delimiter("".join(head).split("\n", 1)[0].rstrip("\r"), required)


def _header(reader: Any, delim: str | None, required: tuple[str, ...]) -> tuple[list[str], str]:
    """The header's column names and the file's note (why no row can be read, or an unusual delimiter)."""
    note = ""
    try:
        # A column name with invalid bytes is kept, shown as \xNN: it names an extra column of valid rows.
        header = [
            printable_raw(c.strip().lower()) if has_bad_bytes(c) else c.strip().lower()
            for c in next(reader, [])
        ]
    except csv.Error as exc:
        note = f"unreadable header ({exc})"
        header = []
    if delim is None:
        note = f"header lacks required columns {[c for c in required if c not in header]}"
    elif delim != ",":
        note = f"delimiter {delim!r} instead of ','"
    return header, note


def iter_csv(
    stream: IO[bytes], required: tuple[str, ...] = LABELLED_REQUIRED, chunk_rows: int = CHUNK_ROWS
) -> Iterator[Parsed]:
    """Parse a labelled-posts CSV (header row, quoted newlines, CRLF, BOM, ragged or broken rows), a
    chunk of at most ``chunk_rows`` records at a time. The last chunk is always yielded, possibly
    empty, and carries the file's note."""
    lines = iter(_text(stream, newline=""))
    head, delim = _delimiter(lines, required)
    physical = _Lines(itertools.chain(head, lines))
    csv.field_size_limit(MAX_FIELD)
    reader = csv.reader(physical, delimiter=delim or ",", strict=True)
    header, note = _header(reader, delim, required)
    out = Parsed(note=note)
    start = reader.line_num + 1
    physical.seen.clear()
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            out.rejects.append(_reject(start, f"malformed CSV record ({exc})", _physical(physical.seen)))
            start = reader.line_num + 1
        else:
            line, start = start, reader.line_num + 1
            if record and (len(record) > 1 or record[0].strip()):  # a blank line is not a record
                _take(out, record, line, delim, header)
        physical.seen.clear()
        if out.rows_in >= chunk_rows:
            yield out
            out = Parsed(note=note)
    if physical.blank:
        out.note = "empty file"
    yield out


def _physical(lines: list[str]) -> str:
    """A record's physical lines as the file has them, without the newline that ends the last."""
    raw = "".join(lines)
    return raw[:-1] if raw.endswith("\n") else raw


def _take(out: Parsed, record: list[str], line: int, delim: str | None, header: list[str]) -> None:
    """One CSV record into the rows, or into the rejects with the reason."""
    raw = (delim or ",").join(record)
    if delim is None:
        out.rejects.append(_reject(line, out.note, raw))
    elif len(record) != len(header):
        out.rejects.append(_reject(line, f"expected {len(header)} fields, found {len(record)}", raw))
    elif has_bad_bytes(raw):
        out.rejects.append(_reject(line, "invalid UTF-8 bytes (landing files must be UTF-8)", raw))
    elif "\x00" in raw:
        out.rejects.append(_reject(line, "NUL byte in record", raw))
    else:
        out.rows.append({"_line": line, **dict(zip(header, record, strict=True))})


def iter_jsonl(stream: IO[bytes], chunk_rows: int = CHUNK_ROWS) -> Iterator[Parsed]:
    """Parse JSON lines (one object per line; blank lines skipped, anything else accounted for), a chunk
    of at most ``chunk_rows`` records at a time; the last chunk is always yielded and carries the note."""
    out = Parsed()
    blank = True
    for number, line in enumerate(_text(stream, newline="\n"), start=1):
        line = line.rstrip("\n").rstrip("\r")
        if not line.strip():
            continue
        blank = False
        if has_bad_bytes(line):
            out.rejects.append(_reject(number, "invalid UTF-8 bytes (landing files must be UTF-8)", line))
        elif "\x00" in line:
            out.rejects.append(_reject(number, "NUL byte in record", line))
        else:
            try:
                out.rows.append(_json_record(line, number))
            except _Unreadable as exc:
                out.rejects.append(_reject(number, str(exc), line))
            except Exception as exc:  # totality: a record the rules above missed still ends somewhere
                out.rejects.append(_reject(number, f"unreadable record ({type(exc).__name__})", line))
        if out.rows_in >= chunk_rows:
            yield out
            out = Parsed()
    if blank:
        out.note = "empty file"
    yield out


def joined(chunks: Iterable[Parsed]) -> Parsed:
    """One :class:`Parsed` from a file's chunks (the note is the last chunk's)."""
    out = Parsed()
    for chunk in chunks:
        out.rows += chunk.rows
        out.rejects += chunk.rejects
        out.note = chunk.note
    return out


def parse_csv(data: bytes, required: tuple[str, ...] = LABELLED_REQUIRED) -> Parsed:
    """:func:`iter_csv` over bytes in memory, in one piece."""
    return joined(iter_csv(io.BytesIO(data), required))


def parse_jsonl(data: bytes) -> Parsed:
    """:func:`iter_jsonl` over bytes in memory, in one piece."""
    return joined(iter_jsonl(io.BytesIO(data)))


class _Unreadable(ValueError):
    """A JSON line that cannot be taken; the message is the quarantine reason."""


def _json_record(line: str, number: int) -> dict:
    """One JSON line as a row of strings, or :class:`_Unreadable` with the reason.

    ``json.loads`` raises more than ``JSONDecodeError``: ``ValueError`` for an integer past Python's digit
    limit (4300), ``RecursionError`` for deep nesting. A ``\\ud800`` escape decodes to a lone surrogate,
    which no UTF-8 writer (Parquet, the quarantine) can store, so such a record is refused here too.
    """
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _Unreadable(f"invalid JSON ({exc.msg})") from None
    except RecursionError:
        raise _Unreadable("invalid JSON (nested too deeply)") from None
    except ValueError as exc:
        detail = str(exc).split(";")[0].split(":")[0]
        raise _Unreadable(f"invalid JSON (number too long: {detail})") from None
    if not isinstance(obj, dict):
        raise _Unreadable(f"JSON {type(obj).__name__} instead of an object")
    row: dict = {"_line": number}
    for key, value in obj.items():
        key = str(key)
        if value is None or isinstance(value, str):
            row[key] = value
        else:  # numbers, lists...: keep them as JSON text, validate decides
            try:
                row[key] = json.dumps(value, ensure_ascii=False)
            except (RecursionError, ValueError):
                raise _Unreadable(f"field {printable_raw(key, 80)!r} nested too deeply") from None
    if "\\u" in line and not all_utf8(
        "".join(k + (v if isinstance(v, str) else "") for k, v in row.items() if k != "_line")
    ):
        raise _Unreadable("lone surrogate escape (\\uD800-\\uDFFF) in a string: not valid Unicode text")
    return row

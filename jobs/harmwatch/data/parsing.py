"""Robust parsers for landing files: never raise on bad bytes, account for every record.

A parser returns a :class:`Parsed`: the records it could read (as dicts of strings, each with the
1-based line where it starts) and the records it could not (with a one-sentence reason). Nothing is
dropped: ``rows_in == len(rows) + len(rejects)``. Field-level checks (unknown labels, bad timestamps,
missing ids) are left to ``validate``; these parsers only deal with bytes, encodings and structure.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import unicodedata
from dataclasses import dataclass, field

LABELLED_COLUMNS = ("post_id", "text", "label", "labelled_at", "labeller_id")
LABELLED_REQUIRED = ("post_id", "text", "label", "labelled_at")
REPORT_COLUMNS = ("report_id", "post_id", "text", "reporter_id", "reason", "reported_at")
MAX_FIELD = 16 * 1024 * 1024  # a record larger than this is quarantined, not parsed
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


def parse_csv(data: bytes, required: tuple[str, ...] = LABELLED_REQUIRED) -> Parsed:
    """Parse a labelled-posts CSV: header row, quoted newlines, CRLF, BOM, ragged or broken rows."""
    out = Parsed()
    text = decode(data)
    if not text.strip():
        out.note = "empty file"
        return out
    clean_bytes = all_utf8(text)
    first_line = text.split("\n", 1)[0].rstrip("\r")
    delim = _pick_delimiter(first_line, required)
    csv.field_size_limit(MAX_FIELD)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim or ",", strict=True)
    try:
        # A column name with invalid bytes is kept, shown as \xNN: it names an extra column of valid rows.
        header = [
            printable_raw(c.strip().lower()) if has_bad_bytes(c) else c.strip().lower() for c in next(reader)
        ]
    except csv.Error as exc:
        out.note = f"unreadable header ({exc})"
        header = []
    if delim is None:
        missing = [c for c in required if c not in header]
        out.note = f"header lacks required columns {missing}"
    elif delim != ",":
        out.note = f"delimiter {delim!r} instead of ','"
    start = reader.line_num + 1
    lines: list[str] = []  # split lazily: only a malformed record needs its physical lines
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            lines = lines or text.split("\n")
            raw = "\n".join(lines[start - 1 : reader.line_num])
            out.rejects.append(_reject(start, f"malformed CSV record ({exc})", raw))
            start = reader.line_num + 1
            continue
        line, start = start, reader.line_num + 1
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # blank line: not a record
        raw = (delim or ",").join(record)
        if delim is None:
            out.rejects.append(_reject(line, out.note, raw))
        elif len(record) != len(header):
            out.rejects.append(_reject(line, f"expected {len(header)} fields, found {len(record)}", raw))
        elif not clean_bytes and has_bad_bytes(raw):
            out.rejects.append(_reject(line, "invalid UTF-8 bytes (landing files must be UTF-8)", raw))
        elif "\x00" in raw:
            out.rejects.append(_reject(line, "NUL byte in record", raw))
        else:
            out.rows.append({"_line": line, **dict(zip(header, record, strict=True))})
    return out


def parse_jsonl(data: bytes) -> Parsed:
    """Parse JSON lines: one object per line; blank lines are skipped, anything else accounted for."""
    out = Parsed()
    text = decode(data)
    if not text.strip():
        out.note = "empty file"
        return out
    clean_bytes = all_utf8(text)
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        if not clean_bytes and has_bad_bytes(line):
            out.rejects.append(_reject(number, "invalid UTF-8 bytes (landing files must be UTF-8)", line))
            continue
        if "\x00" in line:
            out.rejects.append(_reject(number, "NUL byte in record", line))
            continue
        try:
            row = _json_record(line, number)
        except _Unreadable as exc:
            out.rejects.append(_reject(number, str(exc), line))
            continue
        except Exception as exc:  # totality: a record the rules above missed still ends somewhere
            out.rejects.append(_reject(number, f"unreadable record ({type(exc).__name__})", line))
            continue
        out.rows.append(row)
    return out


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

"""The landing zone's files and what ingest makes of them: pure functions, no storage calls.

A landing file is ``labelled/dt=YYYY-MM-DD/<name>.csv`` or ``reports/dt=YYYY-MM-DD/<name>.jsonl``
(docs/architecture.md, "Contracts"). Ingest keys a file by its identity (key, size, and the S3 ETag or local
mtime), so a file rewritten with new content is a new file and an untouched one is never taken twice.

**No raw identifier reaches the lake, by construction.** Parsed reports get the keyed hash in
``reporter_id`` and labelled posts in ``labeller_id`` (``m_``, as the review loop's annotators). What is
not parsed into a known column cannot be trusted to be free of ids, whatever its field is called
(``reporter\\u005fid``, a zero-width space in the name, a CSV line in a ``.jsonl`` file, ``key=value``):

- an extra field keeps its value only when the field is declared here with the form its value must have
  (:data:`PLAIN_EXTRA`, the review loop's provenance); any other value is pseudonymised field by field
  (every leaf of a nested value), and a field name that is not a plain identifier is hashed too;
- a quarantined line keeps a keyed digest (to find it in the landing zone beside ``source_file`` and
  ``source_line``), the reason, and the line *scrubbed* (:func:`scrub`): every ``reporter_id`` value it
  can find replaced by the lake's hash (:func:`pseudonymise_raw`, so it can still be tied to the
  reporter), then every letter and digit outside known field names and hashes masked. The structure of
  the line stays visible for diagnosis; no id can survive the mask.

The untouched line stays where it arrived, in the landing zone, whose access is its own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from datetime import date

import pandas as pd

from harmwatch.data.dataset import text_key
from harmwatch.data.parsing import LABELLED_COLUMNS, REPORT_COLUMNS, Parsed, normalise_text
from harmwatch.data.suites import KIND_SPEC, ts_epoch
from harmwatch.storage import ObjectInfo

SUFFIXES = {"labelled": (".csv",), "reports": (".jsonl", ".json")}
DERIVED = ("key", "ts_epoch")  # stored with every lake row by :func:`with_derived`
QUARANTINE_COLUMNS = ["source_file", "source_line", "stage", "reason", "raw", "batch_dt", "ingest_run"]
_DT = re.compile(r"(?:^|/)dt=(\d{4}-\d{2}-\d{2})(?:/|$)")


def quarantine_schema():  # -> pyarrow.Schema (imported lazily)
    """The quarantine's column types, fixed: a chunk without quarantined rows cannot infer them."""
    import pyarrow as pa

    return pa.schema([(c, pa.int64() if c == "source_line" else pa.string()) for c in QUARANTINE_COLUMNS])


def identity(obj: ObjectInfo) -> str:
    return f"{obj.key}|{obj.size}|{obj.version}"


def batch_date(key: str) -> str:
    """The ``dt=`` partition of a landing key, '' when it has none."""
    m = _DT.search(key)
    return m.group(1) if m else ""


def partition_problem(key: str) -> str:
    """Why a landing key's ``dt=`` folder is not a partition ('' when it is, or when it has none).

    ``dt=2026-13-45`` looks like one but names no day: taken, it would fail every later date comparison.
    """
    for part in key.split("/")[:-1]:
        if part.startswith("dt="):
            try:
                if _DT.fullmatch(part) and date.fromisoformat(part[3:]):
                    continue
            except ValueError:
                pass
            return f"partition {part!r} is not a YYYY-MM-DD date: not read"
    return ""


def oversize(kind: str, obj: ObjectInfo, limit: int) -> Parsed:
    """A landing file above the size limit, quarantined whole without being read: one record, line 0."""
    reason = (
        f"file of {obj.size} bytes is larger than the landing limit of {limit} bytes "
        "(HARMWATCH_LANDING_MAX_BYTES): not read; split it into smaller files"
    )
    return Parsed(rejects=[{"_line": 0, "reason": reason, "raw": ""}], note=reason)


def run_id(files: Iterable[ObjectInfo]) -> str:
    """An ingest run's id: a hash of the identities it takes, so a rerun lands in the same folder."""
    return hashlib.sha256("\n".join(sorted(map(identity, files))).encode()).hexdigest()[:16]


def pseudonymise(reporter_id: str | None, key: bytes) -> str | None:
    """Keyed hash of a reporter id: stable across runs, not reversible without the key."""
    if reporter_id is None or reporter_id == "":
        return reporter_id
    try:
        data = reporter_id.encode("utf-8", "surrogateescape")  # an undecodable byte hashes as itself
    except UnicodeEncodeError:  # a lone surrogate (a \\ud800 escape in a quarantined line)
        data = reporter_id.encode("utf-8", "surrogatepass")
    return "r_" + hmac.new(key, data, hashlib.sha256).hexdigest()[:16]


# A reporter_id key (any case, quoted or not, JSON-escaped quotes too) and its value: a double-quoted
# string (closed or cut off), a single-quoted one, a string inside escaped JSON, or a bare token.
_REPORTER = re.compile(
    r"""(?P<key>\\?["']?reporter_id\\?["']?\s*:\s*)"""
    r"""(?P<value>\\"(?:(?!\\").)*(?:\\")?|"(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?|[^\s,}\]]+)""",
    re.IGNORECASE,
)


def _reporter_value(value: str) -> str:
    """The id a matched value stands for, as a parsed report would hold it (JSON-decoded when it can)."""
    if value.startswith('\\"'):
        return value[2:].removesuffix('\\"')
    if value.startswith('"'):
        try:
            decoded = json.loads(value if value.endswith('"') and len(value) > 1 else value + '"')
            return decoded if isinstance(decoded, str) else value
        except ValueError:
            return value.strip('"')
    return value.strip("'")


def pseudonymise_raw(raw: str, key: bytes) -> str:
    """A raw report line with every ``reporter_id`` value, and every other copy of it, pseudonymised.

    Best effort by construction (the line did not parse), on the field's name: a well-formed value gets
    the hash the lake's ``reporter_id`` column would hold, so a quarantined line can still be tied to the
    reporter's other reports; a cut-off one gets the hash of what is left.
    """
    found: list[str] = []

    def swap(match: re.Match) -> str:
        rid = _reporter_value(match.group("value"))
        found.append(rid)
        return f'{match.group("key")}"{pseudonymise(rid, key) or ""}"'

    out = _REPORTER.sub(swap, raw)
    for rid in sorted({r for r in found if len(r) >= 3}, key=len, reverse=True):
        out = out.replace(rid, pseudonymise(rid, key) or "")
    return out


# Extra fields kept verbatim, each only when its value has this form (the review loop's provenance,
# review/outcomes.py LANDING_COLUMNS); every other extra value is pseudonymised.
_PSEUDONYM = r"[rm]_[0-9a-f]{16}"
_TIMESTAMP = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
PLAIN_EXTRA: dict[str, re.Pattern] = {
    "review_item": re.compile(r"[0-9a-f]{16}"),
    "review_task": re.compile(r"\d{1,12}"),
    "review_outcome": re.compile(r"[a-z_]{1,32}"),
    "lead_time_seconds": re.compile(r"\d{1,9}(?:\.\d{1,6})?"),
    "annotators": re.compile(rf"(?:{_PSEUDONYM}(?:\|{_PSEUDONYM})*)?"),
    "annotated_at": re.compile(_TIMESTAMP),
    "queued_on": re.compile(_TIMESTAMP),
}
_PLAIN_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
# What survives the mask of a quarantined line: known field names, hashes, JSON literals.
_KNOWN_WORDS = frozenset([*LABELLED_COLUMNS, *REPORT_COLUMNS, *PLAIN_EXTRA, "true", "false", "null", "x00"])
_WORD = re.compile(r"[^\W_]+(?:_[^\W_]+)*")


def labeller_pseudonym(labeller_id: str | None, key: bytes) -> str | None:
    """A labeller's pseudonym: ``m_`` + the keyed hash (as the review loop's annotators); one that
    already is a pseudonym (a review-pull landing file) is kept."""
    if not labeller_id or re.fullmatch(_PSEUDONYM, labeller_id):
        return labeller_id
    return "m_" + (pseudonymise(labeller_id, key) or "")[2:]


def _scrub_value(value: object, key: bytes) -> object:
    """Every leaf of a decoded JSON value pseudonymised (booleans and null kept: they name no one)."""
    if isinstance(value, dict):
        return {_field_name(str(k), key): _scrub_value(v, key) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_value(v, key) for v in value]
    if value is None or isinstance(value, bool):
        return value
    return pseudonymise(str(value), key)


def _field_name(name: str, key: bytes) -> str:
    return name if _PLAIN_NAME.fullmatch(name) else "k_" + (pseudonymise(name, key) or "")[2:]


def scrub_extra(extra: dict[str, object], key: bytes) -> dict[str, object]:
    """Fields that are not known columns, pseudonymised field by field (see the module docstring)."""
    out: dict[str, object] = {}
    for name, value in extra.items():
        form = PLAIN_EXTRA.get(name)
        if value is None or (form is not None and isinstance(value, str) and form.fullmatch(value)):
            out[name] = value
            continue
        if isinstance(value, str) and value[:1] in ("{", "["):  # a nested JSON value, kept as JSON text
            try:
                out[_field_name(name, key)] = _scrub_value(json.loads(value), key)
                continue
            except (ValueError, RecursionError):
                pass
        out[_field_name(name, key)] = pseudonymise(str(value), key)
    return out


def raw_digest(raw: str, key: bytes) -> str:
    """A keyed digest of a quarantined record: equal records match, and no one can test guesses of it."""
    data = raw.encode("utf-8", "backslashreplace")
    return hmac.new(key, b"quarantine\0" + data, hashlib.sha256).hexdigest()[:16]


def scrub(raw: str, key: bytes) -> str:
    """A quarantined record as the lake keeps it: its digest, then the record with reporter ids hashed
    and every other word masked unless it is a known field name or a hash (``*`` per character)."""
    hashed = pseudonymise_raw(raw, key)

    def mask(match: re.Match) -> str:
        word = match.group(0)
        if word.lower() in _KNOWN_WORDS or re.fullmatch(_PSEUDONYM, word):
            return word
        return "*" * len(word)

    return f"[hmac {raw_digest(raw, key)}] " + _WORD.sub(mask, hashed)


def to_frames(
    kind: str, key: str, parsed: Parsed, run: str, pseudonym_key: bytes
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Lake rows and quarantine rows from one parsed landing file.

    Lake rows keep the raw text (``text_raw``) beside the normalised one, lineage (file and line),
    extra columns as JSON, and the derived ``key`` and ``ts_epoch`` (:func:`with_derived`); reporter
    ids are pseudonymised here, before anything is written.
    """
    batch_dt = batch_date(key)
    columns = LABELLED_COLUMNS if kind == "labelled" else REPORT_COLUMNS
    good = []
    for row in parsed.rows:
        raw_text = row.get("text")
        rec = {c: row.get(c) for c in columns}
        rec["text_raw"] = raw_text
        rec["text"] = normalise_text(raw_text) if isinstance(raw_text, str) else raw_text
        extra = scrub_extra(
            {k: v for k, v in row.items() if k not in columns and k != "_line"}, pseudonym_key
        )
        extra_json = json.dumps(extra, ensure_ascii=False, sort_keys=True) if extra else ""
        if kind == "reports":
            rec["reporter_id"] = pseudonymise(rec["reporter_id"], pseudonym_key)
        else:
            rec["labeller_id"] = labeller_pseudonym(rec["labeller_id"], pseudonym_key)
        rec.update(
            batch_dt=batch_dt, source_file=key, source_line=row["_line"], ingest_run=run, extra=extra_json
        )
        good.append(rec)
    bad = [
        {
            "source_file": key,
            "source_line": r["_line"],
            "stage": "ingest",
            "reason": r["reason"],
            "raw": scrub(r["raw"], pseudonym_key) if r["raw"] else "",
            "batch_dt": batch_dt,
            "ingest_run": run,
        }
        for r in parsed.rejects
    ]
    str_cols = [*columns, "text_raw", "batch_dt", "source_file", "ingest_run", "extra"]
    good_df = pd.DataFrame(good, columns=[*str_cols, "source_line"]).astype({c: "string" for c in str_cols})
    good_df["source_line"] = good_df["source_line"].astype("int64")
    return with_derived(good_df, kind), pd.DataFrame(bad, columns=QUARANTINE_COLUMNS)


def with_derived(rows: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Lake rows with the columns every later step derives from them, computed once and stored:
    ``key``, the text's dedup key (:func:`harmwatch.data.dataset.text_key`), and ``ts_epoch``, the row's
    timestamp (``labelled_at`` or ``reported_at``) in epoch seconds, null where it does not parse
    (:func:`harmwatch.data.suites.ts_epoch`). validate reads them instead of keying and parsing again."""
    rows["key"] = text_key(rows["text"]).astype("string")
    rows["ts_epoch"] = ts_epoch(rows[KIND_SPEC[kind]["ts"]]).astype("float64")
    return rows

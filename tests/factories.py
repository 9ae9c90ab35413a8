"""Small frames and landing files for tests, built from a few tuples.

Rows of the lake's validated tables (``validated/labelled``, ``validated/reports``) carry every column
ingest and validate write (docs/lake.md), so a core sees what it sees in a run; landing files are written
as they arrive (a header, one line per post).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from harmwatch.data.parsing import normalise_text

LABELLED_COLUMNS = [
    "post_id",
    "text",
    "text_raw",
    "label",
    "labelled_at",
    "labeller_id",
    "batch_dt",
    "source_file",
    "source_line",
    "ingest_run",
    "extra",
]
REPORT_COLUMNS = [
    "report_id",
    "post_id",
    "text",
    "text_raw",
    "reporter_id",
    "reason",
    "reported_at",
    "batch_dt",
    "source_file",
    "source_line",
    "ingest_run",
    "extra",
]
LANDING_HEADER = "post_id,text,label,labelled_at,labeller_id\n"


def labelled_rows(
    posts: pd.DataFrame, day: str, source_file: str | None = None, run: str = "r"
) -> pd.DataFrame:
    """``validated/labelled`` rows for ``posts`` (post_id, label, text and/or text_raw[, labelled_at]).

    ``text`` is what ingest stores (``text_raw`` normalised) when ``posts`` has no ``text``; moderators
    label at noon on ``day`` unless ``posts`` says when.
    """
    raw = posts["text_raw"] if "text_raw" in posts else posts["text"]
    text = posts["text"] if "text" in posts else raw.map(normalise_text)
    at = posts["labelled_at"] if "labelled_at" in posts else pd.Series(f"{day}T12:00:00Z", index=posts.index)
    return pd.DataFrame(
        {
            "post_id": posts["post_id"].to_numpy(),
            "text": text.to_numpy(),
            "text_raw": raw.to_numpy(),
            "label": posts["label"].to_numpy(),
            "labelled_at": at.to_numpy(),
            "labeller_id": "mod-01",
            "batch_dt": day,
            "source_file": source_file or f"labelled/dt={day}/batch.csv",
            "source_line": range(2, len(posts) + 2),
            "ingest_run": run,
            "extra": "{}",
        },
        columns=LABELLED_COLUMNS,
    )


def report_rows(
    reports: pd.DataFrame, day: str, source_file: str | None = None, run: str = "r"
) -> pd.DataFrame:
    """``validated/reports`` rows for ``reports`` (post_id, reporter_id, reason, text and/or text_raw
    [, report_id, reported_at]); reports come in at 09:00 on ``day`` unless ``reports`` says when."""
    raw = reports["text_raw"] if "text_raw" in reports else reports["text"]
    text = reports["text"] if "text" in reports else raw.map(normalise_text)
    n = len(reports)
    ids = reports["report_id"] if "report_id" in reports else pd.Series([f"{run}-{i}" for i in range(n)])
    at = reports["reported_at"] if "reported_at" in reports else pd.Series([f"{day}T09:00:00Z"] * n)
    return pd.DataFrame(
        {
            "report_id": ids.to_numpy(),
            "post_id": reports["post_id"].to_numpy(),
            "text": text.to_numpy(),
            "text_raw": raw.to_numpy(),
            "reporter_id": reports["reporter_id"].to_numpy(),
            "reason": reports["reason"].to_numpy(),
            "reported_at": at.to_numpy(),
            "batch_dt": day,
            "source_file": source_file or f"reports/dt={day}/reports.jsonl",
            "source_line": range(1, n + 1),
            "ingest_run": run,
            "extra": "{}",
        },
        columns=REPORT_COLUMNS,
    )


def labelled(
    rows: Iterable[Sequence[str]], day: str = "2026-01-01", file: str = "bulk.csv", **columns: Any
) -> pd.DataFrame:
    """``validated/labelled`` rows from ``(post_id, text, label[, labelled_at])`` tuples.

    Without a time, the rows are labelled a second apart from 10:00 on ``day`` (so "the later label" is
    always defined). ``columns`` replace or add columns (one value, or one per row).
    """
    rows = [tuple(row) for row in rows]
    posts = pd.DataFrame(
        {
            "post_id": [row[0] for row in rows],
            "text": [row[1] for row in rows],
            "label": [row[2] for row in rows],
            "labelled_at": [
                row[3] if len(row) > 3 else f"{day}T10:00:{i % 60:02d}Z" for i, row in enumerate(rows)
            ],
        }
    )
    return labelled_rows(posts, day, f"labelled/dt={day}/{file}").assign(**columns)


def reports(
    rows: Iterable[Sequence[str]], day: str = "2026-01-02", file: str = "reports.jsonl", **columns: Any
) -> pd.DataFrame:
    """``validated/reports`` rows from ``(post_id, text, reporter_id, reason)`` tuples, ids ``rep0``,
    ``rep1``, ..., all reported at 09:00 on ``day``; ``columns`` replace or add columns."""
    rows = [tuple(row) for row in rows]
    frame = pd.DataFrame(
        {
            "report_id": [f"rep{i}" for i in range(len(rows))],
            "post_id": [row[0] for row in rows],
            "text": [row[1] for row in rows],
            "reporter_id": [row[2] for row in rows],
            "reason": [row[3] for row in rows],
        }
    )
    return report_rows(frame, day, f"reports/dt={day}/{file}").assign(**columns)


def keyed(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the text key the dataset step groups posts by."""
    from harmwatch.data.dataset import text_key

    return frame.assign(key=text_key(frame["text"]))


def landing_csv(
    rows: Iterable[Sequence[str]], at: str = "2026-01-01T10:00:00Z", labeller: str = "mod-01"
) -> str:
    """A moderators' landing CSV: the header and a line per ``(post_id, text, label)``, written as given
    (a test that wants quoting or broken lines puts them in the text)."""
    return LANDING_HEADER + "".join(f"{pid},{text},{label},{at},{labeller}\n" for pid, text, label in rows)


def report_line(report_id: str, **fields: object) -> str:
    """One line of a reports landing file (JSON), a valid report unless ``fields`` change it (a field
    given as ``...`` is left out)."""
    record = {
        "report_id": report_id,
        "post_id": f"post-{report_id}",
        "text": "you are so old lol",
        "reporter_id": "u1",
        "reason": "age",
        "reported_at": "2026-01-01T10:00:00Z",
        **fields,
    }
    return json.dumps({key: value for key, value in record.items() if value is not ...})


def land(root: Path, key: str, content: str | bytes) -> Path:
    """Write a landing file at ``root/key`` (folders made as needed); returns its path."""
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def strings(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame's values as the lake's readers compare them across engines: strings, None for missing."""
    frame = frame.reset_index(drop=True).astype(object)
    return frame.where(frame.notna(), None).map(lambda v: None if v is None else str(v))


def weak_label_outcome(labelled_rows, report_rows, policy, champion=None, seed: int = 0):
    """(accepted weak labels, report rows held for review) of build-dataset's SQL plan on these rows."""
    from harmwatch.data import relational

    engine = relational.DuckDB()
    relational.load_frames(engine, labelled_rows, report_rows)
    return relational.weak_label_outcome(engine, policy, seed, champion)


def recent_slice(
    labelled: pd.DataFrame, train: pd.DataFrame, day: str, days: int, reviewed: Iterable[str] = ()
) -> tuple[pd.DataFrame, pd.DataFrame, str | None]:
    """(``train`` without the recent slice, the slice, why it is empty or None) by build-dataset's SQL
    (``recent_slice.sql``) for validated ``labelled`` rows (in read order) and a training snapshot: the
    shape of the pandas reference's ``hold_out_recent``."""
    from harmwatch.data import relational
    from harmwatch.data.dataset import window_start

    engine = relational.DuckDB()
    relational.load_frames(engine, labelled, pd.DataFrame(columns=REPORT_COLUMNS))
    engine.frame("train", train.astype("string"))
    relational.reviewed_table(engine, list(reviewed))
    relational.recent_rows(engine, window_start(day, days), False)
    got = relational.recent_slice(engine, day, days)
    kept = train[~train["key"].isin(got.rows["key"])].reset_index(drop=True)
    return kept, got.rows, got.note

"""validate's row checks as one SQL query (DuckDB) quarantine exactly the rows the Great Expectations row
suite quarantines, with the same reasons in the same order and the same per-expectation counts: on every
ingest run of the broken landing corpus, and on a frame built to fail each check (and several at once).
"""

from __future__ import annotations

import pandas as pd
import pytest

from harmwatch.cli import main
from harmwatch.config import CLASSES, load_settings
from harmwatch.data import catalog, row_checks
from harmwatch.data.checks import suite_row_reasons
from harmwatch.data.suites import Bounds
from harmwatch.storage import open_store
from tests.factories import labelled
from tests.fixtures.broken_landing import CASES, write_case

pytestmark = pytest.mark.slow  # the reference suite runs Great Expectations row by row

AS_OF = pd.Timestamp("2026-01-02", tz="UTC").timestamp()


def assert_same(frame: pd.DataFrame, kind: str, bounds: Bounds, as_of: float) -> pd.Series:
    expected, expected_records = suite_row_reasons(frame, kind, bounds, as_of)
    got, records = row_checks.check_rows(frame, kind, bounds, as_of)
    assert got.index.equals(expected.index)
    assert got.tolist() == expected.tolist(), pd.DataFrame({"suite": expected, "sql": got})[got != expected]
    assert records == expected_records
    return got


def test_broken_corpus_quarantines_the_same_rows_with_the_same_reasons(hw_env, capsys):
    for case in CASES:
        write_case(hw_env / "landing", case)
    assert main(["ingest"]) == 0, capsys.readouterr().err
    lake = open_store(load_settings().lake_uri)
    flagged = 0
    for kind in catalog.KINDS:
        for m in lake.committed(catalog.ingest_runs(kind)):
            frame = lake.read_parquet(f"{catalog.ingest_run(kind, m['run_id'])}/{catalog.PART}")
            flagged += int((assert_same(frame, kind, Bounds(), AS_OF) != "").sum())
    assert flagged > 0, "the corpus has rows the row checks quarantine"


def test_every_check_alone_and_together():
    frame = labelled([(f"p{i}", f"post {i}", CLASSES[i % 6]) for i in range(14)], file="a.csv")
    frame = frame.astype("string")
    frame.loc[3, "label"] = "spam"
    frame.loc[4, "text"] = "   "
    frame.loc[5, "post_id"] = "p0"  # a duplicate id: one copy is kept
    frame.loc[6, "text"] = "\u00a0\u2003"  # blank in Python's sense, not in ASCII's
    frame.loc[7, "labelled_at"] = "garbage"
    frame.loc[8, ["label", "text"]] = [None, "x" * 6000]
    frame.loc[9, "labelled_at"] = "2030-01-01T00:00:00Z"
    frame.loc[10, "text"] = "POST  1"  # the same text as row 1 under another label: warned, not quarantined
    frame.loc[11, ["post_id", "labelled_at"]] = [None, None]
    frame.loc[12, "text"] = "é" * 5000  # 5000 characters, more bytes: within bounds
    reasons = assert_same(frame, "labelled", Bounds(), AS_OF)
    assert reasons[8] == "text length outside [1, 5000]; label missing" and reasons[10] == reasons[12] == ""
    assert_same(frame, "labelled", Bounds(max_text_len=10), AS_OF)

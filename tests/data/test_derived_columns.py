"""The text key and the parsed timestamp are computed once, by ingest, and stored with the lake rows;
validate's row checks read them (and compute them only for a run ingested before they were stored)."""

from __future__ import annotations

import pandas as pd

from harmwatch.data.dataset import text_key
from harmwatch.data.landing import DERIVED, to_frames
from harmwatch.data.parsing import parse_csv, parse_jsonl
from harmwatch.data.row_checks import check_parquet, check_rows
from harmwatch.data.suites import Bounds, ts_epoch
from tests.factories import LANDING_HEADER, report_line

KEY = b"k" * 32
AS_OF = pd.Timestamp("2026-01-02", tz="UTC").timestamp()
ROWS = [
    "p1,Hello   World,age,2026-01-01T10:00:00Z,m1",
    "p2,hello world,gender,2026-01-01T11:00:00Z,m1",  # the same key as p1 under another label
    "p3,a post,age,not a time,m2",
    "p4,another &amp; post,religion,2026-01-01 12:00:00+01:00,m2",
    "p4,another post again,religion,2026-01-01T13:00:00Z,m2",  # duplicated id
    "p5,from the future,age,2027-01-01T00:00:00Z,m1",
]


def _labelled() -> pd.DataFrame:
    data = (LANDING_HEADER + "\n".join(ROWS) + "\n").encode()
    good, _bad = to_frames("labelled", "labelled/dt=2026-01-01/a.csv", parse_csv(data), "run", KEY)
    return good


def test_ingest_stores_the_text_key_and_the_parsed_timestamp():
    good = _labelled()
    assert good["key"].tolist() == text_key(good["text"]).tolist()
    assert good["key"].iloc[0] == good["key"].iloc[1] == "hello world"
    pd.testing.assert_series_equal(good["ts_epoch"], ts_epoch(good["labelled_at"]), check_names=False)
    assert pd.isna(good["ts_epoch"].iloc[2])
    assert good["ts_epoch"].iloc[3] == pd.Timestamp("2026-01-01T11:00:00Z").timestamp()
    lines = "\n".join([report_line("r1", reported_at="yesterday"), report_line("r2")]).encode()
    reports, _ = to_frames("reports", "reports/dt=2026-01-01/r.jsonl", parse_jsonl(lines), "run", KEY)
    assert reports["key"].tolist() == ["you are so old lol"] * 2
    assert pd.isna(reports["ts_epoch"].iloc[0]) and reports["ts_epoch"].iloc[1] > 0


def test_validate_reads_the_stored_columns_and_computes_them_only_when_absent(tmp_path):
    good = _labelled()
    bounds = Bounds()
    stored, records = check_rows(good, "labelled", bounds, AS_OF)
    computed, computed_records = check_rows(good.drop(columns=list(DERIVED)), "labelled", bounds, AS_OF)
    assert stored.tolist() == computed.tolist() and records == computed_records
    assert "timestamp" in stored.iloc[2] and "future" in stored.iloc[5] and "duplicated" in stored.iloc[3]
    path = tmp_path / "run.parquet"
    good.to_parquet(path, index=False)
    flagged, parquet_records, _per_file = check_parquet(str(path), "labelled", bounds, AS_OF)
    assert flagged["_row"].tolist() == [i for i, r in enumerate(stored) if r]
    assert flagged["_reason"].tolist() == [r for r in stored if r] and parquet_records == records
    # What the checks judge is what ingest stored: a stored timestamp that does not parse is flagged
    # although the text column would parse, and a key shared with another label makes a conflict.
    tampered = good.assign(ts_epoch=good["ts_epoch"].where(good.index != 0), key=good["key"])
    tampered.loc[5, "key"] = good["key"].iloc[3]  # p5 (age) now shares p4's text (religion)
    reasons, _ = check_rows(tampered, "labelled", bounds, AS_OF)
    assert "not an ISO 8601 timestamp" in reasons.iloc[0]
    counts = {r["name"]: r["unexpected"] for r in check_rows(tampered, "labelled", bounds, AS_OF)[1]}
    assert counts["label_variants"] == 4  # p1 and p2, and now p4 and p5

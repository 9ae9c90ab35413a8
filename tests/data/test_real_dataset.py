"""The front of the pipeline on the real dataset: every landed row ends in the lake or the quarantine."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harmwatch.config import load_settings
from harmwatch.storage import open_store
from tests.conftest import run_cli

pytestmark = pytest.mark.slow


def last_json(proc) -> dict:
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, source_csv):
    home = tmp_path_factory.mktemp("real")
    env = {"HARMWATCH_HOME": str(home), "HARMWATCH_SOURCE_CSV": str(source_csv)}
    sim = last_json(run_cli("simulate", env=env))
    ing = last_json(run_cli("ingest", env=env))
    val = last_json(run_cli("validate", env=env))
    return home, env, sim, ing, val


def test_nothing_lost(pipeline):
    _, _, sim, ing, val = pipeline
    assert ing["rows_in"] == sim["labelled_rows"] + sim["report_rows"]
    assert val["rows_in"] == ing["rows_in"]
    assert val["rows_in"] == val["rows_valid"] + val["rows_quarantined"]
    assert val["rows_valid"] > 0.99 * val["rows_in"]  # the real feed is mostly clean


def test_lake_matches_summary_and_text_is_clean(pipeline, monkeypatch):
    home, _, _, _, val = pipeline
    monkeypatch.setenv("HARMWATCH_HOME", str(home))
    lake = open_store(load_settings().lake_uri)
    valid = pd.concat(
        lake.read_parquet(f"{m['prefix']}/part-0000.parquet") for m in lake.committed("validated/labelled")
    )
    reports = pd.concat(
        lake.read_parquet(f"{m['prefix']}/part-0000.parquet") for m in lake.committed("validated/reports")
    )
    assert len(valid) + len(reports) == val["rows_valid"]
    assert not valid["text"].str.contains("&amp;", regex=False).any()
    assert not valid["text"].str.contains("\n", regex=False).any()
    assert valid["text_raw"].str.contains("&amp;", regex=False).sum() > 1000  # raw kept as landed
    fixed = valid[valid["text_raw"].str.contains("Ã°Â", regex=False)]  # double-encoded emoji
    assert len(fixed) > 0 and not fixed["text"].str.contains("Ã°", regex=False).any()
    assert valid["source_line"].min() >= 2 and valid["source_file"].str.startswith("labelled/dt=").all()
    assert reports["reporter_id"].str.match(r"^r_[0-9a-f]{16}$").all()
    assert val["conflicting_label_rows"] > 1000  # the dataset's ~1,600 conflicting duplicates are flagged


def test_validation_report_written(pipeline):
    _, _, _, _, val = pipeline
    for page in val["report_html"]:
        html = Path(page).read_text(encoding="utf-8")
        assert "Content-Security-Policy" in html and "<script" not in html

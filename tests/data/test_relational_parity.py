"""build-dataset on DuckDB (the SQL of ``data/sql/``) writes what the pandas engine writes, through the CLI,
on the real dataset and on the corpus of broken landing files: the same training and evaluation snapshots,
recent slice, review queue and reporter table, row by row, the same manifests and the same summaries.

Ingest and validate run once; the validated lake is copied, and build-dataset runs on each copy with one
engine, twice (the second run reuses the frozen anchor and holds out a recent slice).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harmwatch.data import catalog
from tests.conftest import run_cli
from tests.fixtures.broken_landing import CASES, write_case
from tests.spark.conftest import comparable, engine_env, folder_rows, manifests, step

pytestmark = pytest.mark.slow

DATASETS = [
    catalog.TRAIN_SNAPSHOTS,
    catalog.EVAL_SNAPSHOTS,
    catalog.RECENT_SLICES,
    catalog.REVIEW_QUEUES,
    catalog.REPORTER_TABLES,
]
BUILDS = [["build-dataset", "--date", "2026-01-05"], ["build-dataset", "--recent-days", "2"]]


def build_both(tmp: Path, landing: Path, validate: list[str]) -> dict[str, dict]:
    base = tmp / "validated"
    env = engine_env(base, landing, "pandas")
    for cmd in (["ingest"], validate):
        code, _summary, err = step(env, *cmd)
        assert code in (0, 1), err  # the broken corpus rejects some batches (exit 1, rows quarantined)
    out = {}
    for engine in ("pandas", "duckdb"):
        home = tmp / engine
        shutil.copytree(base, home)
        env = engine_env(home, landing, engine)
        results = [step(env, *cmd)[:2] for cmd in BUILDS]
        out[engine] = {"home": home, "lake": str(home / "lake"), "results": results}
    return out


def assert_same(both: dict[str, dict]) -> None:
    pandas_run, duck_run = both["pandas"], both["duckdb"]
    for folder in DATASETS:
        expected = folder_rows(pandas_run["lake"], folder, ["key", "reporter_id"])
        got = folder_rows(duck_run["lake"], folder, ["key", "reporter_id"])
        assert list(got.columns) == list(expected.columns), folder
        assert got.equals(expected), folder
        got_meta = [comparable(m, duck_run["home"]) for m in manifests(duck_run["lake"], folder)]
        expected_meta = [comparable(m, pandas_run["home"]) for m in manifests(pandas_run["lake"], folder)]
        assert got_meta == expected_meta, folder
    for (pcode, psum), (dcode, dsum) in zip(pandas_run["results"], duck_run["results"], strict=True):
        assert dcode == pcode
        assert comparable(dsum, duck_run["home"]) == comparable(psum, pandas_run["home"])
    assert all(s["engine"] == "duckdb" for _code, s in duck_run["results"] if s)


def test_broken_corpus_same_datasets_and_summaries(tmp_path):
    landing = tmp_path / "landing"
    for case in CASES:
        write_case(landing, case)
    both = build_both(tmp_path, landing, ["validate", "--date", "2026-01-01"])
    assert_same(both)


def test_real_dataset_same_datasets_and_summaries(tmp_path, source_csv):
    sim = tmp_path / "sim"
    proc = run_cli("simulate", env={"HARMWATCH_HOME": str(sim), "HARMWATCH_SOURCE_CSV": str(source_csv)})
    assert proc.returncode == 0, proc.stderr
    both = build_both(tmp_path, sim / "landing", ["validate"])
    assert_same(both)
    (_, first), (_, second) = both["duckdb"]["results"]
    assert first["weak_labels_accepted"] > 0 and first["rows_review"] > 0  # the policy had work to do
    assert second["eval_reused"] and second["rows_recent"] > 0  # the anchor and the recent slice too

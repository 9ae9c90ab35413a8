"""The Spark engine writes what the one-process engine writes (ingest in Python, validate and build-dataset
on DuckDB, the same SQL as Spark's): same lake rows, quarantine (with reasons),
validated rows, datasets, review queue, reporter table and summaries, on the real dataset and on the
corpus of broken landing files.

Both engines run the real commands on the same landing zone, into two homes; every committed folder is
then compared row by row (sorted by lineage; Spark's part files are named differently, so manifests are
compared without their file lists).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from harmwatch.data import catalog
from harmwatch.storage import open_store
from tests.conftest import run_cli
from tests.fixtures.broken_landing import CASES, write_case
from tests.spark.conftest import DATASETS, comparable, engine_env, folder_rows, manifests, step

pytestmark = pytest.mark.spark

ENGINES = ("duckdb", "spark")
FOLDERS = [
    *(catalog.ingest_runs(k) for k in catalog.KINDS),
    *(catalog.quarantine_runs(s, k) for s in catalog.STAGES for k in catalog.KINDS),
    *(catalog.validated_runs(k) for k in catalog.KINDS),
]


def run_both(tmp: Path, landing: Path, commands: list[list[str]], mixed: bool = False) -> dict[str, dict]:
    """Each command on each engine, in order; per engine its home and every (code, summary). With
    ``mixed``, a copy of the Spark home after its first command (ingest) runs the rest on DuckDB, as
    ``engine=auto`` does with a landing day over its size limit whose Parquet is under it."""
    out = {}
    for engine in ENGINES:
        home = tmp / engine
        env = engine_env(home, landing, engine)
        results = [step(env, *commands[0])[:2]]
        if mixed and engine == "spark":
            shutil.copytree(home, tmp / "mixed")
        results += [step(env, *cmd)[:2] for cmd in commands[1:]]
        out[engine] = {"home": home, "lake": str(home / "lake"), "results": results}
    if mixed:
        home = tmp / "mixed"
        env = engine_env(home, landing, "duckdb")
        results = [step(env, *cmd)[:2] for cmd in commands[1:]]  # its ingest is Spark's
        out["mixed"] = {"home": home, "lake": str(home / "lake"), "results": results}
    return out


def assert_same_lake(both: dict[str, dict], folders: list[str], other: str = "spark") -> None:
    local_run, spark_run = both["duckdb"], both[other]
    for folder in folders:
        expected = folder_rows(local_run["lake"], folder)
        got = folder_rows(spark_run["lake"], folder)
        assert list(got.columns) == list(expected.columns), folder
        pd.testing.assert_frame_equal(got, expected, obj=folder)
        got_meta = [comparable(m, spark_run["home"]) for m in manifests(spark_run["lake"], folder)]
        expected_meta = [comparable(m, local_run["home"]) for m in manifests(local_run["lake"], folder)]
        assert got_meta == expected_meta, folder


def assert_same_summaries(both: dict[str, dict], other: str = "spark") -> None:
    for (pcode, psum), (scode, ssum) in zip(both["duckdb"]["results"], both[other]["results"], strict=True):
        assert scode == pcode
        assert comparable(ssum, both[other]["home"]) == comparable(psum, both["duckdb"]["home"])


@pytest.fixture(scope="module")
def broken(tmp_path_factory, java) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("broken")
    landing = tmp / "landing"
    for case in CASES:
        write_case(landing, case)
    return run_both(tmp, landing, [["ingest"], ["validate", "--date", "2026-01-01"], ["build-dataset"]])


@pytest.fixture(scope="module")
def real(tmp_path_factory, source_csv, java) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("real")
    sim = tmp / "sim"
    proc = run_cli("simulate", env={"HARMWATCH_HOME": str(sim), "HARMWATCH_SOURCE_CSV": str(source_csv)})
    assert proc.returncode == 0, proc.stderr
    return run_both(tmp, sim / "landing", [["ingest"], ["validate"], ["build-dataset"]], mixed=True)


def test_broken_corpus_same_lake_quarantine_datasets_and_summaries(broken):
    assert_same_lake(broken, FOLDERS + DATASETS)
    assert_same_summaries(broken)
    quarantined = folder_rows(broken["spark"]["lake"], "quarantine")
    assert len(quarantined) and quarantined["reason"].str.len().min() > 0  # every row keeps its reason


def test_real_dataset_same_lake_quarantine_datasets_and_summaries(real):
    assert_same_lake(real, FOLDERS + DATASETS)
    assert_same_summaries(real)
    (_, ingested), (_, validated), (_, built) = real["spark"]["results"]
    assert ingested["engine"] == validated["engine"] == built["engine"] == "spark"
    assert built["weak_labels_accepted"] > 0 and built["rows_review"] > 0  # the policy had work to do
    assert built["rows_recent"] > 0  # and the recent slice, read from the window's rows on both engines
    assert validated["rows_in"] == validated["rows_valid"] + validated["rows_quarantined"]


def test_a_spark_ingest_validated_and_built_in_one_process_gives_the_same_lake(real):
    """Spark writes a run as part files; validate and build-dataset on DuckDB read every one of them."""
    lake = open_store(real["mixed"]["lake"])
    parts = [len(m["files"]) for k in catalog.KINDS for m in lake.committed(catalog.ingest_runs(k))]
    assert max(parts) > 1, parts
    assert_same_lake(real, FOLDERS + DATASETS, other="mixed")
    after_ingest = {**real, "duckdb": {**real["duckdb"], "results": real["duckdb"]["results"][1:]}}
    assert_same_summaries(after_ingest, other="mixed")
    assert [s["engine"] for _code, s in real["mixed"]["results"]] == ["duckdb", "duckdb"]

"""Crash and rerun: a step SIGKILLed after writing part of its output, then rerun, gives the same
lake as an uninterrupted run, with no duplicate rows and nothing partial visible to the next step.

The kill is injected with HARMWATCH_FAULT_KILL_AT=write#N (harmwatch.faults): the step kills itself
right after its N-th durable storage write, i.e. with some output on disk and its manifest unwritten.
"""

from __future__ import annotations

import json
import signal

import pandas as pd
import pytest

from harmwatch.storage import open_store
from tests.conftest import run_cli

pytestmark = pytest.mark.slow

TABLES = [
    "validated/labelled",
    "validated/reports",
    "quarantine/ingest/labelled",
    "quarantine/ingest/reports",
    "quarantine/validate/labelled",
    "quarantine/validate/reports",
]


@pytest.fixture(scope="module")
def mini_source(tmp_path_factory, source_csv):
    """4,000 real posts: enough for every code path, small enough to run many times."""
    frame = pd.read_csv(source_csv, dtype=str, keep_default_na=False).sample(4000, random_state=11)
    path = tmp_path_factory.mktemp("src") / "mini.csv"
    frame.to_csv(path, index=False)
    return path


def env_for(home, source) -> dict[str, str]:
    return {"HARMWATCH_HOME": str(home), "HARMWATCH_SOURCE_CSV": str(source)}


def ok(proc) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def snapshot(home) -> dict[str, pd.DataFrame]:
    """Committed lake content, independent of run ids (which depend on file mtimes)."""
    lake = open_store(str(home / "lake"))
    out = {}
    for table in TABLES:
        frames = [
            lake.read_parquet(f"{m['prefix']}/{f['name']}") for m in lake.committed(table) for f in m["files"]
        ]
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        frame = frame.drop(columns=[c for c in ("ingest_run",) if c in frame.columns])
        if len(frame):
            frame = frame.sort_values(["source_file", "source_line"]).reset_index(drop=True)
        out[table] = frame
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory, mini_source):
    home = tmp_path_factory.mktemp("ref")
    env = env_for(home, mini_source)
    ok(run_cli("simulate", "--days", "2", env=env))
    ok(run_cli("ingest", env=env))
    ok(run_cli("validate", env=env))
    return snapshot(home)


def assert_same(got: dict, want: dict) -> None:
    for table in TABLES:
        assert len(got[table]) == len(want[table]), table
        if len(want[table]):
            pd.testing.assert_frame_equal(got[table], want[table], check_dtype=False, obj=table)


def killed(proc) -> bool:
    return proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("nth", [1, 5])  # mid-labelled; reports written after labelled committed
def test_ingest_killed_then_rerun(nth, tmp_path, mini_source, reference):
    env = env_for(tmp_path, mini_source)
    ok(run_cli("simulate", "--days", "2", env=env))
    crash = run_cli("ingest", env={**env, "HARMWATCH_FAULT_KILL_AT": f"write#{nth}"})
    assert killed(crash)
    assert any((tmp_path / "lake").rglob("*.parquet")), "the kill came after some output was written"
    # The next step sees only committed runs: nothing, or only the kind that was fully committed.
    ok(run_cli("validate", env=env))
    ok(run_cli("ingest", env=env))
    again = ok(run_cli("ingest", env=env))
    assert again["rows_in"] == 0
    ok(run_cli("validate", env=env))
    assert_same(snapshot(tmp_path), reference)
    lake = open_store(str(tmp_path / "lake"))
    keys = [
        s["key"]
        for m in lake.committed("ingest/labelled") + lake.committed("ingest/reports")
        for s in m["sources"]
    ]
    assert len(keys) == len(set(keys)), "a landing file was taken twice"


@pytest.mark.parametrize("nth", [2, 8])  # quarantine committed; second run half-written
def test_validate_killed_then_rerun(nth, tmp_path, mini_source, reference):
    env = env_for(tmp_path, mini_source)
    ok(run_cli("simulate", "--days", "2", env=env))
    ok(run_cli("ingest", env=env))
    crash = run_cli("validate", env={**env, "HARMWATCH_FAULT_KILL_AT": f"write#{nth}"})
    assert killed(crash)
    ok(run_cli("validate", env=env))
    assert ok(run_cli("validate", env=env))["runs"] == 0
    assert_same(snapshot(tmp_path), reference)

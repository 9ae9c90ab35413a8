"""The SQL plan (``data/sql/``, what build-dataset runs on DuckDB and on Spark) decides on the real dataset
and on the corpus of broken landing files what the pandas reference decides: the same training and
evaluation snapshots, review queue and reporter table, row by row, with the same versions, and the same
recent slice for windows of one to three days.

The landing zone is ingested and validated through the CLI; both definitions then read the validated
rows and decide twice, as two build-dataset runs do: first drawing the evaluation anchor, then reusing
it. The CLI's own outputs on DuckDB and on Spark are compared in ``tests/spark/test_parity.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harmwatch.data import catalog, relational
from harmwatch.data.dataset import Assembly
from harmwatch.data.snapshot_writer import provenance
from harmwatch.data.tables import read_committed
from harmwatch.data.weak_labels import Policy
from harmwatch.storage import open_store
from tests.conftest import run_cli
from tests.factories import recent_slice, strings
from tests.fixtures.broken_landing import CASES, write_case
from tests.jobs.test_relational import assert_same
from tests.reference import decisions as ref
from tests.spark.conftest import engine_env, step

pytestmark = pytest.mark.slow


def decide_both(tmp: Path, landing: Path, validate: list[str]) -> tuple[Assembly, Assembly, int]:
    """The validated lake of ``landing``, decided by each definition: the second decisions (the anchor of
    the first reused) of the SQL plan and of the pandas reference, after checking that the first agree,
    and the rows the recent slices of the SQL's training snapshot held (checked against the reference)."""
    home = tmp / "validated"
    env = engine_env(home, landing, "duckdb")
    for cmd in (["ingest"], validate):
        code, _summary, err = step(env, *cmd)
        assert code in (0, 1), err  # the broken corpus rejects some batches (exit 1, rows quarantined)
    lake = open_store(str(home / "lake"))
    labelled, _runs = read_committed(lake, catalog.validated_runs("labelled"))
    reports, _runs = read_committed(lake, catalog.validated_runs("reports"))
    reviewed = provenance(lake)["reviewed"]
    args = (labelled, reports, None, Policy(), 0.15, 42)
    first = relational.assemble(*args, reviewed=reviewed)
    assert_same(first, ref.assemble(*args, reviewed=reviewed))
    again = (labelled, reports, (first.eval, first.eval_version), Policy(), 0.15, 42)
    got, expected = relational.assemble(*again, reviewed=reviewed), ref.assemble(*again, reviewed=reviewed)
    return got, expected, same_recent_slices(labelled, got.train, reviewed)


def same_recent_slices(labelled, train, reviewed) -> int:
    """The recent slice of ``train`` by ``recent_slice.sql`` and by the reference, for windows of one to
    three days ending at the newest batch: the same rows, training remainder and note; the rows held."""
    day = str(labelled["batch_dt"].dropna().max())
    held = 0
    for days in (1, 2, 3):
        kept, recent, note = recent_slice(labelled, train, day, days, reviewed)
        ref_kept, ref_recent, ref_note = ref.hold_out_recent(labelled, train, day, days, reviewed)
        assert note == ref_note, days
        by_key = [strings(r.sort_values("key")) for r in (recent, ref_recent)]
        assert by_key[0].equals(by_key[1]), days
        assert sorted(kept["key"]) == sorted(ref_kept["key"]), days
        held += len(recent)
    return held


def test_broken_corpus_same_decisions(tmp_path):
    landing = tmp_path / "landing"
    for case in CASES:
        write_case(landing, case)
    got, expected, _held = decide_both(tmp_path, landing, ["validate", "--date", "2026-01-01"])
    assert_same(got, expected)
    assert len(got.train) and len(got.review)  # the corpus leaves rows to decide both ways


def test_real_dataset_same_decisions(tmp_path, source_csv):
    sim = tmp_path / "sim"
    proc = run_cli("simulate", env={"HARMWATCH_HOME": str(sim), "HARMWATCH_SOURCE_CSV": str(source_csv)})
    assert proc.returncode == 0, proc.stderr
    got, expected, held = decide_both(tmp_path, sim / "landing", ["validate"])
    assert_same(got, expected)
    assert held, "no window held anything out: the slices compared were empty"
    assert got.weak_labels > 0 and len(got.review) > 0  # the policy had work to do
    assert not got.eval_is_new and len(got.eval)  # the anchor was reused

"""build-dataset ``--incremental`` on the real dataset, landing day by day through ingest and validate,
writes what the full SQL plan writes on the same lake: the training and evaluation snapshots, the recent
slice, the review queue and the reporter table, row by row, and the same versions in the summary.
"""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import run_cli
from tests.spark.conftest import DATASETS, engine_env, folder_rows, step

pytestmark = pytest.mark.slow

FACTS = ("train_version", "eval_version", "review_version", "reporters_version", "recent_version")


def test_real_days_folded_one_by_one_equal_the_full_plan(tmp_path, source_csv):
    sim = tmp_path / "sim"
    proc = run_cli("simulate", env={"HARMWATCH_HOME": str(sim), "HARMWATCH_SOURCE_CSV": str(source_csv)})
    assert proc.returncode == 0, proc.stderr
    days = sorted({p.name for p in (sim / "landing").glob("*/dt=*")})
    landing, home = tmp_path / "landing", tmp_path / "incremental"
    env = engine_env(home, landing, "duckdb")
    summaries = []
    for day in days:  # the day lands, is ingested and validated, and folded
        for kind in ("labelled", "reports"):
            if (sim / "landing" / kind / day).exists():
                shutil.copytree(sim / "landing" / kind / day, landing / kind / day)
        for cmd in (["ingest"], ["validate"]):
            code, _summary, err = step(env, *cmd)
            assert code in (0, 1), err  # 1: some rows quarantined, the rest committed
        code, summary, err = step(env, "build-dataset", "--incremental")
        assert code == 0, err
        summaries.append(summary)
    assert all(s["runs_folded"] > 0 and not s["state_rebuilt"] for s in summaries[1:])
    full_home = tmp_path / "full"
    shutil.copytree(home, full_home)
    code, full, err = step(engine_env(full_home, landing, "duckdb"), "build-dataset")
    assert code == 0, err
    assert {k: full[k] for k in FACTS} == {k: summaries[-1][k] for k in FACTS}
    for folder in DATASETS:
        got = folder_rows(str(home / "lake"), folder, ["key", "reporter_id"])
        expected = folder_rows(str(full_home / "lake"), folder, ["key", "reporter_id"])
        assert got.equals(expected), folder
    assert summaries[-1]["weak_labels_accepted"] > 0 and summaries[-1]["rows_recent"] > 0

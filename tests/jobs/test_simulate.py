"""The simulator is deterministic and hands the dataset's real defects to ingest untouched."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harmwatch.data.simulation import Population, load_source, plan_landing, simulate_reports
from tests.conftest import run_cli


def digest(root) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def source(source_csv) -> pd.DataFrame:
    return load_source(str(source_csv))


@pytest.fixture(scope="module")
def sample_csv(source_csv, tmp_path_factory) -> Path:
    """3,000 rows of the real CSV, untouched: the command's file handling does not depend on the size (the
    whole file goes through simulate in tests/data/test_real_dataset.py and the end-to-end tests)."""
    rows = pd.read_csv(source_csv, dtype=str, keep_default_na=False).sample(3000, random_state=7)
    path = tmp_path_factory.mktemp("source") / "sample.csv"
    rows.to_csv(path, index=False)
    return path


def test_same_seed_same_bytes_other_seed_differs(sample_csv, tmp_path):
    args = ["simulate", "--source", str(sample_csv), "--days", "2"]
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        proc = run_cli(*args, "--seed", seed, "--landing", str(tmp_path / name))
        assert proc.returncode == 0, proc.stderr
    a, b, c = (digest(tmp_path / n) for n in "abc")
    assert a == b
    assert a.keys() == c.keys() and a != c


def test_rerun_does_not_touch_identical_files(sample_csv, tmp_path):
    landing = tmp_path / "landing"
    run_cli("simulate", "--source", str(sample_csv), "--days", "1", "--landing", str(landing))
    before = {p: p.stat().st_mtime_ns for p in landing.rglob("*.csv")}
    run_cli("simulate", "--source", str(sample_csv), "--days", "1", "--landing", str(landing))
    assert before == {p: p.stat().st_mtime_ns for p in landing.rglob("*.csv")}


def test_landing_layout_and_every_post_once(source):
    files = plan_landing(source, pd.Timestamp("2026-01-01").date(), 3, 0.7, seed=5, pop=Population())
    assert sorted(files) == [
        "labelled/dt=2026-01-01/bulk.csv",
        "labelled/dt=2026-01-02/batch.csv",
        "labelled/dt=2026-01-03/batch.csv",
        "labelled/dt=2026-01-04/batch.csv",
        "reports/dt=2026-01-02/reports.jsonl",
        "reports/dt=2026-01-03/reports.jsonl",
        "reports/dt=2026-01-04/reports.jsonl",
    ]
    labelled = pd.concat([f for k, f in files.items() if k.startswith("labelled/")])
    assert labelled["post_id"].is_unique
    assert len(files["labelled/dt=2026-01-01/bulk.csv"]) == int(len(source) * 0.7)
    reports = pd.concat([f for k, f in files.items() if k.startswith("reports/")])
    assert reports["report_id"].is_unique
    # A reported post that moderators labelled was labelled after its last report.
    merged = labelled.merge(reports.groupby("post_id")["reported_at"].max().reset_index(), on="post_id")
    assert len(merged) > 100 and (merged["labelled_at"] > merged["reported_at"]).all()


def test_defects_pass_through_untouched(source):
    files = plan_landing(source, pd.Timestamp("2026-01-01").date(), 2, 0.7, seed=3, pop=Population())
    labelled = pd.concat([f for k, f in files.items() if k.startswith("labelled/")])
    assert labelled["text"].str.contains("&amp;", regex=False).sum() > 1000  # ~2,800 in the source
    assert labelled["text"].str.contains("\n", regex=False).any()
    assert labelled["text"].str.contains("Ã", regex=False).any()  # mojibake
    dup = labelled[labelled["text"].duplicated(keep=False)]
    assert dup.groupby("text")["label"].nunique().gt(1).any()  # conflicting labels kept


def test_reports_are_serialised_as_json_lines(sample_csv, tmp_path):
    proc = run_cli("simulate", "--source", str(sample_csv), "--days", "1", "--landing", str(tmp_path))
    assert proc.returncode == 0
    lines = (tmp_path / "reports" / "dt=2026-01-02" / "reports.jsonl").read_text("utf-8").splitlines()
    first = json.loads(lines[0])
    assert set(first) == {"report_id", "post_id", "text", "reporter_id", "reason", "reported_at"}


@pytest.mark.parametrize("share", [0.1, 0.3, 0.5])
def test_brigade_share_of_reports(source, share):
    rng = np.random.default_rng(0)
    posts = source.sample(3000, random_state=1).assign(post_id=lambda d: [f"p{i}" for i in range(len(d))])
    reports = simulate_reports(
        posts, pd.Timestamp("2026-01-02").date(), Population(brigade_share=share), rng, 0
    )
    brigade = reports["reporter_id"].str.startswith("brigade-")
    assert abs(brigade.mean() - share) < 0.02
    targets = posts.set_index("post_id").loc[reports.loc[brigade, "post_id"], "label"]
    assert (targets == "not_cyberbullying").all()
    assert (reports.loc[brigade, "reason"] == "religion").all()


def test_missing_source_is_one_line_error(tmp_path):
    proc = run_cli("simulate", "--source", str(tmp_path / "nope.csv"), "--landing", str(tmp_path / "l"))
    assert proc.returncode == 2 and "nope.csv" in proc.stderr and "Traceback" not in proc.stderr


def _day_reports(source, name: str, strength: float, day: int, days: int = 6, seed: int = 0) -> pd.DataFrame:
    from harmwatch.data.adversaries import Adversary

    posts = source.sample(3000, random_state=1).assign(post_id=lambda d: [f"p{i}" for i in range(len(d))])
    pop = Population(honest=60, brigade_share=0.0, adversary=Adversary(name, strength))
    when = pd.Timestamp("2026-01-02").date()
    reports = simulate_reports(
        posts, when, pop, np.random.default_rng(seed), 0, (day, days), np.random.default_rng([seed, 15])
    )
    return reports.assign(truth=reports["post_id"].map(posts.set_index("post_id")["label"]))


@pytest.mark.parametrize("name", ["farming", "swarm", "tie", "slow", "mixed"])
def test_each_adversary_takes_its_share_of_reports_deterministically(source, name):
    reports = _day_reports(source, name, 0.2, day=4)
    mine = reports["reporter_id"].str.startswith(f"{name}-")
    assert abs(mine.mean() - 0.2) < 0.03, mine.mean()
    assert reports["report_id"].is_unique and reports["reported_at"].is_monotonic_increasing
    pd.testing.assert_frame_equal(reports, _day_reports(source, name, 0.2, day=4))
    others = reports[~mine].drop(columns="report_id").reset_index(drop=True)
    alone = _day_reports(source, name, 0.0, day=4).drop(columns="report_id")
    pd.testing.assert_frame_equal(others, alone)  # the crowd's reports are the same without it


def test_adversary_plans(source):
    farm_early, farm_late = _day_reports(source, "farming", 0.2, 2), _day_reports(source, "farming", 0.2, 5)
    early = farm_early[farm_early["reporter_id"].str.startswith("farming-")]
    late = farm_late[farm_late["reporter_id"].str.startswith("farming-")]
    assert (early["reason"] == early["truth"]).all()  # building a record: correct reports only
    assert (late["truth"] == "not_cyberbullying").all() and (late["reason"] == "religion").all()
    assert late.groupby("post_id")["reporter_id"].nunique().ge(3).all()  # enough to pass the count rule
    swarm = _day_reports(source, "swarm", 0.2, 3)
    swarm = swarm[swarm["reporter_id"].str.startswith("swarm-")]
    assert swarm["reporter_id"].str.startswith("swarm-3-").all()  # new accounts every day
    assert swarm.groupby("reporter_id")["post_id"].nunique().max() <= 2
    tie = _day_reports(source, "tie", 0.2, 3)
    by_tie = tie["reporter_id"].str.startswith("tie-")
    honest = tie[tie["reporter_id"].str.startswith("honest-")].groupby(["post_id", "reason"]).size()
    tied = tie[by_tie].groupby(["post_id", "reason"]).size()
    assert len(tied) > 20
    for (post, reason), n in tied.items():  # as many votes for another reason as the leading honest one
        lead = honest.loc[post]
        assert reason != lead.idxmax() and n == lead.max(), (post, reason, n, lead.to_dict())
    for name, share in (("slow", 0.1), ("mixed", 1 / 3)):
        day = _day_reports(source, name, 0.2, 3)
        crew = day[day["reporter_id"].str.startswith(f"{name}-")]
        false = (crew["reason"] != crew["truth"]).mean()
        assert abs(false - share) < 0.08, (name, false)
    first = _day_reports(source, "slow", 0.2, 1)
    first = first[first["reporter_id"].str.startswith("slow-")]
    assert (first["reason"] == first["truth"]).all()  # no poison on the first day


def test_review_lag_labels_reported_posts_days_later(source):
    pop = Population(review_lag_days=2)
    files = plan_landing(source, pd.Timestamp("2026-01-01").date(), 4, 0.7, seed=5, pop=pop)
    reports = pd.concat([f for k, f in files.items() if k.startswith("reports/")])
    labelled = pd.concat(
        [f for k, f in files.items() if k.startswith("labelled/dt=2026-01-0") and "bulk" not in k]
    )
    merged = labelled.merge(reports.groupby("post_id")["reported_at"].max().reset_index(), on="post_id")
    gap = pd.to_datetime(merged["labelled_at"]) - pd.to_datetime(merged["reported_at"])
    assert len(merged) > 100 and (gap > pd.Timedelta(days=1)).all()
    last = set(files["reports/dt=2026-01-05/reports.jsonl"]["post_id"])
    assert not last & set(labelled["post_id"])  # the last days' reported posts are still waiting


def test_simulate_cli_rejects_bad_adversary_options(sample_csv, tmp_path):
    proc = run_cli(
        "simulate", "--source", str(sample_csv), "--adversary", "tie", "--adversary-strength", "1.5"
    )
    assert proc.returncode == 2 and "strength" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli(
        "simulate", "--source", str(sample_csv), "--review-lag-days", "-1", "--landing", str(tmp_path)
    )
    assert proc.returncode == 2 and "--review-lag-days" in proc.stderr

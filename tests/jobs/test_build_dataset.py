"""build-dataset on tiny in-memory lakes: dedup, moderator labels over reports, the weak-label policy,
reporter reliability, a frozen evaluation snapshot that never overlaps training, idempotent versions."""

from __future__ import annotations

import argparse
import json

import pandas as pd
import pytest

from harmwatch.config import load_settings
from harmwatch.data import catalog, relational, weak_labels
from harmwatch.data import dataset as ds
from harmwatch.data.reporter_history import ReporterHistory
from harmwatch.data.tables import read_committed
from harmwatch.errors import DataError
from harmwatch.steps import build_dataset as bd
from harmwatch.storage import open_store
from tests.conftest import run_cli
from tests.factories import keyed, labelled, reports, weak_label_outcome

POLICY = weak_labels.Policy(min_reporters=3, min_reliability=0.8, spot_check_rate=0.0)


def test_text_key_lowercases_collapses_whitespace_and_strips():
    keys = ds.text_key(pd.Series(["  Hello\t  World ", "hello world", "Hello World!"]))
    assert keys.tolist() == ["hello world", "hello world", "hello world!"]


def test_duplicates_collapse_and_conflicting_moderator_labels_go_to_review():
    lab = labelled(
        [
            ("1", "You are MEAN", "other_cyberbullying"),
            ("2", "you are  mean", "other_cyberbullying"),
            ("3", "same text", "age"),
            ("4", "Same   text", "gender"),
            ("5", "fine day", "not_cyberbullying"),
        ]
    )
    clean, conflicts = relational.resolve_labels(lab)
    assert sorted(clean["key"]) == ["fine day", "you are mean"]
    assert set(conflicts["post_id"]) == {"3", "4"}
    review = relational.assemble(lab, pd.DataFrame(), None, POLICY, 0.15, 1).review
    assert len(review) == 1 and review.loc[0, "review_reason"] == "conflicting moderator labels: age|gender"


def test_reliability_counts_only_moderated_posts_and_a_benign_post_is_a_disagreement():
    moderated = keyed(labelled([("a", "post a", "religion"), ("b", "post b", "not_cyberbullying")]))
    reps = keyed(
        reports(
            [
                ("a", "post a", "good", "religion"),
                ("b", "post b", "good", "religion"),  # 1 of 2 agree
                ("a", "post a", "good", "religion"),  # the same reporter twice on a post counts once
                ("x", "unlabelled post", "good", "age"),  # not moderated: ignored
                ("a", "post a", "wrong", "age"),
            ]
        )
    )
    rel = ReporterHistory(moderated, reps, POLICY).reliability("9999-12-31").set_index("reporter_id")
    assert rel.loc["good", "reports_on_labelled"] == 2 and rel.loc["good", "agreements"] == 1
    assert rel.loc["good", "reliability"] == pytest.approx((1 + 1) / (2 + 2))
    assert rel.loc["wrong", "reliability"] == pytest.approx(1 / 3)


def _history(reporters: list[str], agree: int, disagree: int) -> tuple[list, list]:
    """Moderated posts and each reporter's reports on them: ``agree`` right, ``disagree`` wrong, half of
    each under religion and half under age (so a per-reason record is there too)."""
    lab, reps = [], []
    for i in range(agree + disagree):
        named = ("religion", "age")[i % 2]
        lab.append((f"h{i}", f"history post {i}", named if i < agree else "gender"))
        for who in reporters:
            reps.append((f"h{i}", f"history post {i}", who, named))
    return lab, reps


@pytest.mark.parametrize(
    ("reporters", "agree", "disagree", "votes", "accepted", "why"),
    [
        (["r1", "r2", "r3"], 6, 0, ["religion"] * 3, True, ""),
        (["r1", "r2"], 6, 0, ["religion"] * 2, False, "2 distinct reporter(s) agree"),
        (["r1", "r2", "r3"], 2, 4, ["religion"] * 3, False, "mean reporter reliability 0.38"),
        (["r1", "r2", "r3", "r4"], 6, 0, ["religion", "religion", "age", "age"], False, "reporters disagree"),
    ],
)
def test_weak_label_policy(reporters, agree, disagree, votes, accepted, why):
    lab, reps = _history(reporters, agree, disagree)
    reps += [("new", "Reported only post", who, v) for who, v in zip(reporters, votes, strict=True)]
    ok, review = weak_label_outcome(labelled(lab), reports(reps), POLICY)
    assert (len(ok) == 1) is accepted
    if accepted:
        assert ok.loc[0, "label"] == "religion" and ok.loc[0, "n_reporters"] == 3
    else:
        assert len(review) == 1 and review.loc[0, "review_reason"].startswith(why)


def test_unknown_reporters_are_not_trusted_however_many():
    reps = reports([("p", "brigaded post", f"new{i}", "religion") for i in range(8)])
    ok, review = weak_label_outcome(labelled([]), reps, POLICY)
    assert ok.empty and "reliability 0.50" in review.loc[0, "review_reason"]


def test_split_eval_is_stratified_and_independent_of_row_order():
    rows = [(str(i), f"text {i}", "age" if i % 3 else "religion") for i in range(300)]
    frame = keyed(labelled(rows))
    a = relational.stratified_draw(frame, 0.2, seed=7)
    b = relational.stratified_draw(frame.sample(frac=1, random_state=1), 0.2, seed=7)
    assert a["key"].tolist() == b["key"].tolist()
    assert a["label"].value_counts().to_dict() == {"age": 40, "religion": 20}
    assert relational.stratified_draw(frame, 0.2, seed=8)["key"].tolist() != a["key"].tolist()


def _commit(lake, kind: str, run: str, frame: pd.DataFrame) -> None:
    store = open_store(str(lake))
    store.write_parquet(f"validated/{kind}/run={run}/part-0000.parquet", frame)
    store.commit(f"validated/{kind}/run={run}", ["part-0000.parquet"], {})


def _args(**kw) -> argparse.Namespace:
    defaults = {
        "date": None,
        "eval_fraction": 0.2,
        "min_reporters": 3,
        "min_reliability": 0.8,
        "recent_days": 1,
        "renew_anchor": False,
        "reason": None,
        "keep_share": 0.5,
        "spot_check_rate": 0.0,
        "champion_check": False,
        "defences_off": [],
    }
    return argparse.Namespace(**{**defaults, **kw})


def _tiny_lake(lake) -> None:
    classes = ["age", "ethnicity", "gender", "religion", "other_cyberbullying", "not_cyberbullying"]
    rows = [(f"p{i}", f"Post number {i} about {classes[i % 6]}", classes[i % 6]) for i in range(120)]
    rows += [
        ("d1", "post number 0 ABOUT age", "age"),
        ("c1", "contested post", "age"),
        ("c2", "Contested  post", "gender"),
    ]
    _commit(lake, "labelled", "bulk", labelled(rows))
    hist = [
        (f"p{i}", f"Post number {i} about {classes[i % 6]}", who, classes[i % 6])
        for i in range(0, 120, 6)
        for who in ("t1", "t2", "t3")
    ]  # trusted reporters, all on age posts
    new = [("w1", "weakly labelled post", who, "age") for who in ("t1", "t2", "t3")]
    brigade = [("b1", "benign post the brigade hates", f"b{i}", "religion") for i in range(6)]
    _commit(lake, "reports", "day1", reports(hist + new + brigade))


def test_run_builds_disjoint_snapshots_review_queue_and_is_idempotent(hw_env):
    settings = load_settings()
    _tiny_lake(settings.lake_uri)
    first = bd.run(settings, _args())
    store = open_store(settings.lake_uri)
    train = store.read_parquet(f"datasets/train/v={first['train_version']}/train.parquet")
    ev = store.read_parquet(f"datasets/eval/v={first['eval_version']}/eval.parquet")
    review = pd.read_csv(store.url(f"review/v={first['review_version']}/queue.csv"))
    assert not set(train["key"]) & set(ev["key"]), "evaluation texts leaked into training"
    assert train["key"].is_unique and ev["key"].is_unique
    assert first["rows_eval"] == 24 and first["weak_labels_accepted"] == 1
    assert train.loc[train["label_source"] == "reports", "text"].tolist() == ["weakly labelled post"]
    assert set(review["key"]) == {"contested post", "benign post the brigade hates"}
    assert review["review_reason"].str.len().gt(0).all()
    assert first["landing_files"] == [
        "labelled/dt=2026-01-01/bulk.csv",
        "reports/dt=2026-01-02/reports.jsonl",
    ]
    assert store.read_json("datasets/train/LATEST.json")["version"] == first["train_version"]
    manifest = store.manifest(f"datasets/train/v={first['train_version']}")
    assert manifest["eval_version"] == first["eval_version"] and manifest["landing_files"]

    again = bd.run(settings, _args())
    assert {k: again[k] for k in ("train_version", "eval_version", "review_version")} == {
        k: first[k] for k in ("train_version", "eval_version", "review_version")
    }
    assert again["eval_reused"] is True


def test_eval_snapshot_stays_frozen_when_new_labels_arrive(hw_env):
    settings = load_settings()
    _tiny_lake(settings.lake_uri)
    first = bd.run(settings, _args())
    ev_keys = set(
        open_store(settings.lake_uri).read_parquet(f"datasets/eval/v={first['eval_version']}/eval.parquet")[
            "key"
        ]
    )
    # a new batch relabels nothing but repeats one eval text and adds new posts
    repeat = next(iter(ev_keys))
    rows = [(f"n{i}", f"brand new post {i}", "religion") for i in range(30)] + [("r", repeat, "religion")]
    new = labelled(rows, day="2026-01-03", file="batch.csv")
    _commit(settings.lake_uri, "labelled", "day3", new)
    second = bd.run(settings, _args(eval_fraction=0.5, recent_days=0))  # no recent slice held out
    store = open_store(settings.lake_uri)
    train = store.read_parquet(f"datasets/train/v={second['train_version']}/train.parquet")
    assert second["eval_version"] == first["eval_version"] and second["eval_reused"]
    assert second["train_version"] != first["train_version"]
    assert not set(train["key"]) & ev_keys
    assert "labelled/dt=2026-01-03/batch.csv" in second["landing_files"]


def test_no_reported_post_is_silently_dropped(hw_env):
    """Every reported text ends up moderated, in training (weak label), or in the review queue."""
    settings = load_settings()
    _tiny_lake(settings.lake_uri)
    out = bd.run(settings, _args())
    store = open_store(settings.lake_uri)
    train = store.read_parquet(f"datasets/train/v={out['train_version']}/train.parquet")
    ev = store.read_parquet(f"datasets/eval/v={out['eval_version']}/eval.parquet")
    review = store.read_parquet(f"review/v={out['review_version']}/queue.parquet")
    reported = set(ds.text_key(read_committed(store, catalog.validated_runs("reports"))[0]["text"]))
    assert reported <= set(train["key"]) | set(ev["key"]) | set(review["key"])


def test_cli_without_validated_data_fails_with_one_line(hw_env):
    proc = run_cli("build-dataset", "--date", "2026-01-05")
    assert proc.returncode == DataError.exit_code
    assert proc.stderr.strip().count("\n") == 0 and "validated/labelled" in proc.stderr


def test_cli_prints_summary_json(hw_env):
    _tiny_lake(load_settings().lake_uri)
    proc = run_cli("build-dataset", "--date", "2026-01-05", "--min-reporters", "4")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["date"] == "2026-01-05" and summary["weak_labels_accepted"] == 0
    expected = {"train_version", "eval_version", "rows_train", "rows_eval", "rows_review", "landing_files"}
    assert expected <= set(summary)


def test_first_day_without_any_reports(hw_env):
    """The bulk day has moderator labels only: no reports table at all is a normal first run."""
    settings = load_settings()
    classes = ["age", "ethnicity", "gender", "religion", "other_cyberbullying", "not_cyberbullying"]
    rows = [(f"p{i}", f"Post number {i} about {classes[i % 6]}", classes[i % 6]) for i in range(60)]
    _commit(settings.lake_uri, "labelled", "bulk", labelled(rows))
    out = bd.run(settings, _args())
    assert out["weak_labels_accepted"] == 0 and out["rows_train"] + out["rows_eval"] == 60


def test_cli_defence_options(hw_env):
    _tiny_lake(load_settings().lake_uri)
    proc = run_cli("build-dataset", "--champion-check", "--defences-off", "cohorts", "spot_checks")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["champion_checked"] is None  # no champion in the registry: nothing to check against
    assert summary["review_from_reports"] == {"low_reliability": 1}  # the brigade's post
    bad = run_cli("build-dataset", "--spot-check-rate", "1.5")
    assert bad.returncode == 2 and "--spot-check-rate" in bad.stderr and "Traceback" not in bad.stderr
    unknown = run_cli("build-dataset", "--defences-off", "moats")
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr

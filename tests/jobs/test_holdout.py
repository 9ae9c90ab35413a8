"""The recent evaluation slice and the explicit, versioned renewal of the frozen anchor (build-dataset)."""

from __future__ import annotations

import pandas as pd

from harmwatch.config import load_settings
from harmwatch.data import catalog
from harmwatch.data.holdout import renewed_anchor
from harmwatch.data.relational import stratified_draw
from harmwatch.errors import HarmwatchError
from harmwatch.steps import build_dataset as bd
from harmwatch.storage import open_store
from tests.conftest import run_cli
from tests.factories import recent_slice
from tests.jobs.test_build_dataset import _args, _commit, _tiny_lake, labelled
from tests.reference.decisions import split_eval

CLASSES = ["age", "ethnicity", "gender", "religion", "other_cyberbullying", "not_cyberbullying"]


def _day(lake, day: str, n: int, repeat: str | None = None) -> None:
    rows = [(f"{day}-{i}", f"fresh words of {day} number {i}", CLASSES[i % 6]) for i in range(n)]
    if repeat:
        rows.append((f"{day}-r", repeat, "age"))
    _commit(lake, "labelled", day, labelled(rows, day=day, file="batch.csv"))


def _read(store, prefix: str, name: str) -> pd.DataFrame:
    return store.read_parquet(f"{prefix}/{name}")


def snapshot(*rows: tuple[str, str, str, str]) -> pd.DataFrame:
    """A training snapshot of (text, label, label_source, post_id) rows, each text its own key."""
    frame = pd.DataFrame(rows, columns=["key", "label", "label_source", "post_id"])
    return frame.assign(text=frame["key"])[["key", "text", "label", "label_source", "post_id"]]


def test_recent_slice_needs_older_batches_and_takes_only_new_moderator_texts():
    lab = labelled([("a", "old post", "age"), ("b", "new post", "religion")], day="2026-01-01")
    lab.loc[1, "batch_dt"] = "2026-01-02"
    train = snapshot(
        ("old post", "age", "moderator", "a"),
        ("new post", "religion", "moderator", "b"),
        ("weak post", "gender", "reports", "w"),
    )
    kept, recent, why = recent_slice(lab, train, "2026-01-02", 1)
    assert recent["key"].tolist() == ["new post"] and recent["batch_dt"].tolist() == ["2026-01-02"]
    assert kept["key"].tolist() == ["old post", "weak post"] and why is None
    # The first day has nothing older: everything would be held out, so nothing is.
    kept, recent, why = recent_slice(lab, train, "2026-01-02", 2)
    assert recent.empty and len(kept) == 3 and "no labelled batch before" in why
    # A text that arrived before is not new, even when it comes again.
    lab.loc[1, "text"] = "old post"
    assert recent_slice(lab, train, "2026-01-02", 1)[1].empty


def test_a_text_in_two_batches_of_the_window_is_dated_by_the_first_it_was_read_in():
    rows = [("a", "old post", "age"), ("b", "new post", "religion"), ("c", "New  post", "religion")]
    lab = labelled(rows, day="2026-01-01")
    lab.loc[1, "batch_dt"], lab.loc[2, "batch_dt"] = "2026-01-02", "2026-01-03"
    train = snapshot(("old post", "age", "moderator", "a"), ("new post", "religion", "moderator", "b"))
    kept, recent, why = recent_slice(lab, train, "2026-01-03", 2)
    assert recent[["key", "batch_dt"]].values.tolist() == [["new post", "2026-01-02"]] and why is None
    assert kept["key"].tolist() == ["old post"]


def test_a_label_from_the_review_loop_goes_to_training_not_to_the_recent_slice():
    lab = labelled([("a", "old post", "age"), ("b", "new post", "religion")], day="2026-01-01")
    lab.loc[1, "batch_dt"] = "2026-01-02"
    lab.loc[1, "source_file"] = catalog.review_landing("2026-01-02", "r1")
    train = snapshot(("old post", "age", "moderator", "a"), ("new post", "religion", "moderator", "b"))
    kept, recent, why = recent_slice(lab, train, "2026-01-02", 1, {lab.loc[1, "source_file"]})
    assert recent.empty and kept["key"].tolist() == ["old post", "new post"]
    assert why == "no new moderator-labelled text in the batches 2026-01-02..2026-01-02"


def test_renewed_anchor_keeps_a_stratified_share_and_adds_the_recent_posts():
    old = pd.DataFrame({"key": [f"k{i}" for i in range(40)], "text": "t", "label": ["age", "gender"] * 20})
    old["post_id"] = old["key"]
    recent = pd.DataFrame({"key": ["n1", "n2"], "text": "t", "label": "age", "post_id": ["n1", "n2"]})
    new = renewed_anchor(old, recent, 0.5, seed=1)
    assert len(new) == 22 and {"n1", "n2"} <= set(new["key"])
    assert new[new["key"].str.startswith("k")]["label"].value_counts().to_dict() == {"age": 10, "gender": 10}


def test_build_dataset_holds_out_the_newest_batch_and_counts_new_rows(hw_env):
    settings = load_settings()
    _tiny_lake(settings.lake_uri)
    first = bd.run(settings, _args())
    assert first["rows_recent"] == 0 and "no labelled batch before" in first["recent_note"]
    assert first["new_rows"] == first["rows_train"] and first["previous_train_version"] is None
    _day(settings.lake_uri, "2026-01-03", 30)
    second = bd.run(settings, _args())
    store = open_store(settings.lake_uri)
    train = _read(store, catalog.train_snapshot(second["train_version"]), catalog.TRAIN_FILE)
    recent = _read(store, catalog.recent_slice(second["recent_version"]), catalog.RECENT_FILE)
    assert second["rows_recent"] == 30 and set(recent["batch_dt"]) == {"2026-01-03"}
    assert not set(recent["key"]) & set(train["key"]), "the recent slice leaked into training"
    assert second["train_version"] == first["train_version"] and second["new_rows"] == 0
    manifest = store.manifest(catalog.train_snapshot(second["train_version"]))
    assert manifest["recent_version"] == second["recent_version"]
    assert "labelled/dt=2026-01-03/batch.csv" in second["landing_files"]
    # The next day: yesterday's slice is trained on, today's is held out.
    _day(settings.lake_uri, "2026-01-04", 12)
    third = bd.run(settings, _args())
    train = _read(store, catalog.train_snapshot(third["train_version"]), catalog.TRAIN_FILE)
    assert third["rows_recent"] == 12 and third["new_rows"] == 30
    assert set(recent["key"]) <= set(train["key"])


def test_renewing_the_anchor_is_explicit_versioned_and_recorded(hw_env, monkeypatch):
    monkeypatch.setenv("HARMWATCH_ACTOR", "lead-moderator")
    settings = load_settings()
    _tiny_lake(settings.lake_uri)
    first = bd.run(settings, _args())
    _day(settings.lake_uri, "2026-01-03", 30)
    with_reason = _args(renew_anchor=True, reason="slang moved on since launch")
    try:
        bd.run(settings, _args(renew_anchor=True))
    except HarmwatchError as exc:
        assert "--reason" in str(exc)
    else:
        raise AssertionError("a renewal without a reason went through")
    renewed = bd.run(settings, with_reason)
    store = open_store(settings.lake_uri)
    old = _read(store, catalog.eval_snapshot(first["eval_version"]), catalog.EVAL_FILE)
    new = _read(store, catalog.eval_snapshot(renewed["eval_version"]), catalog.EVAL_FILE)
    train = _read(store, catalog.train_snapshot(renewed["train_version"]), catalog.TRAIN_FILE)
    assert renewed["eval_version"] != first["eval_version"] and renewed["anchor_generation"] == 1
    assert new["key"].str.startswith("fresh words").sum() == 30 and len(new) == 30 + len(old) // 2
    assert not set(new["key"]) & set(train["key"])
    assert set(old["key"]) - set(new["key"]) <= set(train["key"])  # dropped anchor posts train again
    meta = store.manifest(catalog.eval_snapshot(renewed["eval_version"]))
    assert meta["renewed_from"] == first["eval_version"] and meta["generation"] == 1
    assert meta["reason"] == "slang moved on since launch" and meta["actor"] == "lead-moderator"
    assert renewed["rows_recent"] == 0 and "renewed anchor" in renewed["recent_note"]
    # Later runs judge on the renewed anchor; the old one stays in the lake, versioned.
    later = bd.run(settings, _args())
    assert later["eval_version"] == renewed["eval_version"] and later["eval_reused"] is True
    assert store.manifest(catalog.eval_snapshot(first["eval_version"])) is not None


def test_renew_without_a_reason_is_one_clear_line(hw_env):
    _tiny_lake(load_settings().lake_uri)
    proc = run_cli("build-dataset", "--renew-anchor")
    assert proc.returncode != 0 and proc.stderr.strip().count("\n") == 0 and "--reason" in proc.stderr


def test_renewal_keeps_the_share_the_reference_draw_keeps():
    """Renewing keeps a share of the anchor by the anchor's own SQL draw; the pandas reference agrees."""
    labels = ["age", "religion", "not_cyberbullying"]
    anchor = pd.DataFrame(
        {
            "key": [f"text {i}" for i in range(300)],
            "text": [f"Text {i}" for i in range(300)],
            "label": [labels[i % 3] if i < 240 else "age" for i in range(300)],
            "post_id": [str(i) for i in range(300)],
        }
    )
    for share, seed in ((0.5, 1), (0.25, 7), (0.9, 42)):
        kept = stratified_draw(anchor, share, seed)
        expected = split_eval(anchor, share, seed)
        assert kept["key"].tolist() == expected["key"].tolist(), (share, seed)
        assert 0 < len(kept) < len(anchor)

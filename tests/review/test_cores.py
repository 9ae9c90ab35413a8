"""The moderation loop's pure cores on frames of a few rows: ordering, decisions, landing rows, the
simulated moderators, and the rule by which a reviewed label settles a conflicted text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harmwatch.config import CLASSES
from harmwatch.data import catalog
from harmwatch.data.dataset import text_key
from harmwatch.data.relational import resolve_labels
from harmwatch.review.moderators import answer, truth_by_text
from harmwatch.review.ordering import Weights, prioritise
from harmwatch.review.outcomes import annotator_id, landing_rows, review_decisions
from harmwatch.review.tasks import item_id, task_data
from tests.factories import labelled


def scores(rows: list[dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame([{f"score_{c}": r.get(c, 0.0) for c in CLASSES} for r in rows])


def queue() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "key": ["a sure thing", "a coin flip", "reporters vs model"],
            "text": ["a sure thing", "a coin flip", "reporters vs model"],
            "post_id": ["p1", "p2|p3", "p4"],
            "source": ["moderators", "moderators", "reports"],
            "labels_seen": ["age|religion", "not_cyberbullying|other_cyberbullying", None],
            "suggested_label": [None, None, "religion"],
            "n_reports": [None, None, 6],
            "first_seen": ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"],
        }
    )


def test_uncertain_and_disputed_texts_come_first_and_fifo_follows_first_seen() -> None:
    model = scores(
        [
            {"age": 0.95, "religion": 0.05},  # confident and agrees with a label seen
            {"not_cyberbullying": 0.5, "other_cyberbullying": 0.5},  # a coin flip
            {"gender": 0.9, "religion": 0.1},  # confident, but the reporters say religion
        ]
    )
    ordered = prioritise(queue(), model, Weights())
    assert list(ordered["key"]) == ["a coin flip", "reporters vs model", "a sure thing"]
    row = ordered.set_index("key").loc["reporters vs model"]
    assert row["disagreement"] == pytest.approx(0.9) and row["model_label"] == "gender"
    assert row["uncertainty"] == pytest.approx(0.2)
    fifo = prioritise(queue(), model, Weights(), order="fifo")
    assert list(fifo["key"]) == ["a sure thing", "a coin flip", "reporters vs model"]  # by first_seen


def test_without_a_champion_volume_decides_and_row_order_does_not_matter() -> None:
    q = queue()
    ordered = prioritise(q, None, Weights())
    assert ordered.iloc[0]["key"] == "reporters vs model"  # 1 post + 6 reports
    shuffled = prioritise(q.iloc[[2, 0, 1]].reset_index(drop=True), None, Weights())
    assert list(shuffled["key"]) == list(ordered["key"])
    with pytest.raises(ValueError, match="unknown review order"):
        prioritise(q, None, Weights(), order="random")


def test_a_queue_without_reported_texts_is_ordered_by_its_posts() -> None:
    q = queue().drop(columns=["n_reports", "suggested_label"])  # moderator conflicts only
    ordered = prioritise(q, None, Weights())
    assert ordered.iloc[0]["key"] == "a coin flip"  # 2 posts
    assert ordered["expected_value"].is_monotonic_decreasing


def test_task_data_carries_the_evidence_as_text() -> None:
    q = prioritise(queue(), scores([{"age": 1.0}, {"age": 1.0}, {"religion": 0.6, "gender": 0.4}]), Weights())
    q = pd.concat([q, scores([{"age": 1.0}] * 3)], axis=1)
    data = task_data(q.set_index("key", drop=False).loc["reporters vs model"], "2026-01-05", "qv1", "7")
    assert data["item"] == item_id("reporters vs model")
    assert "6 report(s)" in data["reports"] and "reporters suggest religion" in data["reports"]
    assert data["model"].startswith("champion v7:")
    assert data["labels_seen"] == "no moderator label yet" and data["queued_on"] == "2026-01-05"
    assert all(isinstance(v, str) for v in data.values())


def ann(i: int, user: int, label: str | None, *, cancelled: bool = False, note: str = "") -> dict:
    result = []
    if label:
        result.append(
            {"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}
        )
    if note:
        result.append({"from_name": "note", "to_name": "text", "type": "textarea", "value": {"text": [note]}})
    return {
        "id": i,
        "completed_by": user,
        "result": result,
        "was_cancelled": cancelled,
        "lead_time": 10.0,
        "created_at": "2026-11-27T10:00:00Z",
    }


def task(i: int, annotations: list[dict], overlap: int = 1) -> dict:
    data = {"item": f"item{i}", "text": f"text {i}", "post_ids": f"p{i}|q{i}", "queued_on": "2026-01-02"}
    return {"id": i, "overlap": overlap, "data": data, "annotations": annotations}


def test_every_task_ends_in_exactly_one_state() -> None:
    tasks = [
        task(1, [ann(1, 1, "age")]),
        task(2, [ann(2, 1, "gender"), ann(3, 2, "gender")], overlap=2),
        task(3, [ann(4, 1, "gender"), ann(5, 2, "religion")], overlap=2),
        task(4, [ann(6, 1, None, cancelled=True, note="sarcasm, cannot tell")]),
        task(5, [ann(7, 1, "age")], overlap=2),
        task(6, []),
        task(7, [ann(8, 1, "age"), ann(9, 2, "ethnicity")], overlap=2),
    ]
    adjudications = [{"id": 70, "data": {"item": "item7"}, "annotations": [ann(10, 3, "ethnicity")]}]
    d = review_decisions(tasks, adjudications, lambda uid: f"m_{uid}").set_index("task_id")
    assert d["status"].to_dict() == {
        1: "labelled",
        2: "labelled",
        3: "adjudication",
        4: "skipped",
        5: "pending",
        6: "pending",
        7: "labelled",
    }
    assert d.loc[2, "outcome"] == "agreed" and d.loc[2, "pair"] == "gender|gender"
    assert d.loc[3, "reason"] == "moderators disagree: gender, religion"
    assert d.loc[3, "answers"] == "m_1: gender; m_2: religion"
    assert d.loc[4, "reason"] == "skipped by moderators: sarcasm, cannot tell"
    assert d.loc[5, "reason"] == "waiting for another annotation (1 of 2)"
    assert (d.loc[7, "label"], d.loc[7, "outcome"], d.loc[7, "labellers"]) == (
        "ethnicity",
        "adjudicated",
        "m_1|m_2|m_3",
    )


def test_landing_rows_one_per_post_with_provenance_and_a_capped_time() -> None:
    d = review_decisions([task(1, [ann(1, 5, "age")])], [], lambda uid: annotator_id(f"user{uid}@x", b"k"))
    rows = landing_rows(d[d["status"] == "labelled"], "2026-01-02")
    assert list(rows["post_id"]) == ["p1", "q1"]
    assert set(rows["label"]) == {"age"} and rows["labeller_id"].str.startswith("m_").all()
    assert "user5" not in rows.to_csv()  # pseudonymised
    assert set(rows["labelled_at"]) == {"2026-01-02T23:59:59Z"}  # annotated later than the logical day
    assert set(rows["annotated_at"]) == {"2026-11-27T10:00:00Z"}
    assert set(rows["lead_time_seconds"]) == {"10.000"} and set(rows["review_outcome"]) == {"single"}


REVIEWED = {catalog.review_landing("2026-01-05", "abc")}  # as the review-pull ledger vouches


def moderated(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """Labelled rows (post_id, text, label, labelled_at); posts named r* came back from the review loop."""
    return labelled(rows).assign(
        source_file=lambda f: f["post_id"].map(
            lambda p: (
                catalog.review_landing("2026-01-05", "abc") if p.startswith("r") else "labelled/dt=x/a.csv"
            )
        )
    )


def test_a_reviewed_label_settles_a_conflict_and_an_ordinary_later_label_does_not() -> None:
    rows = [
        ("p1", "Same text", "not_cyberbullying", "2026-01-01T00:00:00Z"),
        ("p2", "same  text", "other_cyberbullying", "2026-01-02T00:00:00Z"),
        ("p3", "Other text", "age", "2026-01-01T00:00:00Z"),
        ("p4", "other text", "gender", "2026-01-02T00:00:00Z"),
        ("p5", "other text", "gender", "2026-01-09T00:00:00Z"),  # later, but not a review decision
    ]
    clean, conflicts = resolve_labels(moderated(rows))
    assert set(conflicts["key"]) == {"same text", "other text"} and clean.empty
    reviewed = [*rows, ("r1", "same text", "other_cyberbullying", "2026-01-05T00:00:00Z")]
    clean, conflicts = resolve_labels(moderated(reviewed), REVIEWED)
    assert clean.set_index("key")["label"].to_dict() == {"same text": "other_cyberbullying"}
    assert set(conflicts["key"]) == {"other text"}
    # Two review decisions: the newest wins, even against the majority of ordinary labels.
    twice = [*reviewed, ("r2", "same text", "not_cyberbullying", "2026-01-06T00:00:00Z")]
    clean, _ = resolve_labels(moderated(twice), REVIEWED)
    assert clean.set_index("key")["label"].to_dict() == {"same text": "not_cyberbullying"}


def test_simulated_moderators_answer_the_majority_and_split_ties_evenly() -> None:
    pairs = [(f"tweet number {i} &amp; more", lab) for i in range(400) for lab in ("age", "gender")]
    truth = pd.DataFrame(
        [*pairs, ("clear case", "religion"), ("Clear  case", "religion"), ("clear case", "age")]
    )
    truth.columns = ["text", "label"]
    answers = truth_by_text(truth, seed=42)
    assert answers["clear case"] == "religion"
    assert "tweet number 0 & more" in answers  # keyed like the lake: entities unescaped
    ties = pd.Series([answers[k] for k in answers if k.startswith("tweet")])
    assert 0.4 < (ties == "age").mean() < 0.6
    assert truth_by_text(truth, seed=42) == answers
    rng = np.random.default_rng(0)
    picks = [answer("age", 0.2, 0.0, rng) for _ in range(2000)]
    assert 0.15 < np.mean([p != "age" for p in picks]) < 0.25 and None not in picks


def test_review_landing_files_are_named_by_the_pull_run() -> None:
    key = catalog.review_landing("2026-01-05", "abc123")
    assert key == "labelled/dt=2026-01-05/review-abc123.csv" and catalog.is_review_name(key)
    assert not catalog.is_review_name("labelled/dt=2026-01-05/batch.csv")
    assert text_key(pd.Series(["A  b"])).iloc[0] == "a b"


def test_queue_metrics_age_throughput_and_agreement() -> None:
    from harmwatch.monitoring.moderation import cohen_kappa, queue_metrics, queue_prometheus_text

    status = pd.DataFrame(
        {
            "status": ["pending", "adjudication", "labelled", "labelled", "skipped"],
            "queued_on": ["2026-01-01", "2026-01-04", "2026-01-02", "2026-01-03", "2026-01-03"],
            "pair": ["", "age|gender", "age|age", "religion|religion", ""],
        }
    )
    decisions = pd.DataFrame(
        {
            "status": ["labelled", "labelled", "skipped"],
            "batch_dt": ["2026-01-05", "2025-12-01", "2026-01-05"],
        }
    )
    q = queue_metrics(status, decisions, "2026-01-05")
    assert (q["review_open"], q["review_queue_age_days_max"], q["review_queue_age_days_median"]) == (
        2,
        4.0,
        2.5,
    )
    assert q["review_labelled_today"] == 1 and q["review_labelled_per_day_7d"] == pytest.approx(1 / 7)
    assert q["review_agreement"] == pytest.approx(2 / 3) and q["review_double_labelled"] == 3
    assert cohen_kappa([("a", "a"), ("b", "b")]) == 1.0 and cohen_kappa([("a", "a")]) is None
    assert cohen_kappa([("a", "b"), ("b", "a")]) == pytest.approx(-1.0)
    text = queue_prometheus_text(q, "2026-01-05")
    assert (
        'harmwatch_review_open{batch_dt="2026-01-05"} 2' in text
        and "# TYPE harmwatch_review_kappa gauge" in text
    )

"""The steps' pure cores on frames of a few rows: no storage, no MLflow, no Great Expectations context of
their own making. Each core is the decision a step takes; these tests pin the decision down."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from harmwatch.config import CLASSES
from harmwatch.data.landing import batch_date, pseudonymise, pseudonymise_raw, run_id, to_frames
from harmwatch.data.parsing import parse_csv, parse_jsonl
from harmwatch.data.relational import assemble
from harmwatch.data.reporter_history import ReporterHistory
from harmwatch.data.weak_labels import Policy
from harmwatch.model import audit, summary
from harmwatch.model.decision import Thresholds, evaluate_challenger
from harmwatch.model.golden import golden_frame
from harmwatch.model.promotion import Review, plan_promotion, plan_rollback, promotion_audit, rejection_tags
from harmwatch.model.textmodel import contract_frame
from harmwatch.storage import ObjectInfo
from tests.factories import labelled, reports

KEY = b"test-key"


# -- ingest ------------------------------------------------------------------------------------------


def test_to_frames_keeps_lineage_pseudonymises_reporters_and_quarantines_what_did_not_parse():
    record = {
        "report_id": "1",
        "post_id": "p",
        "text": "a &amp; b",
        "reporter_id": "alice",
        "reason": "age",
        "reported_at": "2026-01-02T00:00:00Z",
        "x": 1,
    }
    data = (json.dumps(record) + "\nnot json\n").encode()
    good, bad = to_frames("reports", "reports/dt=2026-01-02/r.jsonl", parse_jsonl(data), "run1", KEY)
    assert good.loc[0, "text"] == "a & b" and good.loc[0, "text_raw"] == "a &amp; b"
    assert good.loc[0, "reporter_id"] == pseudonymise("alice", KEY) != "alice"
    assert (good.loc[0, "batch_dt"], good.loc[0, "source_line"], good.loc[0, "extra"]) == (
        "2026-01-02",
        1,
        json.dumps({"x": pseudonymise("1", KEY)}),  # an unknown field may carry an id: pseudonymised
    )
    assert bad[["source_line", "stage", "batch_dt"]].values.tolist() == [[2, "ingest", "2026-01-02"]]
    assert bad.loc[0, "reason"].startswith("invalid JSON")


# -- quarantine privacy --------------------------------------------------------------------------------

# Report lines that do not parse, each holding a reporter id that must not reach the lake: (line, the id).
HOSTILE_REPORT_LINES = [
    ('{"report_id": "r1", "reporter_id": "alice@example.com", "text": "cut off', "alice@example.com"),
    ('{"report_id": "r2", "post_id": "p2", "reporter_id": "bob-7781-secret', "bob-7781-secret"),
    ('{"reporter_id": 4815162342, "text": }', "4815162342"),
    ("{'reporter_id': 'carol.k@example.org', 'text': 'single quotes'}", "carol.k@example.org"),
    ('[{"report_id": "r5", "reporter_id": "dave_the_reporter"}]', "dave_the_reporter"),
    ('"{\\"report_id\\": \\"r6\\", \\"reporter_id\\": \\"erin-escaped\\"}"', "erin-escaped"),
    ('{"Reporter_ID": "frank-upper", "text": "x",}', "frank-upper"),
    ('{"reporter_id": "gina\\u002dunicode", "text": "trailing comma",}', "gina-unicode"),
    ('{"reporter_id":"hank-no-space","note":"reported by hank-no-space"', "hank-no-space"),
    ('{"reporter_id": "ivy\x00-nul-byte", "text": "a"}', "-nul-byte"),
    (b'{"reporter_id": "jo\xff\xfe-bad-utf8", "text": "x"}', "-bad-utf8"),
]


@pytest.mark.parametrize(("line", "rid"), HOSTILE_REPORT_LINES, ids=[r for _, r in HOSTILE_REPORT_LINES])
def test_a_report_line_that_does_not_parse_is_quarantined_with_its_reporter_id_pseudonymised(line, rid):
    data = line if isinstance(line, bytes) else line.encode()
    _, bad = to_frames("reports", "reports/dt=2026-01-02/r.jsonl", parse_jsonl(data), "run1", KEY)
    assert len(bad) == 1 and bad.loc[0, "reason"]
    raw = bad.loc[0, "raw"]
    assert rid not in raw and rid.split("@")[0] not in raw, raw
    assert "r_" in raw and len(raw) >= len(line) - len(rid), "the rest of the line is kept for diagnosis"


def test_a_well_formed_id_in_a_broken_line_gets_the_hash_the_lake_uses():
    line = '{"report_id": "r1", "reporter_id": "alice", "reason": "age", "text": "cut'
    assert pseudonymise_raw(line, KEY) == line.replace('"alice"', f'"{pseudonymise("alice", KEY)}"')
    # A labelled post's quarantined record is scrubbed too (it may carry a labeller id).
    _, bad = to_frames("labelled", "labelled/dt=2026-01-01/a.csv", parse_csv(b"post_id,text\n"), "r", KEY)
    assert bad.empty or "r_" not in "".join(bad["raw"])


def test_a_reporter_id_nested_in_an_extra_field_is_pseudonymised_too():
    record = {"report_id": "1", "post_id": "p", "text": "t", "reporter_id": "alice", "reason": "age"}
    record["context"] = {"reporter_id": "mallory-nested"}
    good, _ = to_frames(
        "reports", "reports/dt=2026-01-02/r.jsonl", parse_jsonl(json.dumps(record).encode()), "r", KEY
    )
    assert (
        "mallory-nested" not in good.loc[0, "extra"]
        and pseudonymise("mallory-nested", KEY) in good.loc[0, "extra"]
    )


def test_run_ids_follow_the_files_taken_not_their_order():
    a, b = (
        ObjectInfo("labelled/dt=2026-01-01/a.csv", 10, "1"),
        ObjectInfo("labelled/dt=2026-01-01/b.csv", 5, "2"),
    )
    assert run_id([a, b]) == run_id([b, a]) != run_id([a])
    assert batch_date(a.key) == "2026-01-01" and batch_date("labelled/a.csv") == ""
    rows, _ = to_frames(
        "labelled", a.key, parse_csv(b"post_id,text,label,labelled_at\n1,t,age,x\n"), "r", KEY
    )
    assert rows.loc[0, "label"] == "age" and rows.loc[0, "ingest_run"] == "r"


# -- validate ----------------------------------------------------------------------------------------


def test_validate_checks_give_a_reason_per_row_and_reject_a_skewed_labelled_batch():
    from harmwatch.data.checks import check_frame as check
    from harmwatch.data.suites import Bounds

    frame = labelled([(f"p{i}", f"post {i}", CLASSES[i % 6]) for i in range(12)], file="batch.csv")
    frame = frame.astype("string")
    frame.loc[3, "label"] = "spam"
    frame.loc[4, "text"] = "   "
    frame.loc[5, "post_id"] = "p0"
    as_of = pd.Timestamp("2026-01-02", tz="UTC").timestamp()
    result = check(frame, "labelled", Bounds(), as_of)
    reasons = result.reasons.tolist()
    assert reasons[3] == "label not one of the allowed classes" and reasons[4] == "text blank"
    # One copy of p0 is kept: same labelled_at and file, so the last landed (row 5); row 0 is quarantined.
    assert "post_id duplicated within the batch" in reasons[0] and reasons[5] == ""
    assert sum(r == "" for r in reasons) == 9 and result.rejected == {}
    # Big enough to judge its mix (Bounds.judge_min_rows), one class above the ceiling: the whole file goes.
    skewed = labelled(
        [(f"q{i}", f"text {i}", "age" if i % 5 else "gender") for i in range(200)], file="batch.csv"
    )
    skewed = skewed.astype("string")
    result = check(skewed, "labelled", Bounds(), as_of)
    assert list(result.rejected) == ["labelled/dt=2026-01-01/batch.csv"]
    assert result.invalid.all() and result.reasons.str.startswith("batch rejected: share_age=").all()


# -- build-dataset -------------------------------------------------------------------------------------


def test_assemble_moderators_win_conflicts_go_to_review_and_eval_never_trains():
    lab = labelled(
        [
            ("m1", "Go away  grandpa", "age"),
            ("m2", "go away grandpa", "age"),
            ("m3", "nice day", "not_cyberbullying"),
        ]
        + [("c1", "ambiguous", "other_cyberbullying"), ("c2", "Ambiguous", "not_cyberbullying")]
        + [(f"e{i}", f"held out {i}", CLASSES[i % 6]) for i in range(12)]
    )
    # Three reporters who were right before (m1 is age) agree on a post no moderator labelled ...
    reps = reports(
        [("m1", "go away grandpa", f"u{i}", "age") for i in range(3)]
        + [("w1", "you old fool", f"u{i}", "age") for i in range(3)]
        # ... and one newcomer alone on another post: not enough reporters.
        + [("w2", "lonely report", "new", "religion")]
        # Reports never override a moderator: m3 stays not_cyberbullying.
        + [("m3", "nice day", f"u{i}", "religion") for i in range(3)]
    )
    frozen = labelled([(f"e{i}", f"held out {i}", CLASSES[i % 6]) for i in range(12)])
    frozen = frozen.assign(key=frozen["text"].str.lower())[["key", "text", "label", "post_id"]]
    a = assemble(lab, reps, (frozen, "v-eval"), Policy(min_reporters=3, min_reliability=0.5), 0.15, seed=1)
    train = a.train.set_index("key")
    assert (
        train.loc["go away grandpa", "label"] == "age"
        and train.loc["nice day", "label"] == "not_cyberbullying"
    )
    assert train.loc["you old fool", ["label", "label_source"]].tolist() == ["age", "reports"]
    assert not set(frozen["key"]) & set(train.index), "evaluation texts never enter training"
    assert a.eval_version == "v-eval" and not a.eval_is_new and a.weak_labels == 1
    review = a.review.set_index("key")
    assert review.loc["ambiguous", "source"] == "moderators"
    assert review.loc["lonely report", "review_reason"].startswith("1 distinct reporter(s) agree")
    # u0..u2 were right on m1 (age) and wrong on m3 (benign): (1 + 1) / (2 + 2)
    rel = a.reliability.set_index("reporter_id")
    assert rel.loc["u0", "reliability"] == pytest.approx(0.5) and bool(rel.loc["u0", "trusted"])
    # The same numbers the moderation metrics use.
    metrics = ReporterHistory(lab, reps, Policy(min_reliability=0.5)).reliability("9999-12-31")
    pd.testing.assert_frame_equal(metrics, a.reliability.reset_index(drop=True), check_dtype=False)
    # Same inputs, same versions; a first run draws a new evaluation snapshot from moderator labels only.
    again = assemble(
        lab, reps, (frozen, "v-eval"), Policy(min_reporters=3, min_reliability=0.5), 0.15, seed=1
    )
    assert (again.train_version, again.review_version) == (a.train_version, a.review_version)
    first = assemble(lab, reps, None, Policy(), 0.5, seed=1)
    assert first.eval_is_new and set(first.eval["post_id"]) <= set(lab["post_id"])


# -- evaluate, promote, rollback ---------------------------------------------------------------------


def scores(labels: list[str]) -> pd.DataFrame:
    proba = np.array([[0.9 if c == lab else 0.02 for c in CLASSES] for lab in labels])
    return contract_frame(proba, CLASSES)


def test_judge_records_decision_evidence_tags_and_summary_consistently():
    ev = pd.DataFrame({"text": [f"t{i}" for i in range(60)], "label": [CLASSES[i % 6] for i in range(60)]})
    golden = golden_frame()
    truth = golden["expect"].map({"flag": "age", "no_flag": "not_cyberbullying"}).tolist()
    perfect = {"version": "2", "run_id": "r2", "eval": scores(ev["label"].tolist()), "golden": scores(truth)}
    worse = ev["label"].where(ev.index % 3 != 0, "not_cyberbullying").tolist()
    champion = {"version": "1", "run_id": "r1", "eval": scores(worse), "golden": scores(truth)}
    smoke = {"ok": True, "detail": "ok"}
    t = Thresholds(max_ece=1.0, n_boot=200)
    result = evaluate_challenger(
        ev, golden, perfect, champion, smoke, t, False, 7, "v-eval", "2026-01-02", "built-in"
    )
    assert result.decision == "promote" and result.failed == []
    assert (
        result.tags["harmwatch.evaluated_against"] == "1" and result.tags["harmwatch.decision"] == "promote"
    )
    assert result.summary["challenger_macro_f1"] == 1.0 and result.summary["champion_version"] == "1"
    assert result.evidence["delta_ci"]["lo"] > 0 and result.evidence["golden"]["passed"] == len(golden)
    # Roles swapped: the worse model regresses against the better one and is rejected, with its gates named.
    back = evaluate_challenger(ev, golden, champion, perfect, smoke, t, False, 7, "v-eval", None, "built-in")
    assert back.decision == "reject" and "class_regression" in back.failed
    assert (
        back.summary["failed_gates"] == back.failed
        and not back.evidence["gates"]["class_regression"]["passed"]
    )
    # The version gets a handful of tags (the MLflow versions table shows them all); figures are evidence.
    assert set(back.tags) == {
        "harmwatch.decision",
        "harmwatch.evaluated_against",
        "harmwatch.macro_f1",
        "harmwatch.failed_gates",  # what a forced promotion overrides
    }
    assert back.tags["harmwatch.failed_gates"] == ",".join(back.failed)
    # The first model has no champion: floors only; approval mode holds a passing challenger.
    first = evaluate_challenger(ev, golden, perfect, None, smoke, t, True, 7, "v-eval", None, "built-in")
    assert first.decision == "pending_approval" and first.summary["champion_macro_f1"] is None


def test_rollback_plan_tags_the_demoted_version_and_survives_a_rerun():
    plan = plan_rollback("3", {"harmwatch.decision": "promote"}, "2", "alice", "2026-01-05", " bad model ")
    assert plan.move and plan.why == "bad model"
    assert plan.demoted_tags["harmwatch.decision"] == "rolled_back"
    assert plan.demoted_tags["harmwatch.decision_before_rollback"] == "promote"
    assert plan.demoted_tags["harmwatch.rolled_back_by"] == "alice" and plan.restored_tags == {
        "harmwatch.restored_from": "3",
        "harmwatch.restored_by": "alice",
        "harmwatch.restored_on": "2026-01-05",
        "harmwatch.restore_reason": "bad model",
    }
    # A rerun after a kill between the tags and the alias move keeps the original decision.
    rerun = plan_rollback("3", plan.demoted_tags, "2", "alice", "2026-01-05", None)
    assert rerun.demoted_tags["harmwatch.decision_before_rollback"] == "promote" and rerun.why == "none given"
    assert not plan_rollback("2", {}, "2", "alice", None, None).move


def test_promotion_audit_names_who_from_what_and_why_forced():
    assert promotion_audit("bob", None, None, False, None, why="decision is promote") == {
        "harmwatch.promoted_by": "bob",
        "harmwatch.promoted_via": "cli",
        "harmwatch.promotion_reason": "decision is promote",
        "harmwatch.promoted_from": "none",
        "harmwatch.promoted_on": "unspecified",
        "harmwatch.forced": "false",
    }
    forced = promotion_audit("bob", "4", "2026-01-03", True, "  hotfix  ")
    assert forced["harmwatch.forced"] == "true" and forced["harmwatch.force_reason"] == "hotfix"
    assert forced["harmwatch.overridden_gates"].startswith("unknown"), "no evaluation recorded"


# -- approval and the champion's record -------------------------------------------------------------

ALICE_OK, ALICE_NO = Review("approved", "alice", "looks good"), Review("rejected", "alice", "too risky")


@pytest.mark.parametrize(
    ("decision", "against", "champion", "review", "move", "why"),
    [
        ("pending_approval", "4", "4", None, False, "decision is pending_approval; waiting for a reviewer"),
        ("pending_approval", "4", "4", ALICE_OK, True, "approved by alice: looks good"),
        ("pending_approval", "4", "4", ALICE_NO, False, "rejected by alice: too risky"),
        ("pending_approval", "4", "3", ALICE_OK, False, "decision was taken against champion 4"),  # stale
        ("reject", "4", "4", ALICE_OK, False, "decision is reject"),  # approval cannot override the gates
        ("reject", "4", "4", ALICE_NO, False, "rejected by alice"),  # a rerun after the rejection
    ],
)
def test_approval_policy(decision, against, champion, review, move, why):
    moved, reason = plan_promotion("5", decision, against, champion, False, review)
    assert moved is move and reason.startswith(why), reason


def test_an_approved_promotion_names_the_reviewer_and_a_rejection_is_recorded_on_the_version():
    tags = promotion_audit(
        "admin", "4", "2026-01-02", False, None, why="approved", via="airflow r1", review=ALICE_OK
    )
    assert (tags["harmwatch.promoted_by"], tags["harmwatch.promoted_via"], tags["harmwatch.review"]) == (
        "alice",
        "airflow r1",
        "approved",
    )
    assert tags["harmwatch.reviewed_by"] == "alice" and tags["harmwatch.review_note"] == "looks good"
    rejected = rejection_tags(ALICE_NO, {"harmwatch.decision": "pending_approval"}, "2026-01-03")
    assert (
        rejected["harmwatch.decision"] == "reject"
        and rejected["harmwatch.decision_before_review"] == "pending_approval"
    )
    # A rerun keeps what the decision was before the review.
    assert (
        rejection_tags(ALICE_NO, {**rejected}, None)["harmwatch.decision_before_review"] == "pending_approval"
    )
    with pytest.raises(ValueError):
        Review("maybe", "alice")


def done(version, previous):
    return audit.record(version, previous, "bob", "decision is promote", "cli", "2026-01-02", True)


def test_the_champion_where_the_record_says_needs_nothing():
    assert audit.plan_reconcile("5", "bob", done("5", "4"), "4", "evaluate", "2026-01-03") is None
    assert audit.plan_reconcile(None, None, done("5", "4"), "4", "evaluate", None) is None


def test_a_champion_set_by_hand_is_recorded_and_previous_champion_follows():
    plan = audit.plan_reconcile("7", None, done("5", "4"), "4", "evaluate", "2026-01-03")
    assert plan is not None and plan.previous_champion == "5"
    assert plan.champion_tags["harmwatch.promoted_by"] == audit.OUTSIDE
    assert plan.champion_tags["harmwatch.promoted_from"] == "5"
    assert "noticed by harmwatch evaluate on 2026-01-03" in plan.champion_tags["harmwatch.promotion_reason"]
    assert (plan.record["version"], plan.record["previous"], plan.record["done"]) == ("7", "5", True)
    # Set back by hand to the version previous-champion holds: previous-champion becomes the one replaced.
    back = audit.plan_reconcile("4", "bob", done("5", "4"), "4", "promote", None)
    assert back is not None and back.previous_champion == "5" and back.record["version"] == "4"


def test_an_interrupted_move_is_not_taken_for_a_hand_set_champion():
    intent = {**done("5", "4"), "done": False}
    assert (
        audit.plan_reconcile("4", "bob", intent, "3", "promote", None) is None
    )  # not moved yet: rerun moves
    finished = audit.plan_reconcile("5", "bob", intent, "4", "promote", None)  # moved, record not completed
    assert finished is not None and finished.champion_tags == {} and finished.record["done"] is True
    # Anything else during an interrupted move was set by hand; the last champion was the intent's "from".
    other = audit.plan_reconcile("9", None, intent, "4", "promote", None)
    assert other is not None and other.previous_champion == "4" and other.champion_tags


def test_a_registry_without_a_record_starts_one():
    adopt = audit.plan_reconcile("3", "bob", None, "2", "evaluate", None)
    assert adopt is not None and adopt.champion_tags == {} and adopt.record["version"] == "3"
    by_hand = audit.plan_reconcile("3", None, None, None, "evaluate", None)  # a first champion set by hand
    assert by_hand is not None and by_hand.champion_tags["harmwatch.promoted_from"] == "unknown"
    assert by_hand.previous_champion is None
    assert audit.load("not json") is None and audit.load(audit.dump(done("5", "4")))["version"] == "5"


def test_the_registered_model_description_names_every_class_the_decisions_and_the_version_tags():
    text = summary.model_description("word TF-IDF, stacked")
    assert all(f"`{c}`" in text for c in CLASSES) and "Method: word TF-IDF, stacked" in text
    assert all(f"`{d}`" in text for d in ("promote", "reject", "pending_approval", "champion", "challenger"))
    # Every tag a judged version carries is named, with where the rest of the figures are.
    tags = {"harmwatch.train_version", "harmwatch.eval_version", "harmwatch.train_complete"}
    tags |= {"harmwatch.model_sha256"}
    judged = evaluate_first_model().tags
    assert all(f"`{tag}`" in text for tag in tags | set(judged)) and "`evaluation/decision.json`" in text
    assert len(text) <= summary.DESCRIPTION_LIMIT, "the registry caps descriptions"


def evaluate_first_model():
    ev = pd.DataFrame({"text": [f"t{i}" for i in range(60)], "label": [CLASSES[i % 6] for i in range(60)]})
    golden = golden_frame()
    truth = golden["expect"].map({"flag": "age", "no_flag": "not_cyberbullying"}).tolist()
    perfect = {"version": "1", "run_id": "r1", "eval": scores(ev["label"].tolist()), "golden": scores(truth)}
    t = Thresholds(max_ece=1.0, n_boot=50)
    return evaluate_challenger(
        ev, golden, perfect, None, {"ok": True, "detail": "ok"}, t, False, 7, "v", None, "b"
    )


def test_the_decision_summary_shows_both_models_the_interval_the_failed_gates_each_class_and_links():
    ev = pd.DataFrame({"text": [f"t{i}" for i in range(60)], "label": [CLASSES[i % 6] for i in range(60)]})
    golden = golden_frame()
    truth = golden["expect"].map({"flag": "age", "no_flag": "not_cyberbullying"}).tolist()
    good = {"version": "2", "run_id": "r2", "eval": scores(ev["label"].tolist()), "golden": scores(truth)}
    worse = ev["label"].where(ev.index % 3 != 0, "not_cyberbullying").tolist()
    bad = {"version": "3", "run_id": "r3", "eval": scores(worse), "golden": scores(truth)}
    t = Thresholds(max_ece=1.0, n_boot=200)
    result = evaluate_challenger(
        ev, golden, bad, good, {"ok": True, "detail": "ok"}, t, False, 7, "v-eval", "2026-01-03", "b"
    )
    links = {
        "challenger": "http://mlflow.example/#/models/harmful-content/versions/3",
        "champion": "http://mlflow.example/#/models/harmful-content/versions/2",
        "run": "http://mlflow.example/#/experiments/1/runs/r3",
        "validation": "s3://reports/validation",
    }
    text = summary.decision_markdown(result.evidence, "harmful-content", links)
    assert text.startswith("## Decision: reject")
    assert "challenger v3 | champion v2" in text and "| macro-F1 | " in text
    delta = result.evidence["delta_ci"]
    assert f"[{delta['lo']:+.3f}, {delta['hi']:+.3f}]" in text, "the bootstrap interval is shown"
    assert "**Failed gates:**" in text and "- `class_regression`:" in text
    assert all(f"| {c} | " in text for c in CLASSES), "one row per class"
    assert "[challenger v3](http://mlflow.example/#/models/harmful-content/versions/3)" in text
    assert "validation reports: `s3://reports/validation`" in text
    # In the registry it goes above the model card, replaces an older summary, and fits the column.
    card = "# Model card: harmful-content version 3\n\n" + "x" * 200
    described = summary.version_description(text, card)
    assert described.startswith("## Decision: reject") and described.endswith("x" * 200)
    assert summary.version_description(text, described) == described, "a rerun writes the same text"
    long = summary.version_description(text, "# Model card: big\n" + "y\n" * 5000)
    assert len(long) <= 5000 and long.startswith("## Decision:") and "cut to fit" in long


def test_what_happened_to_a_version_is_quoted_above_its_summary_once():
    page = "## Decision: promote\n\nnumbers"
    once = summary.with_status(page, "**Champion** from 2026-01-02, moved by bob")
    assert once.startswith("> **Champion** from 2026-01-02, moved by bob\n\n## Decision: promote")
    assert summary.with_status(once, "**Champion** from 2026-01-02, moved by bob") == once, (
        "a rerun adds nothing"
    )
    twice = summary.with_status(once, "**Rolled back** on 2026-01-03 by carol: drill")
    assert twice.split("\n")[:2] == ["> **Rolled back** on 2026-01-03 by carol: drill", once.split("\n")[0]]

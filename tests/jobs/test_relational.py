"""build-dataset's SQL decisions (``data/sql/``, run by DuckDB) decide what the pandas reference decides.

Every output table of :func:`harmwatch.data.relational.assemble` (training and evaluation snapshots, the
review queue with its reasons, the reporter table) and every content version must equal those of
:func:`tests.reference.decisions.assemble`, on a hand-made history that exercises each rule and defence (a
crew of co-reporters, an honest crowd, conflicting and reviewed labels, a champion that disagrees, spot
checks), under several policies, and on the policy's own unit cases. The end-to-end runs (real data and
the broken corpus, both engines through the CLI) are in ``tests/data/test_relational_parity.py``.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import operator

import pandas as pd
import pytest

from harmwatch.data import dataset as ds
from harmwatch.data import relational
from harmwatch.data.reporter_history import ReporterHistory
from harmwatch.data.weak_labels import Policy
from tests.factories import labelled, reports, strings
from tests.jobs.test_build_dataset import _history
from tests.reference import decisions as ref
from tests.reference.decisions import reporter_cohorts, spot_checked, tally, weak_label_decisions
from tests.spark.test_build_policy import REVIEWED, history

POLICIES = {
    "shipped": Policy(),
    "spot-checks-30%": Policy(spot_check_rate=0.3),
    "per-reason-no-trusted-dissent": Policy(spot_check_rate=0.3)
    .with_("per_reason")
    .without("trusted_dissent"),
    "before-report": Policy().with_("before_report", "per_reason"),
    "no-defences": Policy().without("cohorts", "trusted_dissent", "champion", "spot_checks"),
    "strict": Policy(min_reporters=4, min_reliability=0.9),
}


def assert_same(got: ds.Assembly, expected: ds.Assembly) -> None:
    for table in ("train", "eval", "review", "reliability"):
        g, e = getattr(got, table), getattr(expected, table)
        assert list(g.columns) == list(e.columns), table
        pd.testing.assert_frame_equal(strings(g), strings(e), obj=table)
    for fact in ("train_version", "eval_version", "review_version", "reporters_version", "weak_labels"):
        assert getattr(got, fact) == getattr(expected, fact), fact
    assert got.review_counts == expected.review_counts
    assert (got.train_files, got.eval_files) == (expected.train_files, expected.eval_files)


@pytest.mark.parametrize("name", list(POLICIES))
def test_sql_decisions_equal_pandas_on_a_history_that_exercises_every_rule(name):
    policy = POLICIES[name]
    lab, rep, scores = history()
    args = (lab, rep, None, policy, 0.2, 42)
    expected = ref.assemble(*args, champion=scores, reviewed=REVIEWED)
    assert_same(relational.assemble(*args, champion=scores, reviewed=REVIEWED), expected)
    if name == "spot-checks-30%":  # equality is not trivial: every kind of decision is there
        assert {"cohort", "champion", "spot_check", "disagreement"} <= set(expected.review_counts)
        assert expected.weak_labels > 0


def test_sql_reuses_a_frozen_anchor_and_its_texts_stay_out_of_training():
    lab, rep, scores = history()
    first = ref.assemble(lab, rep, None, Policy(), 0.2, 42)
    frozen = (first.eval, first.eval_version)
    expected = ref.assemble(lab, rep, frozen, Policy(), 0.2, 42, champion=scores)
    got = relational.assemble(lab, rep, frozen, Policy(), 0.2, 42, champion=scores)
    assert_same(got, expected)
    assert not set(got.train["key"]) & set(first.eval["key"])


def test_the_reporter_table_and_cohorts_of_metrics_are_the_plans_as_of_each_day():
    """metrics reads build-dataset's reporter table and cohorts as they stood on each day: the SQL over the
    rows up to that day equals the reference over the same rows."""
    lab, rep, _scores = history()
    days = ["2026-01-01", "2026-01-02", "2026-01-03"]
    rep = rep.assign(batch_dt=[days[i * 3 // len(rep)] for i in range(len(rep))])  # reports over 3 days
    metrics = ReporterHistory(lab, rep)
    for day in days:
        lab_upto, rep_upto = lab[lab["batch_dt"] <= day], rep[rep["batch_dt"] <= day]
        expected = ref.reliability_of(lab_upto, rep_upto).reset_index(drop=True)
        expected["trusted"] = expected["reliability"].astype(float) >= Policy().min_reliability
        pd.testing.assert_frame_equal(strings(metrics.reliability(day)), strings(expected), obj=day)
        cohorts = reporter_cohorts(ds.keyed_reports(rep_upto)).sort_values("reporter_id", ignore_index=True)
        got = metrics.cohorts(day).sort_values("reporter_id", ignore_index=True)
        pd.testing.assert_frame_equal(strings(got), strings(cohorts), obj=day)
    assert metrics.cohorts(days[-1])["cohort_size"].max() >= 3  # the crew is found
    first, last = (metrics.reliability(d)["reports_on_labelled"].sum() for d in (days[0], days[-1]))
    assert first < last  # the days differ


@pytest.mark.parametrize(
    ("reporters", "agree", "disagree", "votes"),
    [
        (["r1", "r2", "r3"], 6, 0, ["religion"] * 3),
        (["r1", "r2"], 6, 0, ["religion"] * 2),
        (["r1", "r2", "r3"], 2, 4, ["religion"] * 3),
        (["r1", "r2", "r3", "r4"], 6, 0, ["religion", "religion", "age", "age"]),
    ],
    ids=["accepted", "too-few", "unreliable", "disagree"],
)
def test_sql_weak_label_policy_cases(reporters, agree, disagree, votes):
    lab, reps = _history(reporters, agree, disagree)
    reps += [("new", "Reported only post", who, v) for who, v in zip(reporters, votes, strict=True)]
    args = (labelled(lab), reports(reps), None, Policy(spot_check_rate=0), 0.2, 1)
    assert_same(relational.assemble(*args), ref.assemble(*args))


def test_sql_without_reports_and_with_blank_and_conflicting_texts():
    lab = labelled(
        [
            ("1", "You are MEAN", "age"),
            ("2", "you are  mean", "age"),
            ("3", "x", "age"),
            ("4", "X ", "gender"),
        ]
        + [(str(i), f"t {i}", "religion") for i in range(5, 40)]
        + [("99", "   ", "age")]
    )
    args = (lab, pd.DataFrame(), None, Policy(), 0.15, 3)
    got = relational.assemble(*args)
    assert_same(got, ref.assemble(*args))
    assert got.review["review_reason"].tolist() == ["conflicting moderator labels: age|gender"]


def test_spot_check_threshold_draws_the_keys_the_hash_rule_draws():
    keys = pd.Series([f"text {i}" for i in range(2000)])
    prefixes = keys.map(lambda k: hashlib.sha256(f"7:spot-check:{k}".encode()).hexdigest()[:8])
    for rate in (0.0, 0.05, 0.5):
        drawn = prefixes < relational.spot_threshold(rate)
        assert drawn.tolist() == spot_checked(keys, rate, 7).tolist()


def test_parameters_become_literals_and_a_missing_one_is_named():
    assert relational.literal(0.8) == "CAST(0.8 AS DOUBLE)" and relational.literal("it's") == "'it''s'"
    with pytest.raises(KeyError, match=":min_reliability"):
        relational.render("reliability", {"prior_agree": 1.0, "prior_disagree": 1.0})


def test_a_mean_reliability_of_exactly_the_minimum_passes_in_any_order():
    # 8/12, 9/10, 8/10 and 10/12 average to exactly 0.8; added as floats, some orders give 0.79999...
    rels = [8 / 12, 9 / 10, 8 / 10, 10 / 12]
    policy = Policy(min_reporters=3, spot_check_rate=0).without("cohorts", "champion")
    orders = list(itertools.permutations(range(4)))
    added = {functools.reduce(operator.add, [rels[i] for i in order]) / 4 for order in orders}
    assert min(added) < 0.8 <= max(added)  # the case is not trivial (sum() would compensate)
    params = relational.parameters(policy, 1)
    engine = relational.DuckDB(threads=1)
    engine.frame("champion_scores", relational.champion_table(None, policy))
    for order in orders:
        votes = pd.DataFrame(
            {
                "key": "pending text",
                "reporter_id": [f"r{i}" for i in order],
                "reason": "religion",
                "rel": [rels[i] for i in order],
            }
        ).assign(trusted=lambda v: v["rel"] >= policy.min_reliability, cohort=lambda v: v["reporter_id"])
        decided = weak_label_decisions(tally(votes), policy)
        assert decided["review_reason"].tolist() == [""], order
        engine.frame("rated_votes", votes)
        for table in ("tally", "ranked_reasons", "weak_label_decisions"):
            engine.table(table, relational.render(table, params))
        sql = engine.fetch("weak_label_decisions")
        assert sql["review_reason"].tolist() == [""], order
        assert sql["mean_reliability"].tolist() == decided["mean_reliability"].tolist() == [0.8]


def test_texts_that_share_a_kh_are_still_told_apart(monkeypatch):
    """``kh`` (a 64-bit hash of the key) stands for the text in joins and groups; two texts with the same
    ``kh`` are caught by comparing their keys, and the inputs load again with the key itself as ``kh``.
    Forced here with a ``kh`` of the key's length: without the check the decisions change, with it not."""
    policy = POLICIES["spot-checks-30%"]
    lab, rep, scores = history()
    args = (lab, rep, None, policy, 0.2, 42)
    expected = ref.assemble(*args, champion=scores, reviewed=REVIEWED)
    by_length = "CAST(length(key) AS BIGINT)"

    clashing = relational.DuckDB()
    clashing.text_id = by_length
    assert_same(relational.assemble(*args, champion=scores, reviewed=REVIEWED, engine=clashing), expected)
    assert clashing.text_id == relational.EXACT_ID

    unchecked = relational.DuckDB()
    unchecked.text_id = by_length
    monkeypatch.setattr(relational, "id_collisions", lambda engine: 0)
    got = relational.assemble(*args, champion=scores, reviewed=REVIEWED, engine=unchecked)
    assert got.train_version != expected.train_version


def _queue_files(store, prefix: str) -> tuple[pd.DataFrame, bytes]:
    from harmwatch.data import catalog

    return store.read_parquet(f"{prefix}/{catalog.REVIEW_FILE}"), store.read_bytes(
        f"{prefix}/{catalog.REVIEW_CSV}"
    )


@pytest.mark.parametrize("case", ["conflicts-and-reports", "conflicts-only", "reports-only", "empty"])
def test_the_queue_the_engine_writes_is_the_queue_the_frame_writes(case, tmp_path):
    """The review queue kept in DuckDB (:class:`relational.EngineReview`) gives the Parquet file (values
    and column types), the spreadsheet CSV (byte for byte), rows, counts and version of the frame."""
    from harmwatch.data.snapshot_writer import write_files
    from harmwatch.storage import LocalStore

    lab, rep, scores = history()
    if case in ("conflicts-only", "empty"):
        rep = rep.iloc[0:0]
    if case in ("reports-only", "empty"):
        lab = lab[~ds.text_key(lab["text"]).duplicated()]  # one label per text: no conflict
    engine = relational.DuckDB()
    relational.load_frames(engine, lab, rep)
    relational.decide(engine, POLICIES["spot-checks-30%"], 42, 0.2, None, scores, REVIEWED)
    frame = relational.fetch_assembly(engine, POLICIES["spot-checks-30%"], None)
    staged = relational.EngineReview(engine)
    assert (engine.count("conflict_review") > 0) == (case in ("conflicts-and-reports", "conflicts-only"))
    assert (engine.count("report_review") > 0) == (case in ("conflicts-and-reports", "reports-only"))
    store = LocalStore(tmp_path)
    write_files(store, "frame", {"queue.parquet": frame.review, "queue.csv": frame.review}, {})
    assert sorted(staged.write(store, "engine")) == ["queue.csv", "queue.parquet"]
    (want, want_csv), (got, got_csv) = _queue_files(store, "frame"), _queue_files(store, "engine")
    pd.testing.assert_frame_equal(got, want)
    assert got_csv == want_csv
    engine_kept = ds.Assembly(**{**frame.__dict__, "review": frame.review.iloc[0:0], "staged_review": staged})
    for fact in ("review_rows", "review_counts", "review_version"):
        assert getattr(engine_kept, fact) == getattr(frame, fact), fact

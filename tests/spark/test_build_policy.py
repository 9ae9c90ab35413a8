"""The SQL decisions on Spark SQL make every weak-label decision the pandas build makes, including those
that span texts: reporters' records (also per reason, and as they stood before each vote), co-reporting
cohorts, trusted dissent, the champion check, spot checks, and a reviewed label settling a conflicted text.

One small hand-made history (a crew of three co-reporters, an honest crowd, conflicting and reviewed
moderator labels, posts known only from reports) is assembled by the pandas reference
(:func:`tests.reference.decisions.assemble`), and by :func:`harmwatch.data.relational.assemble` on one
Spark session and on DuckDB; every output table must be equal. The end-to-end runs are in ``test_parity.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harmwatch.config import Settings
from harmwatch.data.dataset import Assembly
from harmwatch.data.weak_labels import Policy
from tests.factories import strings
from tests.jobs.test_build_dataset import labelled, reports
from tests.reference import decisions as ref

CREW = ["c1", "c2", "c3"]


def history() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(labelled rows, report rows, the champion's scores of the posts known only from reports)."""
    rng = np.random.default_rng(7)
    lab = [(f"h{i}", f"crew history {i}", "religion") for i in range(12)]
    rep = [(f"h{i}", f"crew history {i}", w, "religion") for i in range(12) for w in CREW]
    for i in range(120):  # an honest crowd: two reporters a post, rarely the same two
        a, b = (f"u{j}" for j in rng.choice(30, size=2, replace=False))
        lab.append((f"o{i}", f"crowd post {i}", "age"))
        rep += [(f"o{i}", f"crowd post {i}", a, "age"), (f"o{i}", f"crowd post {i}", b, "age")]
    for i in range(40):  # posts known only from reports: crew poison, crowd consensus, disagreement
        text = f"pending post {i}"
        if i % 4 == 0:
            rep += [(f"p{i}", text, w, "religion") for w in CREW]
        elif i % 4 == 3:
            rep += [(f"p{i}", text, f"u{(i + k) % 30}", "age" if k % 2 else "gender") for k in range(4)]
        else:
            rep += [(f"p{i}", text, f"u{(i + k) % 30}", "age") for k in range(4)]
    labelled_rows = pd.concat(
        [
            labelled(lab),
            labelled(
                [("x1", "Conflicted text", "age"), ("x2", "conflicted  text", "gender")], day="2026-01-02"
            ),
            labelled([("y1", "settled text", "age"), ("y2", "Settled text", "gender")], day="2026-01-02"),
            labelled([("y3", "settled text", "gender")], day="2026-01-03", file="review-r1.csv"),
        ],
        ignore_index=True,
    )
    report_rows = reports(rep)
    pending = ref.pending_texts(labelled_rows, report_rows)
    classes = ["age", "gender", "religion", "not_cyberbullying"]
    scores = pd.DataFrame({f"score_{c}": 0.25 for c in classes}, index=pending.index).assign(
        key=pending["key"]
    )
    scores.loc[scores.index % 8 == 1, "score_age"] = 0.01  # the champion strongly disagrees with some
    return labelled_rows, report_rows, scores


@pytest.fixture(scope="module")
def spark(tmp_path_factory, java):
    from harmwatch.spark.session import build_session

    home = tmp_path_factory.mktemp("spark-policy")
    settings = Settings(home=str(home), spark_master="local[2]", spark_shuffle_partitions=2)
    session = build_session(settings, "build-policy-test")
    yield session
    session.stop()


REVIEWED = frozenset({"labelled/dt=2026-01-03/review-r1.csv"})  # as the review-pull ledger vouches


def both(spark, policy: Policy) -> tuple[Assembly, Assembly, Assembly]:
    """(pandas, Spark SQL, DuckDB) assemblies of the history under ``policy``."""
    from harmwatch.data import relational
    from harmwatch.spark.relational import SparkSQL

    lab, rep, scores = history()
    args = (lab, rep, None, policy, 0.2, 42)
    expected = ref.assemble(*args, champion=scores, reviewed=REVIEWED)
    on_spark = relational.assemble(*args, champion=scores, reviewed=REVIEWED, engine=SparkSQL(spark))
    on_duckdb = relational.assemble(*args, champion=scores, reviewed=REVIEWED)
    return expected, on_spark, on_duckdb


@pytest.mark.parametrize(
    "policy",
    [
        Policy(spot_check_rate=0.3),
        Policy(spot_check_rate=0.3).with_("per_reason").without("trusted_dissent"),
        Policy().with_("before_report"),
    ],
    ids=["default-defences", "per-reason-no-trusted-dissent", "before-report"],
)
@pytest.mark.spark
def test_spark_decisions_equal_pandas(spark, policy):
    expected, got, duck = both(spark, policy)
    for table in ("train", "eval", "review", "reliability"):
        g, e, d = (
            strings(getattr(got, table)),
            strings(getattr(expected, table)),
            strings(getattr(duck, table)),
        )
        pd.testing.assert_frame_equal(g, e, obj=table)
        pd.testing.assert_frame_equal(g, d, obj=table)  # the same SQL, the same rows on both engines
    assert (got.train_version, got.review_version, got.reporters_version) == (
        expected.train_version,
        expected.review_version,
        expected.reporters_version,
    )
    assert got.train_files == expected.train_files and got.eval_files == expected.eval_files
    kinds = expected.review_counts
    assert got.review_counts == kinds
    if not policy.before_report:  # the history exercises each defence, so equality is not trivial
        assert {"cohort", "champion", "spot_check", "disagreement"} <= set(kinds), kinds
    assert expected.weak_labels > 0 or policy.before_report
    settled = expected.train[expected.train["key"] == "settled text"]
    assert settled["label"].tolist() == ["gender"]  # the reviewed label won
    lab, rep, scores = history()  # the file's name alone settles nothing
    unvouched = ref.assemble(lab, rep, None, policy, 0.2, 42, champion=scores)
    assert "settled text" not in set(unvouched.train["key"])
    assert "settled text" in set(unvouched.review["key"])


@pytest.mark.spark
def test_texts_that_share_a_kh_on_spark_are_still_told_apart(spark):
    """On Spark, ``kh`` is its 64-bit ``xxhash64`` of the key; texts forced to share one (a ``kh`` of
    the key's length) are caught by comparing their keys, and the plan runs with the key as ``kh``."""
    from harmwatch.data import relational
    from harmwatch.spark.relational import SparkSQL

    lab, rep, scores = history()
    policy = Policy(spot_check_rate=0.3)
    args = (lab, rep, None, policy, 0.2, 42)
    expected = ref.assemble(*args, champion=scores, reviewed=REVIEWED)
    clashing = SparkSQL(spark)
    clashing.text_id = "CAST(length(key) AS BIGINT)"
    got = relational.assemble(*args, champion=scores, reviewed=REVIEWED, engine=clashing)
    assert clashing.text_id == relational.EXACT_ID
    for table in ("train", "eval", "review", "reliability"):
        pd.testing.assert_frame_equal(strings(getattr(got, table)), strings(getattr(expected, table)))
    assert (got.train_version, got.review_version) == (expected.train_version, expected.review_version)


@pytest.mark.spark
def test_the_snapshot_and_review_queue_stay_on_the_executors_and_match_duckdbs(spark, tmp_path):
    """On Spark the training snapshot and the review queue are held out, counted, hashed and written
    without being fetched to the driver, into the same files DuckDB writes (the queue's spreadsheet CSV
    byte for byte), with the same versions and counts; the candidate co-reporting pairs are tested there
    too (only the linked pairs are fetched)."""
    from harmwatch.data import relational
    from harmwatch.spark.relational import SparkSQL, SparkTrain
    from harmwatch.storage import open_store

    lab, rep, scores = history()
    policy = Policy(spot_check_rate=0.3)
    store = open_store(str(tmp_path / "lake"))
    fetched: list[str] = []
    kept = {}
    for name, engine in (("spark", SparkSQL(spark, store)), ("duckdb", relational.DuckDB())):
        fetch = engine.fetch
        engine.fetch = lambda table, order=None, _f=fetch: fetched.append(table) or _f(table, order)
        relational.load_frames(engine, lab, rep)
        relational.decide(engine, policy, 42, 0.2, None, scores, REVIEWED)
        staged = SparkTrain(engine) if name == "spark" else relational.EngineTrain(engine)
        staged.without(pd.Series(["settled text", "not in the snapshot"]))
        staged.write(store, f"{name}/train.parquet")
        store.write_parquet(f"{name}/old.parquet", lab.assign(key=lab["text"])[["key"]].head(3))
        facts = (staged.version(), staged.rows(), staged.label_counts(), staged.weak_labels())
        review = staged.review()
        assert review.write(store, f"{name}/review") == ["queue.parquet", "queue.csv"]
        reasons = review.report_reasons().to_dict("records")
        queue = (review.version(), review.rows(), reasons)
        kept[name] = (*facts, staged.new_rows(store, f"{name}/old.parquet"), *queue)
        if name == "spark":
            held = {"train", "train_out", "review_queue", "conflict_review", "report_review", "cohort_pairs"}
            assert "linked_pairs" in fetched, fetched
            assert not held & set(fetched), fetched
    assert kept["spark"] == kept["duckdb"] and kept["spark"][1] > 0 and kept["spark"][-2] > 0
    for file in ("train.parquet", "review/queue.parquet"):
        written = [store.read_parquet(f"{name}/{file}") for name in ("spark", "duckdb")]
        assert list(written[0].dtypes) == list(written[1].dtypes), file
        pd.testing.assert_frame_equal(strings(written[0]), strings(written[1]), obj=file)
    assert store.read_bytes("spark/review/queue.csv") == store.read_bytes("duckdb/review/queue.csv")
    assert sorted(o.key for o in store.list("spark")) == [
        "spark/old.parquet",
        "spark/review/queue.csv",
        "spark/review/queue.parquet",
        "spark/train.parquet",
    ]

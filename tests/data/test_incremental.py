"""Incremental days: folding the history run by run into the state tables decides what deciding on the
whole history decides, folding a run twice changes nothing, and build-dataset ``--incremental`` on a
lake gives the state tables and snapshots ``--rebuild`` and the full plan give.

The decision-level tests fold the rule-exercising history of ``tests/jobs/test_relational.py`` (a crew
of co-reporters, an honest crowd, conflicting and reviewed labels, a champion that disagrees, spot
checks) in parts and compare with :func:`harmwatch.data.relational.assemble` on all of it.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from harmwatch.config import load_settings
from harmwatch.data import catalog, incremental, relational
from harmwatch.steps import build_dataset as bd
from harmwatch.storage import LocalStore, open_store
from tests.jobs.test_build_dataset import _args, _commit
from tests.jobs.test_relational import POLICIES, assert_same, strings
from tests.spark.test_build_policy import REVIEWED, history

PARTS = 4


def _parts(frame: pd.DataFrame, n: int = PARTS) -> list[pd.DataFrame]:
    """``frame`` cut into ``n`` consecutive parts, each row keeping its place as its read order."""
    frame = frame.reset_index(drop=True).assign(_file="part", _rn=lambda d: range(len(d)))
    size = -(-len(frame) // n)
    return [frame.iloc[i * size : (i + 1) * size] for i in range(n)]


def _in_order(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The parts as one frame in their read order (how the full plan meets the rows)."""
    return pd.concat(parts).sort_values(["_file", "_rn"]).drop(columns=["_file", "_rn"])


def _state(engine: relational.DuckDB) -> dict[str, pd.DataFrame]:
    out = {}
    for name in incremental.STATE_TABLES:
        frame = engine.fetch(f"s_{name}", incremental.ORDER[name].split(", "))
        out[name] = strings(frame)
    return out


def _folded(parts: list[tuple[pd.DataFrame, pd.DataFrame]], policy, scores=None, twice: bool = False):
    engine = relational.DuckDB()
    incremental.empty_state(engine)
    params = relational.parameters(policy, 42, 0.2)
    for lab, rep in parts:
        for _ in range(2 if twice else 1):
            incremental.delta_from_frames(engine, lab, rep, reviewed=REVIEWED)
            incremental.fold(engine, params)
    incremental.decide(engine, policy, 42, 0.2, None, scores)
    return engine


def _decided_daily(parts: list[tuple[pd.DataFrame, pd.DataFrame]], policy, scores=None):
    """Fold and decide day by day, each day re-deciding only what its fold may have changed; the engine
    and, per day, (texts decided anew, texts pending)."""
    engine = relational.DuckDB()
    incremental.empty_state(engine)
    params = relational.parameters(policy, 42, 0.2)
    counts = []
    for day, (lab, rep) in enumerate(parts):
        incremental.delta_from_frames(engine, lab, rep, reviewed=REVIEWED)
        incremental.fold(engine, params)
        redecided = incremental.decide(engine, policy, 42, 0.2, None, scores, bounded=day > 0)
        counts.append((redecided, engine.count("weak_label_decisions")))
        engine.table("s_decisions", "SELECT * FROM weak_label_decisions")
        engine.table("s_cohorts", "SELECT * FROM cohort_members")
    return engine, counts


def _day_by_day() -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    lab, rep, _ = history()
    # reports arrive before, with and after the labels of their texts
    return list(zip(_parts(lab), reversed(_parts(rep)), strict=True))


@pytest.mark.parametrize("name", list(POLICIES))
def test_folding_day_by_day_decides_what_the_whole_history_decides(name):
    policy = POLICIES[name]
    scores = history()[2]
    days = _day_by_day()
    daily = _folded(days, policy, scores)
    at_once = _folded([(pd.concat([d[0] for d in days]), pd.concat([d[1] for d in days]))], policy, scores)
    for table, frame in _state(daily).items():
        pd.testing.assert_frame_equal(frame, _state(at_once)[table], obj=table)
    got = relational.fetch_assembly(daily, policy, None)
    # the full plan reads the rows in the order the parts give them
    expected = relational.assemble(
        _in_order([d[0] for d in days]),
        _in_order([d[1] for d in days]),
        None,
        policy,
        0.2,
        42,
        champion=scores,
        reviewed=REVIEWED,
    )
    assert_same(got, expected)
    # deciding each day only the texts whose votes, voters' records or cohorts changed decides the same
    bounded, counts = _decided_daily(days, policy, scores)
    order = ["key"]
    pd.testing.assert_frame_equal(
        strings(bounded.fetch("weak_label_decisions", order)),
        strings(daily.fetch("weak_label_decisions", order)),
        obj="decisions",
    )
    assert_same(relational.fetch_assembly(bounded, policy, None), expected)
    assert counts[-1][1] > 0


def test_the_folded_pair_counts_give_the_full_plans_candidate_pairs():
    """Co-reporting pairs counted as the days are folded (``s_pairs``, ``s_reach``) give the candidate
    pairs, expected counts and reporters the full plan's self-join of every vote gives, value for value."""
    policy = POLICIES["shipped"]
    days = _day_by_day()
    daily = _folded(days, policy)
    full = relational.DuckDB()
    lab, rep = _in_order([d[0] for d in days]), _in_order([d[1] for d in days])
    relational.assemble(lab, rep, None, policy, 0.2, 42, reviewed=REVIEWED, engine=full)
    order = ["a", "b"]
    got, expected = daily.fetch("cohort_pairs", order), full.fetch("cohort_pairs", order)
    assert len(expected) > 0 and len(daily.fetch("cohort_members")) > 0
    pd.testing.assert_frame_equal(got, expected)
    # every pair met on a text is counted, not only the candidates
    assert daily.count("s_pairs") > len(expected) and daily.count("s_reach") == rep["reporter_id"].nunique()


def test_a_day_re_decides_only_the_texts_whose_inputs_changed():
    lab, rep, scores = history()
    days = list(zip(_parts(lab), _parts(rep), strict=True))
    quiet = (lab.iloc[0:0], rep.iloc[0:0])  # a day with nothing new: nothing to decide again
    _engine, counts = _decided_daily([*days, quiet], POLICIES["shipped"], scores)
    assert counts[-1][0] == 0 and counts[-1][1] > 0
    assert any(0 < again < pending for again, pending in counts[1:-1])


def test_folding_a_day_twice_counts_nothing_twice():
    policy = POLICIES["shipped"]
    days = _day_by_day()
    once, twice = _folded(days, policy), _folded(days, policy, twice=True)
    for table, frame in _state(once).items():
        pd.testing.assert_frame_equal(frame, _state(twice)[table], obj=table)
    record = _state(once)["record"]
    assert len(record) and record["judged"].astype(int).sum() > 0


def test_a_conflict_arriving_later_withdraws_the_votes_it_had_judged():
    policy = POLICIES["shipped"]
    lab1 = pd.DataFrame({"post_id": ["a"], "text": ["Some post"], "label": ["age"]}).assign(
        labelled_at="2026-01-01T10:00:00Z", batch_dt="2026-01-01", source_file="l1"
    )
    rep = pd.DataFrame(
        {
            "report_id": ["r1", "r2"],
            "post_id": ["a", "a"],
            "text": ["some post", "some post"],
            "reporter_id": ["u1", "u2"],
            "reason": ["age", "gender"],
            "reported_at": "2026-01-01T09:00:00Z",
            "batch_dt": "2026-01-01",
            "source_file": "r1",
        }
    )
    lab2 = lab1.assign(label="gender", post_id="b", source_file="l2", labelled_at="2026-01-02T10:00:00Z")
    empty = rep.iloc[0:0]
    engine = _folded([(lab1, rep)], policy)
    assert _state(engine)["record"][["reporter_id", "judged", "agreements"]].values.tolist() == [
        ["u1", "1", "1"],
        ["u2", "1", "0"],
    ]
    engine = _folded([(lab1, rep), (lab2, empty)], policy)
    assert _state(engine)["record"].empty  # the text is conflicted now: nobody's vote is judged on it
    assert engine.fetch("conflict_review")["labels_seen"].tolist() == ["age|gender"]


# -- build-dataset on a lake ---------------------------------------------------------------------------


def _lake_days(lake, days: range) -> None:
    lab, rep, _ = history()
    for i, (l_part, r_part) in enumerate(zip(_parts(lab), _parts(rep), strict=True)):
        if i not in days:
            continue
        day = f"2026-01-{i + 1:02d}"
        l_part = l_part.drop(columns=["_file", "_rn"]).assign(batch_dt=day)
        l_part = l_part.assign(
            source_file=l_part["source_file"].where(
                l_part["source_file"].isin(REVIEWED), f"labelled/dt={day}/batch.csv"
            )
        )
        r_part = r_part.drop(columns=["_file", "_rn"]).assign(
            batch_dt=day, source_file=f"reports/dt={day}/r.jsonl"
        )
        _commit(lake, "labelled", f"d{i}", l_part)
        _commit(lake, "reports", f"d{i}", r_part)


def _tables(store, version: str) -> dict[str, pd.DataFrame]:
    """Every state table of ``version`` as its parts make it up, and its decisions."""
    manifest = store.manifest(incremental.state_prefix(version))
    engine = relational.DuckDB()
    incremental.load_state(engine, store, manifest)
    out = _state(engine)
    for name in incremental.RESULTS:
        frame = store.read_parquet(f"{incremental.state_prefix(version)}/{name}.parquet")
        out[name] = strings(frame.sort_values(incremental.ORDER.get(name, "key")).reset_index(drop=True))
    return out


def test_build_dataset_incremental_equals_rebuild_and_the_full_plan(hw_env, tmp_path, monkeypatch):
    monkeypatch.setattr(incremental, "MAX_PARTS", 3)  # the fourth day writes the tables whole again
    settings = load_settings()
    store = open_store(settings.lake_uri)
    args = _args(incremental=True, engine="duckdb")
    summaries = []
    for day in range(PARTS):
        _lake_days(settings.lake_uri, range(day, day + 1))
        summaries.append(bd.run(settings, args))
    assert [s["runs_folded"] for s in summaries] == [2] * PARTS
    assert not any(s["state_rebuilt"] for s in summaries[1:])
    parts = [store.manifest(incremental.state_prefix(s["state_version"]))["parts"] for s in summaries]
    assert [len(p["votes"]) for p in parts] == [1, 2, 3, 1]  # a day writes what it changed
    last = summaries[-1]
    assert last["rows_recent"] > 0 and last["weak_labels_accepted"] > 0 and last["rows_review"] > 0

    again = bd.run(settings, args)  # the same day twice: nothing folded, nothing new written
    assert again["runs_folded"] == 0 and again["state_version"] == last["state_version"]
    assert again["train_version"] == last["train_version"]
    assert again["texts_decided"] == 0  # nothing changed: every decision is the previous run's

    # a run killed after committing its state but before moving the pointer: the rerun folds again
    store.write_json(catalog.STATE_LATEST, {"version": summaries[-2]["state_version"]})
    rerun = bd.run(settings, args)
    assert rerun["runs_folded"] == 2 and rerun["state_version"] == last["state_version"]

    # the rebuild, on a copy of the lake without the state
    copy = tmp_path / "rebuilt"
    shutil.copytree(settings.lake_uri, copy)
    shutil.rmtree(copy / catalog.STATE)
    rebuilt_settings = settings.model_copy(update={"lake_uri": str(copy)})
    rebuilt = bd.run(rebuilt_settings, _args(rebuild=True, engine="duckdb"))
    assert rebuilt["state_rebuilt"] and rebuilt["runs_folded"] == 2 * PARTS
    assert rebuilt["state_version"] == last["state_version"]
    mine, theirs = (
        _tables(store, last["state_version"]),
        _tables(open_store(str(copy)), rebuilt["state_version"]),
    )
    assert set(mine) == set(incremental.COMMITTED)
    for name in incremental.COMMITTED:
        pd.testing.assert_frame_equal(mine[name], theirs[name], obj=name)
    for fact in ("train_version", "eval_version", "review_version", "reporters_version", "recent_version"):
        assert rebuilt[fact] == last[fact], fact

    full = bd.run(settings, _args(engine="duckdb"))  # the full plan on the same lake
    for fact in ("train_version", "eval_version", "review_version", "reporters_version", "recent_version"):
        assert full[fact] == last[fact], fact


class _Remote(LocalStore):
    """A local folder read and written only through bytes, as an object store is (no local paths)."""

    def local_path(self, key: str):
        return None


@pytest.mark.slow
def test_state_on_an_object_store_equals_the_local_one(hw_env, tmp_path):
    settings = load_settings()
    policy = bd.policy_of(_args())
    remote_root = tmp_path / "remote"
    summaries = {}
    for name, store in (("local", open_store(settings.lake_uri)), ("remote", _Remote(remote_root))):
        lake = settings.lake_uri if name == "local" else remote_root
        runs = []
        for day in range(PARTS):
            _lake_days(lake, range(day, day + 1))
            runs.append(incremental.run(settings, _args(incremental=True), store, policy))
        summaries[name] = runs
    for fact in ("state_version", "train_version", "review_version", "reporters_version", "recent_version"):
        assert [s[fact] for s in summaries["remote"]] == [s[fact] for s in summaries["local"]], fact
    version = summaries["local"][-1]["state_version"]
    mine, theirs = _tables(open_store(settings.lake_uri), version), _tables(_Remote(remote_root), version)
    for name in incremental.COMMITTED:
        pd.testing.assert_frame_equal(mine[name], theirs[name], obj=name)


def test_incremental_renewal_of_the_anchor_equals_the_full_plans(hw_env, tmp_path, monkeypatch):
    """An incremental day reads only the anchor's keys, except when it renews the anchor: then the
    renewal draws from the whole anchor as the full plan's does."""
    monkeypatch.setenv("HARMWATCH_ACTOR", "lead-moderator")
    settings = load_settings()
    store = open_store(settings.lake_uri)
    _lake_days(settings.lake_uri, range(PARTS - 1))
    bd.run(settings, _args(incremental=True, engine="duckdb"))
    _lake_days(settings.lake_uri, range(PARTS - 1, PARTS))
    copy = tmp_path / "full"
    shutil.copytree(settings.lake_uri, copy)
    renew = {"renew_anchor": True, "reason": "slang moved on", "engine": "duckdb"}
    renewed = bd.run(settings, _args(incremental=True, **renew))
    full = bd.run(settings.model_copy(update={"lake_uri": str(copy)}), _args(**renew))
    assert renewed["anchor_generation"] == full["anchor_generation"] == 1
    for fact in ("train_version", "eval_version", "review_version", "rows_eval", "rows_train"):
        assert renewed[fact] == full[fact], fact
    anchor = store.read_parquet(f"{catalog.eval_snapshot(renewed['eval_version'])}/{catalog.EVAL_FILE}")
    assert {"key", "text", "label", "post_id"} <= set(anchor.columns) and len(anchor) == renewed["rows_eval"]


def test_texts_the_state_holds_once_come_back_where_they_differ():
    """The state keeps a conflict's first text (``c_text``) and the champion's text of a report
    (``p_text``) only where they differ from the moderated and weak-label texts: folded in two days, the
    review rows and the texts the champion is asked about are the full plan's, word for word."""
    policy = POLICIES["shipped"]
    at = "2026-01-01T10:00:00Z"
    lab = pd.DataFrame(  # one text, two labels: a conflict; read first is post b, the earliest post a
        {
            "post_id": ["b", "a", "c"],
            "text": ["Some  Post", "some post", "Plain"],
            "label": ["age", "gender", "age"],
        }
    ).assign(labelled_at=at, batch_dt="2026-01-01", source_file="l1")
    rep = pd.DataFrame(  # the first report by id is read second
        {
            "report_id": ["r2", "r1", "r3"],
            "post_id": ["x", "x", "y"],
            "text": ["Only  Reported", "only reported", "Plain"],
            "reporter_id": ["u1", "u2", "u3"],
            "reason": ["age", "age", "age"],
        }
    ).assign(reported_at="2026-01-01T09:00:00Z", batch_dt="2026-01-01", source_file="r1")
    days = [(lab.iloc[:1], rep.iloc[:1]), (lab.iloc[1:], rep.iloc[1:])]
    parts = [
        (_parts(lb, 1)[0].assign(_file=f"d{i}"), _parts(rp, 1)[0].assign(_file=f"d{i}"))
        for i, (lb, rp) in enumerate(days)
    ]
    daily = _folded(parts, policy)
    full = relational.DuckDB()
    relational.assemble(lab, rep, None, policy, 0.2, 42, engine=full)
    got, expected = daily.fetch("conflict_review", ["key"]), full.fetch("conflict_review", ["key"])
    assert got["text"].tolist() == expected["text"].tolist() == ["Some  Post"]
    pending = incremental.pending_texts(daily)
    assert pending["text"].tolist() == relational.pending_texts(full)["text"].tolist() == ["Only  Reported"]
    labels, reports = (_state(daily)[t].set_index("key") for t in ("labels", "reports"))
    assert labels["c_text"].isna().tolist() == [True, False]  # "plain", "some post"
    assert reports["p_text"].isna().tolist() == [False, True]  # "only reported", "plain"

"""Authority from records: a label speaks for the review loop only when the review-pull ledger vouches for
its landing file (its key and the sha256 of its bytes), and review-pull reads only the Label Studio
tasks harmwatch sent.

Attacks tried, each with its inputs built here: a ``review-forged.csv`` dropped in the landing zone (300
rows of one class; one row against two moderators' labels; a new post the recent slice would hold out), a
genuine review file edited after review-pull wrote it, Label Studio tasks imported or edited by a user,
an adjudication task nobody asked for, and one annotator answering the same task twice.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harmwatch.cli import main
from harmwatch.data import catalog
from harmwatch.data.authority import digest, reviewed_files
from harmwatch.data.relational import resolve_labels
from harmwatch.data.snapshot_writer import provenance
from harmwatch.review.outcomes import DECISION_COLUMNS, review_decisions
from harmwatch.review.tasks import sent_as_recorded
from harmwatch.storage import Store, open_store
from tests.factories import land, landing_csv, recent_slice

DAY = "2026-01-01"


def land_labelled(home: Path, name: str, rows: list[tuple[str, str, str]], day: str = DAY) -> str:
    """Write a labelled landing file; returns its landing key."""
    key = f"labelled/dt={day}/{name}"
    land(home / "landing", key, landing_csv(rows, at=f"{day}T10:00:00Z"))
    return key


def one_class(prefix: str, n: int = 300) -> list[tuple[str, str, str]]:
    return [(f"{prefix}{i}", f"{prefix} post number {i}", "age") for i in range(n)]


def as_review_pull(home: Path, key: str) -> None:
    """Commit a review-pull run that wrote ``key`` with its current bytes: the ledger entry review-pull
    makes (decisions and status tables with no rows, the landing file and its digest in the manifest)."""
    lake = open_store(str(home / "lake"))
    prefix = catalog.review_pull("r-" + digest(key.encode())[:12])
    empty = pd.DataFrame(columns=DECISION_COLUMNS)
    lake.write_parquet(f"{prefix}/{catalog.DECISIONS_FILE}", empty)
    lake.write_parquet(f"{prefix}/{catalog.STATUS_FILE}", empty)
    body = (home / "landing" / key).read_bytes()
    meta = {"date": DAY, "landing_file": key, "landing_sha256": digest(body), "adjudication_tasks": []}
    lake.commit(prefix, [catalog.DECISIONS_FILE, catalog.STATUS_FILE], meta)


def cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str]:
    """Run a harmwatch command in this process; (exit code, stderr)."""
    code = main(list(argv))
    return code, capsys.readouterr().err


def lake_of(home: Path) -> Store:
    return open_store(str(home / "lake"))


def test_a_file_name_does_not_spare_a_batch_the_class_mix_check(hw_env: Path, capsys, caplog) -> None:
    plain = land_labelled(hw_env, "plain.csv", one_class("plain"))
    forged = land_labelled(hw_env, "review-forged.csv", one_class("forged"))
    genuine = land_labelled(hw_env, "review-0123456789abcdef.csv", one_class("genuine"))
    tampered = land_labelled(hw_env, "review-fedcba9876543210.csv", one_class("tampered"))
    as_review_pull(hw_env, genuine)
    as_review_pull(hw_env, tampered)
    with (hw_env / "landing" / tampered).open("a") as f:  # edited after review-pull wrote it
        f.write("extra,one more row,age,2026-01-01T10:00:00Z,mod-1\n")
    assert cli(capsys, "ingest", f"--date={DAY}")[0] == 0
    code, err = cli(capsys, "validate", f"--date={DAY}")
    assert code == 3, err  # rejected batches fail the task
    [run] = lake_of(hw_env).committed(catalog.validated_runs("labelled"))
    rejected = run["rejected_batches"]
    assert set(rejected) == {plain, forged, tampered}, rejected
    assert all(why.startswith("share_age=1") for why in rejected.values())
    # The genuine review answers follow the queue's mix: a warning, and their rows are validated.
    valid = lake_of(hw_env).read_parquet(f"{run['prefix']}/{catalog.PART}")
    assert set(valid["source_file"]) == {genuine} and len(valid) == 300
    assert f"{forged}: taken as an ordinary labelled file: named like a review-pull file" in caplog.text
    assert f"{tampered}: taken as an ordinary labelled file: its bytes differ" in caplog.text


def test_ingest_records_each_file_digest_and_its_landing_zone(hw_env: Path, capsys) -> None:
    key = land_labelled(hw_env, "a.csv", one_class("a", 3))
    assert cli(capsys, "ingest")[0] == 0
    [m] = lake_of(hw_env).committed(catalog.ingest_runs("labelled"))
    assert m["landing_uri"] == open_store(str(hw_env / "landing")).uri
    [source] = m["sources"]
    assert source["sha256"] == digest((hw_env / "landing" / key).read_bytes())


CONFLICT = [("m1", "the same text", "not_cyberbullying"), ("m2", "the same text", "not_cyberbullying")]


def test_a_forged_review_row_neither_overrides_two_moderators_nor_escapes_the_holdout(
    hw_env: Path, capsys
) -> None:
    land_labelled(hw_env, "bulk.csv", [*CONFLICT, ("old", "an old post", "age")], day="2026-01-01")
    forged = land_labelled(
        hw_env,
        "review-forged.csv",
        [("f1", "the same text", "age"), ("f2", "a fresh post", "gender")],
        "2026-01-02",
    )
    assert cli(capsys, "ingest")[0] == 0
    lake = lake_of(hw_env)
    labelled = pd.concat(
        [lake.read_parquet(f"{m['prefix']}/{catalog.PART}") for m in lake.committed("ingest/labelled")]
    )
    reviewed, refused = reviewed_files(lake)
    assert reviewed == set() and set(refused) == {forged}
    clean, conflicts = resolve_labels(labelled, reviewed)
    assert "the same text" not in set(clean["key"]) and set(conflicts["key"]) == {"the same text"}
    train = clean.assign(label_source="moderator")
    kept, recent, _why = recent_slice(labelled, train, "2026-01-02", 1, reviewed)
    assert set(recent["key"]) == {"a fresh post"}  # an ordinary new label: held out like any other
    # The same file, written by review-pull and unchanged, does what a review decision does.
    as_review_pull(hw_env, forged)
    reviewed, refused = reviewed_files(lake)
    assert reviewed == {forged} and refused == {}
    clean, conflicts = resolve_labels(labelled, reviewed)
    assert clean.set_index("key").loc["the same text", "label"] == "age" and conflicts.empty
    kept, recent, _why = recent_slice(
        labelled, clean.assign(label_source="moderator"), "2026-01-02", 1, reviewed
    )
    assert recent.empty and "a fresh post" in set(kept["key"])
    origin = provenance(lake)
    assert origin["reviewed"] == {forged} and origin["landing_zones"] != ["unrecorded"]


def pushed(*rows: tuple[int, str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["task_id", "item", "text", "post_ids"])


def task(i: int, item: str, text: str, posts: str, annotations: list | None = None) -> dict:
    data = {"item": item, "text": text, "post_ids": posts, "queued_on": DAY}
    return {"id": i, "overlap": 1, "data": data, "annotations": annotations or []}


def ann(i: int, user: int, label: str) -> dict:
    region = {"from_name": "label", "value": {"choices": [label]}}
    return {
        "id": i,
        "completed_by": user,
        "result": [region],
        "lead_time": 5,
        "created_at": f"{DAY}T11:00:00Z",
    }


def test_review_pull_reads_only_the_tasks_review_push_sent() -> None:
    record = pushed((1, "i1", "a post", "p1"), (2, "i2", "another post", "p2|p3"))
    tasks = [
        task(1, "i1", "a post", "p1", [ann(1, 7, "age")]),  # as sent
        task(2, "i2", "another post, edited", "p2|p3", [ann(2, 7, "age")]),  # text edited in Label Studio
        task(3, "i1", "a post", "p1", [ann(3, 7, "gender")]),  # imported: same item, not a pushed task
        task(4, "i9", "a post nobody queued", "p9", [ann(4, 7, "age")]),  # imported
    ]
    kept, refused = sent_as_recorded(tasks, record)
    assert [t["id"] for t in kept] == [1]
    assert {r["task_id"]: r["reason"] for r in refused} == {
        2: "text differ from what review-push sent",
        3: "not a task review-push created",
        4: "not a task review-push created",
    }
    moved = [task(1, "i1", "a post", "p1|p666")]  # post ids pointed at another post
    assert sent_as_recorded(moved, record)[1][0]["reason"] == "post_ids differ from what review-push sent"
    # Adjudication: only tasks review-pull created, carrying the pushed item's text and posts.
    adjudications = [task(50, "i1", "a post", "p1", [ann(9, 8, "religion")]), task(51, "i1", "a post", "p1")]
    kept, refused = sent_as_recorded(adjudications, record, {51})
    assert [t["id"] for t in kept] == [51]
    assert refused == [
        {"task_id": 50, "item": "i1", "reason": "not an adjudication task review-pull created"}
    ]
    # A record written before texts were kept vouches for nothing.
    old = pushed((1, "i1", None, None))
    assert sent_as_recorded([task(1, "i1", "a post", "p1")], old)[0] == []


def test_one_annotator_counts_once() -> None:
    twice = {**task(1, "i1", "a post", "p1", [ann(1, 7, "age"), ann(2, 7, "age")]), "overlap": 2}
    [row] = review_decisions([twice], [], lambda uid: f"m_{uid}").to_dict(orient="records")
    assert row["status"] == "pending" and row["reason"] == "waiting for another annotation (1 of 2)"
    # Changing one's mind is not a disagreement: the newest answer of each annotator counts.
    changed = task(2, "i2", "b post", "p2", [ann(3, 7, "age"), ann(4, 7, "gender"), ann(5, 8, "gender")])
    decided = review_decisions([{**changed, "overlap": 2}], [], lambda uid: f"m_{uid}")
    [row] = decided.to_dict(orient="records")
    assert (row["status"], row["label"], row["labellers"]) == ("labelled", "gender", "m_7|m_8")


@pytest.mark.server
@pytest.mark.slow
def test_tasks_imported_or_edited_in_label_studio_do_not_come_back(label_studio, hw_env: Path) -> None:
    """Against a real Label Studio: a duplicate task imported for a queued item, a pushed task whose text a
    user edited, an adjudication task nobody asked for, and one moderator answering twice."""
    from label_studio_sdk.client import LabelStudio

    from tests.review.conftest import CONFLICTS, REPORTED, build, write_landing
    from tests.review.test_loop import choose, step

    texts = list(CONFLICTS)
    write_landing(hw_env / "landing")
    env = {
        "HARMWATCH_HOME": str(hw_env),
        "HARMWATCH_LABEL_STUDIO_URL": label_studio.url,
        "HARMWATCH_LABEL_STUDIO_TOKEN": label_studio.admin.token,
        "HARMWATCH_LABEL_STUDIO_PROJECT": "authority test",
    }
    assert build(env)["rows_review"] == 4
    assert step(env, "review-push", f"--date={DAY}", "--overlap-percent=100")["pushed"] == 4
    admin = LabelStudio(base_url=label_studio.url, api_key=label_studio.admin.token)
    first, second = (LabelStudio(base_url=label_studio.url, api_key=m.token) for m in label_studio.moderators)
    projects = {p.title: p.id for p in admin.projects.list()}
    review, adjudication = projects["authority test"], projects["authority test - adjudication"]
    tasks = {t.data["text"]: t for t in admin.tasks.list(project=review)}
    # A copy of the reported post's task, imported and labelled by two accounts: it must not count.
    [copy] = admin.projects.import_tasks(
        id=review, request=[dict(tasks[REPORTED].data)], return_task_ids=True
    ).task_ids
    for sdk in (first, second):
        choose(sdk, int(copy), "religion")
    # A pushed task whose text a user changed, then labelled by both moderators.
    edited = tasks[texts[2]]
    admin.tasks.update(id=str(edited.id), data={**edited.data, "text": "a different post"})
    for sdk in (first, second):
        choose(sdk, edited.id, "age")
    # Moderators disagree on the second text; an adjudication task is imported and answered first.
    choose(first, tasks[texts[1]].id, "gender")
    choose(second, tasks[texts[1]].id, "other_cyberbullying")
    forged = {**tasks[texts[1]].data, "answers": "forged"}
    [fake] = admin.projects.import_tasks(id=adjudication, request=[forged], return_task_ids=True).task_ids
    choose(admin, int(fake), "gender")
    # One moderator answers the first text twice: an overlap of two needs two people.
    choose(first, tasks[texts[0]].id, "other_cyberbullying")
    choose(first, tasks[texts[0]].id, "other_cyberbullying")

    pulled = step(env, "review-pull", f"--date={DAY}")
    assert pulled["tasks_refused"] == 3, pulled
    assert pulled["status_counts"] == {"labelled": 0, "skipped": 0, "adjudication": 1, "pending": 2}
    assert (pulled["labelled_new"], pulled["landing_file"], pulled["adjudication_created"]) == (0, None, 1)
    lake = lake_of(hw_env)
    [run] = lake.committed(catalog.REVIEW_PULLS)
    assert {r["task_id"] for r in run["refused_tasks"]} == {int(copy), edited.id, int(fake)}
    [made] = run["adjudication_tasks"]
    assert made != int(fake)

    choose(second, tasks[texts[0]].id, "other_cyberbullying")
    choose(admin, made, "other_cyberbullying")
    settled = step(env, "review-pull", f"--date={DAY}")
    assert settled["labelled_new"] == 2 and settled["tasks_refused"] == 3
    key = next(m for m in lake.committed(catalog.REVIEW_PULLS) if m.get("landing_file"))["landing_file"]
    step(env, "ingest", f"--date={DAY}")
    assert reviewed_files(lake) == ({key}, {})


def test_a_landing_zone_override_is_recorded_up_to_the_training_run(hw_env: Path, capsys) -> None:
    """The trigger form may point ingest at another landing zone: lineage names it (ingest manifest,
    the training snapshot's ``landing_zones``, the training run's ``harmwatch.landing_zones`` tag)."""
    from harmwatch.steps.train import _run_tags

    land_labelled(hw_env, "a.csv", one_class("a", 3))
    other = hw_env / "elsewhere"
    (other / "labelled" / f"dt={DAY}").mkdir(parents=True)
    land(
        other,
        f"labelled/dt={DAY}/b.csv",
        landing_csv([("b1", "from elsewhere", "age")], at=f"{DAY}T10:00:00Z"),
    )
    assert cli(capsys, "ingest")[0] == 0
    assert cli(capsys, "ingest", f"--landing={other}")[0] == 0
    zones = provenance(lake_of(hw_env))["landing_zones"]
    assert zones == sorted({open_store(str(hw_env / "landing")).uri, open_store(str(other)).uri})
    snapshot = {"version": "t1", "files": [{"sha256": "ab"}], "landing_zones": zones}
    _versions, _prints, tags = _run_tags(snapshot, {"version": "e1", "files": [{"sha256": "cd"}]}, DAY)
    assert tags["harmwatch.landing_zones"] == " ".join(zones)
    old = {"version": "t0", "files": [{"sha256": "ab"}]}  # a snapshot from before zones were recorded
    assert _run_tags(old, old, DAY)[2]["harmwatch.landing_zones"] == "unrecorded"

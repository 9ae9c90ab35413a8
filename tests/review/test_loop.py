"""The moderation loop against a real Label Studio: push, moderators answer, pull, adjudication, and the
next training snapshot; every item accounted for and every rerun a no-op.

Label Studio 1.23.2 runs from ``.venv-labelstudio`` on 127.0.0.1 (tests/conftest.py ``label_studio``);
the steps are the real commands in fresh processes. The moderators answer through the API with their
own personal access tokens, as the labelling screen does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harmwatch.data.dataset import text_key
from tests.conftest import run_cli
from tests.review.conftest import CONFLICTS, DAY, REPORTED, build, write_landing

pytestmark = [pytest.mark.server, pytest.mark.slow]
TEXTS = list(CONFLICTS)  # agreed, disagreed (adjudicated), skipped; REPORTED stays pending


def step(env: dict[str, str], *args: str) -> dict:
    proc = run_cli(*args, env=env)
    assert proc.returncode == 0, f"{args}: {proc.stderr[-2000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def client(url: str, token: str):
    from label_studio_sdk.client import LabelStudio

    return LabelStudio(base_url=url, api_key=token)


def choose(sdk, task_id: int, label: str | None) -> None:
    if label is None:
        note = {
            "from_name": "note",
            "to_name": "text",
            "type": "textarea",
            "value": {"text": ["needs context"]},
        }
        sdk.annotations.create(id=task_id, result=[note], was_cancelled=True, lead_time=4.0)
        return
    region = {"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}
    sdk.annotations.create(id=task_id, result=[region], lead_time=12.5)


def snapshot(home: Path) -> pd.DataFrame:
    lake = home / "lake"
    version = json.loads((lake / "datasets" / "train" / "LATEST.json").read_text())["version"]
    return pd.read_parquet(lake / "datasets" / "train" / f"v={version}" / "train.parquet")


def test_queue_to_label_studio_and_back_into_training(label_studio, hw_env: Path) -> None:
    write_landing(hw_env / "landing")
    env = {
        "HARMWATCH_HOME": str(hw_env),
        "HARMWATCH_LABEL_STUDIO_URL": label_studio.url,
        "HARMWATCH_LABEL_STUDIO_TOKEN": label_studio.admin.token,
        "HARMWATCH_LABEL_STUDIO_PROJECT": "loop test",
    }
    assert build(env)["rows_review"] == 4

    pushed = step(env, "review-push", f"--date={DAY}", "--overlap-percent=100")
    assert (pushed["pushed"], pushed["queue_rows"], pushed["not_pushed"]) == (4, 4, 0)
    assert pushed["champion_version"] is None  # no champion yet: volume orders the queue
    assert step(env, "review-push", f"--date={DAY}")["pushed"] == 0  # a rerun adds nothing

    admin = client(label_studio.url, label_studio.admin.token)
    project = next(p for p in admin.projects.list(title="loop test") if p.title == "loop test")
    tasks = {t.data["text"]: t for t in admin.tasks.list(project=project.id)}
    assert set(tasks) == {*TEXTS, REPORTED} and {t.overlap for t in tasks.values()} == {2}
    evidence = tasks[REPORTED].data
    assert "2 report(s)" in evidence["reports"] and "reporters suggest religion" in evidence["reports"]
    assert tasks[TEXTS[0]].data["labels_seen"] == "not_cyberbullying, other_cyberbullying"
    first, second = (client(label_studio.url, m.token) for m in label_studio.moderators)
    for sdk, answers in (
        (first, ("other_cyberbullying", "gender", None)),
        (second, ("other_cyberbullying", "other_cyberbullying", None)),
    ):
        for text, label in zip(TEXTS, answers, strict=True):
            choose(sdk, tasks[text].id, label)
    choose(first, tasks[REPORTED].id, "religion")  # the second annotation is still missing

    pulled = step(env, "review-pull", f"--date={DAY}")
    assert pulled["status_counts"] == {"labelled": 1, "skipped": 1, "adjudication": 1, "pending": 1}
    assert (pulled["labelled_new"], pulled["skipped_new"], pulled["adjudication_created"]) == (1, 1, 1)
    assert pulled["queued_not_pushed"] == 0
    rows = pd.read_csv(pulled["landing_file"], dtype=str)
    assert list(rows.columns[:5]) == ["post_id", "text", "label", "labelled_at", "labeller_id"]
    assert set(rows["post_id"]) == {"conflict-0-0", "conflict-0-1"} and set(rows["label"]) == {
        "other_cyberbullying"
    }
    assert rows["labeller_id"].str.match(r"^m_[0-9a-f]{16}$").all() and "moderator" not in rows.to_csv()
    assert set(rows["review_outcome"]) == {"agreed"} and set(rows["lead_time_seconds"]) == {"25.000"}
    again = step(env, "review-pull", f"--date={DAY}")
    assert (again["labelled_new"], again["adjudication_created"], again["landing_file"]) == (0, 0, None)

    adjudication = next(p for p in admin.projects.list(title="loop test - adjudication"))
    [disputed] = list(admin.tasks.list(project=adjudication.id))
    assert disputed.data["text"] == TEXTS[1] and "gender" in disputed.data["answers"]
    choose(admin, disputed.id, "other_cyberbullying")
    settled = step(env, "review-pull", f"--date={DAY}")
    assert settled["labelled_new"] == 1 and settled["status_counts"]["adjudication"] == 0
    assert set(pd.read_csv(settled["landing_file"], dtype=str)["review_outcome"]) == {"adjudicated"}

    metrics = step(env, "metrics", f"--date={DAY}", "--no-mlflow")["review_queue"]
    assert (metrics["review_items"], metrics["review_open"], metrics["review_skipped"]) == (4, 1, 1)
    assert metrics["review_labelled_today"] == 2 and metrics["review_queue_age_days_max"] == 0
    assert metrics["review_double_labelled"] == 2 and metrics["review_agreement"] == 0.5

    after = build(env)
    train = snapshot(hw_env).set_index("key")
    for text in TEXTS[:2]:
        assert train.loc[text_key(pd.Series([text])).iloc[0], "label"] == "other_cyberbullying"
    assert after["rows_review"] == 2  # the skipped text (still conflicted) and the pending report
    assert step(env, "review-push", f"--date={DAY}")["pushed"] == 0  # both are in Label Studio already

"""A moderator works the review queue in Label Studio's own UI, and the next training snapshot has it.

Label Studio 1.23.2 (``.venv-labelstudio``) runs on 127.0.0.1; build-dataset's review queue is pushed
with ``harmwatch review-push``. In headless Chromium a moderator logs in with their email and password,
opens the project's labelling stream, sees the post with its evidence, picks a class and submits. Then
``review-pull``, ``ingest``, ``validate`` and ``build-dataset`` run as the DAGs run them (``--date``),
and the post's text is in the new training snapshot with the moderator's class. Screenshots go to
``test-artifacts/browser/``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from harmwatch.data.dataset import text_key
from tests.conftest import REPO, run_cli
from tests.review.conftest import DAY, build, write_landing

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]
SHOTS = REPO / "test-artifacts" / "browser"
CHOICE = "not_cyberbullying"


def test_moderator_labels_a_queued_post_and_the_next_snapshot_has_it(
    browser, label_studio, hw_env: Path
) -> None:
    from label_studio_sdk.client import LabelStudio

    write_landing(hw_env / "landing")
    env = {
        "HARMWATCH_HOME": str(hw_env),
        "HARMWATCH_LABEL_STUDIO_URL": label_studio.url,
        "HARMWATCH_LABEL_STUDIO_TOKEN": label_studio.admin.token,
        "HARMWATCH_LABEL_STUDIO_PROJECT": "ui test",
    }
    build(env)
    push = run_cli("review-push", f"--date={DAY}", env=env)
    assert push.returncode == 0, push.stderr[-2000:]
    project = json.loads(push.stdout.strip().splitlines()[-1])["project_id"]

    SHOTS.mkdir(parents=True, exist_ok=True)
    moderator = label_studio.moderators[0]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{label_studio.url}/user/login/", timeout=120_000)
        page.fill("input[name=email]", moderator.email)
        page.fill("input[name=password]", moderator.password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/user/login" not in url, timeout=120_000)
        page.goto(f"{label_studio.url}/projects/{project}/data?labeling=1", timeout=120_000)
        page.get_by_text("Your decision", exact=True).wait_for(timeout=120_000)
        page.get_by_text("User reports", exact=True).wait_for()  # the evidence is shown beside the post
        page.screenshot(path=str(SHOTS / "review-task.png"), full_page=True)
        page.get_by_role("checkbox", name=re.compile(rf"^{CHOICE}")).check()  # the class, not its hotkey
        page.get_by_role("button", name="Submit current annotation", exact=True).click()
        admin = LabelStudio(base_url=label_studio.url, api_key=label_studio.admin.token)
        mine = []
        for _ in range(120):
            tasks = list(admin.tasks.list(project=project, fields="all"))
            mine = [t for t in tasks if t.annotations]
            if mine:
                break
            page.wait_for_timeout(1000)
        page.screenshot(path=str(SHOTS / "review-submitted.png"), full_page=True)
    finally:
        page.close()
    assert len(mine) == 1, "the submission did not reach Label Studio"
    labelled = mine[0]
    [annotation] = labelled.annotations
    assert annotation["result"][0]["value"]["choices"] == [CHOICE]
    assert annotation["completed_by"] != 1 and float(annotation["lead_time"]) > 0  # the moderator, timed

    pull = run_cli("review-pull", f"--date={DAY}", env=env)
    assert pull.returncode == 0, pull.stderr[-2000:]
    assert json.loads(pull.stdout.strip().splitlines()[-1])["labelled_new"] == 1
    build(env)
    lake = hw_env / "lake" / "datasets" / "train"
    version = json.loads((lake / "LATEST.json").read_text())["version"]
    train = pd.read_parquet(lake / f"v={version}" / "train.parquet").set_index("key")
    key = text_key(pd.Series([labelled.data["text"]])).iloc[0]
    assert key in train.index, "the moderator's post is not in the next training snapshot"
    assert (train.loc[key, "label"], train.loc[key, "label_source"]) == (CHOICE, "moderator")

"""What a newcomer sees after `make demo` and `make up`, in Chromium: Airflow, Label Studio and MLflow.

One demo-like state is built once for the module: the landing zone seeded from the real dataset, the
retrain DAG run for the demo's first simulated day through ``airflow dags test`` (as ``make demo`` runs
it), then scripts/up.sh on free ports. The checks: Airflow's UI shows the run's real duration (minutes,
not the months since its logical date); Label Studio holds the demo's review queue, highest expected
value first, and a moderator's labelling stream starts at its top; MLflow's model page has the
registered model's description, and its versions carry a handful of tags. scripts/down.sh stops the
stack by PID. Screenshots go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from base64 import b64encode
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack import airflow as af
from tests.conftest import BELOW_SUITE_FLOORS, REPO, free_port, outside_env

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.airflow,
    pytest.mark.server,
    pytest.mark.model,
]

DAG_ID = "harmful_content_retrain"
DAY = "2026-01-01"
MODEL = "harmful-content"
SHOTS = REPO / "test-artifacts" / "browser"
# A version's tags, every one read by a step or part of the promotion audit; every figure is in the
# decision JSON and the descriptions.
VERSION_TAGS = {
    "harmwatch.train_version",
    "harmwatch.eval_version",
    "harmwatch.train_complete",
    "harmwatch.model_sha256",
    "harmwatch.decision",
    "harmwatch.evaluated_against",
    "harmwatch.macro_f1",
    "harmwatch.failed_gates",
}
PROMOTION_TAGS = {
    "harmwatch.promoted_by",
    "harmwatch.promoted_via",
    "harmwatch.promotion_reason",
    "harmwatch.promoted_from",
    "harmwatch.promoted_on",
    "harmwatch.forced",
}


@dataclass
class FirstLook:
    home: Path
    env: dict[str, str]
    airflow: str
    mlflow: str
    label_studio: str
    run: af.DagRun
    up_stdout: str

    def secret(self, name: str) -> str:
        return (self.home / "run" / f"{name}.txt").read_text().strip()

    def mlflow_get(self, path: str) -> dict:
        token = b64encode(f"admin:{self.secret('mlflow-admin-password')}".encode()).decode()
        req = urllib.request.Request(self.mlflow + path, headers={"Authorization": f"Basic {token}"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())


@pytest.fixture(scope="module")
def first_look(tmp_path_factory: pytest.TempPathFactory, source_csv: Path) -> Iterator[FirstLook]:
    home = tmp_path_factory.mktemp("first-look") / "hw"
    base = outside_env()
    base.update(
        HARMWATCH_HOME=str(home),
        HARMWATCH_SOURCE_CSV=str(source_csv),
        HARMWATCH_AIRFLOW_PORT=str(free_port()),
        HARMWATCH_MLFLOW_PORT=str(free_port()),
        HARMWATCH_LABEL_STUDIO_PORT=str(free_port()),
    )
    env = af.airflow_env(base)
    af.simulate(env, DAY, days=2)
    logs = home / "run" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    af.migrate(env, log=logs / "airflow-db-migrate.log")
    run = af.dags_test(env, DAG_ID, DAY, conf=BELOW_SUITE_FLOORS, log=logs / "dags-test.log")
    if run.state != "success":
        states = {t.task_id: t.state for t in run.tasks.values()}
        tail = "\n".join((logs / "dags-test.log").read_text(errors="replace").splitlines()[-40:])
        pytest.fail(f"the demo-like run ended {run.state}: {states}\n{tail}")
    up = subprocess.run(
        [str(REPO / "scripts" / "up.sh")], env=base, capture_output=True, text=True, timeout=900
    )
    try:
        assert up.returncode == 0, f"make up failed:\n{up.stdout}\n{up.stderr}"
        yield FirstLook(
            home=home,
            env=base,
            airflow=f"http://127.0.0.1:{base['HARMWATCH_AIRFLOW_PORT']}",
            mlflow=f"http://127.0.0.1:{base['HARMWATCH_MLFLOW_PORT']}",
            label_studio=f"http://127.0.0.1:{base['HARMWATCH_LABEL_STUDIO_PORT']}",
            run=run,
            up_stdout=up.stdout,
        )
    finally:
        down = subprocess.run(
            [str(REPO / "scripts" / "down.sh")], env=base, capture_output=True, text=True, timeout=120
        )
        assert down.returncode == 0, down.stderr


def seconds(text: str) -> float:
    """Seconds of a duration as Airflow's UI writes it: ``00:03:37``, ``3m 37s`` or ``338d 5h``."""
    text = text.strip()
    clock = re.fullmatch(r"(?:(\d+)d\s*)?(\d+):(\d\d):(\d\d)(?:\.\d+)?", text)
    if clock:
        days, hours, minutes, secs = (int(g or 0) for g in clock.groups())
        return days * 86400 + hours * 3600 + minutes * 60 + secs
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*(ms|d|h|m|s)\b", text)
    if not parts:
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(n) * units[u] for n, u in parts)


def test_airflow_shows_the_runs_real_duration(first_look: FirstLook, browser) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(first_look.airflow + "/")
        page.wait_for_url("**/auth/login**")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(first_look.secret("airflow-admin-password"))
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/auth/login" not in url)
        page.goto(f"{first_look.airflow}/dags/{DAG_ID}")
        page.get_by_text("Latest Run").wait_for(timeout=60_000)
        page.wait_for_timeout(3000)  # the overview's chart of run durations (a canvas) draws
        page.screenshot(path=SHOTS / "first-look-airflow-dag.png")
        page.goto(f"{first_look.airflow}/dags/{DAG_ID}/runs")
        row = page.locator("tbody tr").filter(has_text=first_look.run.run_id[:20])
        row.wait_for(timeout=60_000)
        headers = [h.strip() for h in page.locator("thead th").all_inner_texts()]
        shown = row.locator("td").nth(headers.index("Duration")).inner_text()
        page.screenshot(path=SHOTS / "first-look-airflow-runs.png")
    finally:
        page.close()
    # The run took minutes; Airflow's own record of it (first task start to last task end) bounds it.
    span = first_look.run.span_seconds
    assert span is not None and 0 < span < 3600, span
    assert span - 1 <= seconds(shown) <= span + 120, f"Airflow shows {shown!r} for a run of {span:.0f}s"


def test_label_studio_holds_the_review_queue_highest_value_first(first_look: FirstLook, browser) -> None:
    from label_studio_sdk.client import LabelStudio

    from harmwatch.config import settings_for
    from harmwatch.review.records import newest_queue
    from harmwatch.storage import open_store

    settings = settings_for(first_look.env)
    queue, _version = newest_queue(open_store(settings.lake_uri, settings))
    assert queue is not None and len(queue) > 100, "the demo's day sends texts to review"
    creds = json.loads((first_look.home / "run" / "labelstudio.json").read_text())
    client = LabelStudio(base_url=first_look.label_studio, api_key=creds["token"])
    project = next(p for p in client.projects.list() if p.title == settings.label_studio_project)
    tasks = sorted(client.tasks.list(project=project.id, fields="all", page_size=500), key=lambda t: t.id)
    # The whole queue, once, and in review order: the task ids follow the expected value, highest first.
    assert sorted(t.data["item"] for t in tasks) == sorted(queue["item"])
    values = [float(t.data["expected_value"]) for t in tasks]
    assert values == sorted(values, reverse=True) and values[0] > values[-1]

    moderator = creds["moderators"][0]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{first_look.label_studio}/user/login/", timeout=120_000)
        page.fill("input[name=email]", moderator["email"])
        page.fill("input[name=password]", moderator["password"])
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/user/login" not in url, timeout=120_000)
        page.goto(f"{first_look.label_studio}/projects/", timeout=120_000)
        page.get_by_text(settings.label_studio_project, exact=True).first.wait_for(timeout=60_000)
        page.screenshot(path=SHOTS / "first-look-label-studio-projects.png")
        page.goto(f"{first_look.label_studio}/projects/{project.id}/data", timeout=120_000)
        page.get_by_text(f"Tasks: {len(queue)} / {len(queue)}").wait_for(timeout=60_000)
        page.screenshot(path=SHOTS / "first-look-label-studio-queue.png")
        # A moderator's stream starts at the top of the queue.
        page.goto(f"{first_look.label_studio}/projects/{project.id}/data?labeling=1", timeout=120_000)
        page.get_by_text("Your decision", exact=True).wait_for(timeout=120_000)
        page.get_by_text(tasks[0].data["text"].strip().splitlines()[0][:60]).first.wait_for(timeout=30_000)
        page.screenshot(path=SHOTS / "first-look-label-studio-first-task.png")
    finally:
        page.close()


def test_mlflow_model_page_has_the_description_and_only_the_tags_that_are_read(
    first_look: FirstLook, browser
) -> None:
    from harmwatch.model.summary import model_description
    from harmwatch.model.textmodel import METHOD

    model = first_look.mlflow_get(f"/api/2.0/mlflow/registered-models/get?name={MODEL}")["registered_model"]
    assert model["description"] == model_description(METHOD)
    # make up prints the model page in MLflow's model-training view (the UI opens in GenAI otherwise).
    link = re.search(r"http://127\.0\.0\.1:\d+/#/models/\S+", first_look.up_stdout)
    assert link and link.group(0).endswith(f"/#/models/{MODEL}?workflowType=machine_learning"), link
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000},
        http_credentials={"username": "admin", "password": first_look.secret("mlflow-admin-password")},
    )
    page = context.new_page()
    try:
        page.goto(link.group(0))
        page.get_by_text("How versions are decided").wait_for(timeout=120_000)
        page.get_by_text("Model registry").first.wait_for()  # the sidebar of the model-training view
        page.screenshot(path=SHOTS / "first-look-mlflow-model.png")
        row = page.get_by_role("row").filter(has_text="Version 1")
        row.scroll_into_view_if_needed()
        page.screenshot(path=SHOTS / "first-look-mlflow-versions.png")
        shown = set(
            row.locator("[data-component-id*=keyvaluetag]").evaluate_all("els => els.map(e => e.title)")
        )
    finally:
        context.close()
    # The promoted first version: what the steps read, the headline figure and the promotion audit.
    assert shown - {""} == VERSION_TAGS | PROMOTION_TAGS, shown

"""`make up` in a browser: log in to Airflow, trigger the retrain DAG from the UI, see it succeed
through the scheduler and the LocalExecutor, then find alias ``champion`` in the MLflow UI.

The stack is scripts/up.sh on its own HARMWATCH_HOME (seeded from the real dataset) and free ports;
scripts/down.sh stops it by PID afterwards. Screenshots go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack import airflow as af
from tests.conftest import REPO, free_port, outside_env

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DAG_ID = "harmful_content_retrain"
DAY = "2026-01-01"
SHOTS = REPO / "test-artifacts" / "browser"
RUN_TIMEOUT = 900


@dataclass
class Stack:
    home: Path
    airflow: str
    mlflow: str
    password: str
    api: af.AirflowAPI


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, source_csv: Path) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("ui") / "hw"
    env = outside_env()
    env.update(
        HARMWATCH_HOME=str(home),
        HARMWATCH_SOURCE_CSV=str(source_csv),
        HARMWATCH_AIRFLOW_PORT=str(free_port()),
        HARMWATCH_MLFLOW_PORT=str(free_port()),
        HARMWATCH_LABEL_STUDIO_PORT=str(free_port()),
    )
    up = subprocess.run(
        [str(REPO / "scripts" / "up.sh")], env=env, capture_output=True, text=True, timeout=600
    )
    try:
        assert up.returncode == 0, f"make up failed:\n{up.stdout}\n{up.stderr}"
        assert "user admin" in up.stdout and "password" in up.stdout, up.stdout
        airflow = f"http://127.0.0.1:{env['HARMWATCH_AIRFLOW_PORT']}"
        password = (home / "run" / "airflow-admin-password.txt").read_text().strip()
        yield Stack(
            home=home,
            airflow=airflow,
            mlflow=f"http://127.0.0.1:{env['HARMWATCH_MLFLOW_PORT']}",
            password=password,
            api=af.AirflowAPI(airflow, password),
        )
    finally:
        down = subprocess.run(
            [str(REPO / "scripts" / "down.sh")], env=env, capture_output=True, text=True, timeout=120
        )
        assert down.returncode == 0, down.stderr
        assert not list((home / "run").glob("*.pid")), "make down left PID files behind"


def failure_report(stack: Stack, run_id: str) -> str:
    """Task states and the tail of each task log of a failed run, for the assertion message."""
    states = stack.api.task_states(DAG_ID, run_id)
    lines = [f"{k}: {v}" for k, v in states.items()]
    failed = [t for t, state in states.items() if state == "failed"]
    for path in sorted((stack.home / "airflow" / "logs" / f"dag_id={DAG_ID}").rglob("*.log")):
        if not any(f"task_id={t}" in str(path) for t in failed):
            continue
        lines.append(f"--- {path}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-12:]))
    return "\n".join(lines)[-6000:]


def test_trigger_retrain_from_the_airflow_ui_then_find_the_champion_in_mlflow(stack: Stack, browser) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        # Airflow: the login is required.
        page.goto(stack.airflow + "/")
        page.wait_for_url("**/auth/login**")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(stack.password)
        page.screenshot(path=SHOTS / "01-airflow-login.png")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/auth/login" not in url)

        # Trigger the retrain DAG from its page, for the simulated bulk day.
        page.goto(f"{stack.airflow}/dags/{DAG_ID}")
        page.get_by_role("button", name="Trigger").first.click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_text("Floor: macro-F1").wait_for()
        dialog.get_by_test_id("datetime-input").click()  # the logical-date picker
        picker = page.locator("[data-scope=popover][data-part=content]").last
        picker.get_by_placeholder("YYYY/MM/DD").fill(DAY.replace("-", "/"))
        picker.get_by_placeholder("HH:mm").fill("00:00")
        picker.get_by_placeholder("HH:mm").press("Tab")
        dialog.get_by_text("Trigger Dag").first.click()  # close the picker, keep the dialog
        assert "Jan 01, 2026 00:00" in dialog.get_by_test_id("datetime-input").inner_text()
        page.screenshot(path=SHOTS / "02-airflow-trigger-form.png", full_page=True)
        dialog.get_by_role("button", name="Trigger").last.click()
        dialog.wait_for(state="hidden")

        runs = stack.api.get(f"/api/v2/dags/{DAG_ID}/dagRuns")["dag_runs"]
        assert len(runs) == 1, runs
        assert runs[0]["run_type"] == "manual"
        assert runs[0]["logical_date"].startswith(DAY), runs[0]
        run = stack.api.wait(DAG_ID, runs[0]["dag_run_id"], timeout=RUN_TIMEOUT, poll=5)
        page.goto(f"{stack.airflow}/dags/{DAG_ID}/runs/{run['dag_run_id']}")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=SHOTS / "03-airflow-run.png", full_page=True)
        assert run["state"] == "success", failure_report(stack, run["dag_run_id"])

        tis = stack.api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}/taskInstances")
        states = {t["task_id"]: t["state"] for t in tis["task_instances"]}
        assert states["promote"] == "success" and states["train"] == "success", states
        assert all(t["pid"] for t in tis["task_instances"] if t["state"] == "success"), "ran by the executor"

        # MLflow: the registered model carries alias champion (seen in the UI, confirmed by the API).
        page.goto(f"{stack.mlflow}/#/models/harmful-content")
        page.get_by_text("champion").first.wait_for(timeout=60_000)
        page.screenshot(path=SHOTS / "04-mlflow-model.png", full_page=True)
        url = f"{stack.mlflow}/api/2.0/mlflow/registered-models/alias?name=harmful-content&alias=champion"
        with urllib.request.urlopen(url, timeout=30) as resp:
            version = json.loads(resp.read())["model_version"]
        assert version["version"] == "1" and "champion" in version["aliases"], version
    finally:
        context.close()


def _status(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> int:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def test_airflow_refuses_requests_without_login(stack: Stack) -> None:
    """No token, a forged token or a wrong password: the API answers 401/403, never data."""
    for path in ("/api/v2/dags", f"/api/v2/dags/{DAG_ID}/dagRuns", "/api/v2/connections"):
        assert _status(stack.airflow + path) in (401, 403), path
        forged = {"Authorization": "Bearer not-a-real-token"}
        assert _status(stack.airflow + path, headers=forged) in (401, 403), path
    wrong = json.dumps({"username": "admin", "password": "wrong-" + stack.password}).encode()
    assert _status(stack.airflow + "/auth/token", wrong, {"Content-Type": "application/json"}) in (401, 403)
    right = json.dumps({"username": "admin", "password": stack.password}).encode()
    assert _status(stack.airflow + "/auth/token", right, {"Content-Type": "application/json"}) in (200, 201)

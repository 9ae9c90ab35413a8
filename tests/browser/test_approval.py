"""The approval holds, in the browser test's Airflow (`make up`): the person who triggered a run signs in
and approves it in the UI, the answer is not taken and the request waits for someone else; and an
approval that times out is recorded on the model version as a rejection, with the run still alive.

The stack is ``test_ui.py``'s fixture (``make up`` on its own home, seeded from the real dataset),
started once for this module; its runs are simulated days 4 (the first champion, approved by a second
person) and 5 (the approval times out).
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
from datetime import timedelta

import pytest

from harmwatch.storage import open_store
from tests.browser.test_ui import (
    DAG_ID,
    RUN_TIMEOUT,
    SHOTS,
    Stack,
    aliases,
    answer_in_the_ui,
    failure_report,
    stack,  # noqa: F401 - the fixture, requested by name below
    version_tags,
)
from tests.conftest import BELOW_SUITE_FLOORS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.airflow,
    pytest.mark.server,
    pytest.mark.model,
]

# Wide tolerances so that the day's challenger reaches the approval: this is about the approval, not
# about the gates (as in test_ui.py).
CONF = {
    "approval_required": True,
    "max_regression": 0.2,
    "max_class_regression": 0.2,
    **BELOW_SUITE_FLOORS,
}


def pauses(hw: Stack, run_id: str) -> int:
    """How often the scheduler has noted the run's approve task parked awaiting input."""
    log = hw.home / "run" / "logs" / "airflow-scheduler.log"
    marker = f"task_id=approve, run_id={run_id},"
    return sum(
        1
        for line in log.read_text(errors="replace").splitlines()
        if "TaskInstance Finished" in line and marker in line and "state=awaiting_input" in line
    )


def wait_for_pause(hw: Stack, run_id: str, count: int, timeout: float = RUN_TIMEOUT) -> None:
    """Until approve waits for input for the ``count``-th time and the scheduler has noted it (an answer
    given before that is taken by Airflow 3.3 as a task killed externally; see test_ui.py)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        parked = hw.api.task_states(DAG_ID, run_id).get("approve") == "awaiting_input"
        if parked and pauses(hw, run_id) >= count:
            return
        run = hw.api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(run_id, safe='')}")
        assert run["state"] not in ("success", "failed"), failure_report(hw, run_id)
        time.sleep(2)
    raise TimeoutError(f"{run_id}: approve did not wait for input a {count}. time")


def current_aliases(hw: Stack) -> dict[str, str]:
    """The model's aliases, none before the first version is registered."""
    try:
        return aliases(hw)
    except urllib.error.HTTPError as err:
        if err.code != 404:
            raise
        return {}


def hitl_detail(hw: Stack, run_id: str) -> dict:
    run = urllib.parse.quote(run_id, safe="")
    return hw.api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run}/taskInstances/approve/-1/hitlDetails")


def approve_as_admin_in_the_ui(hw: Stack, browser, run_id: str) -> None:
    """The admin, who triggered the run, signs in and clicks Approve on the run's Required Actions."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    try:
        page = context.new_page()
        page.goto(hw.airflow + "/")
        page.wait_for_url("**/auth/login**")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(hw.password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/auth/login" not in url)
        run = urllib.parse.quote(run_id, safe="")
        page.goto(f"{hw.airflow}/dags/{DAG_ID}/runs/{run}/tasks/approve/required_actions")
        page.get_by_text("Decision: pending_approval").first.wait_for(timeout=60_000)
        page.locator("#element_note").fill("my own run, looks fine")
        page.get_by_role("button", name="Approve", exact=True).click()
        page.get_by_text("response successful").first.wait_for(timeout=60_000)
        page.screenshot(path=SHOTS / "06-self-approval.png", full_page=True)
    finally:
        context.close()


def test_the_person_who_triggered_a_run_cannot_approve_it(request: pytest.FixtureRequest, browser) -> None:
    hw: Stack = request.getfixturevalue("stack")
    SHOTS.mkdir(parents=True, exist_ok=True)
    before = current_aliases(hw)
    run_id = hw.api.trigger(DAG_ID, "2026-01-04", CONF)  # triggered by admin
    wait_for_pause(hw, run_id, 1)
    approve_as_admin_in_the_ui(hw, browser, run_id)
    wait_for_pause(hw, run_id, 2)  # asked again
    detail = hitl_detail(hw, run_id)
    assert not detail["response_received"] and detail["chosen_options"] in (None, []), detail
    assert current_aliases(hw).get("champion") == before.get("champion"), "a self-approval promoted nothing"
    answer_in_the_ui(hw, browser, run_id, "Approve", "checked by a second person", "07-second-person")
    run = hw.api.wait(DAG_ID, run_id, timeout=RUN_TIMEOUT, poll=5)
    assert run["state"] == "success", failure_report(hw, run_id)
    challenger = aliases(hw)["challenger"]
    tags = version_tags(hw, challenger)
    assert (tags["harmwatch.reviewed_by"], tags["harmwatch.promoted_by"]) == ("reviewer", "reviewer")
    assert aliases(hw)["champion"] == challenger
    # Lineage: the landing zone the runs read is on the version's training run.
    mv = hw.mlflow_get(f"/api/2.0/mlflow/model-versions/get?name=harmful-content&version={challenger}")
    run = hw.mlflow_get(f"/api/2.0/mlflow/runs/get?run_id={mv['model_version']['run_id']}")["run"]
    run_tags = {t["key"]: t["value"] for t in run["data"].get("tags", [])}
    assert run_tags["harmwatch.landing_zones"] == open_store(str(hw.home / "landing")).uri


def expire_the_approval(hw: Stack, run_id: str) -> None:
    """Move the approval's deadline into the past in Airflow's metadata DB, as three days would: the
    scheduler's timeout sweep then answers with the default (Reject), as it does in production."""
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{hw.home / 'airflow' / 'airflow.db'}")
    where = "dag_id = :dag AND run_id = :run AND task_id = 'approve' AND state = 'awaiting_input'"
    with engine.begin() as db:
        [due] = (
            db.execute(
                sa.text(f"SELECT trigger_timeout FROM task_instance WHERE {where}"),
                {"dag": DAG_ID, "run": run_id},
            )
            .scalars()
            .all()
        )
        past = "2000-01-01 00:00:00" + str(due)[19:]  # the stored format, twenty-six years earlier
        db.execute(
            sa.text(f"UPDATE task_instance SET trigger_timeout = :past WHERE {where}"),
            {"past": past, "dag": DAG_ID, "run": run_id},
        )
    engine.dispose()


def test_an_approval_that_times_out_is_a_recorded_rejection(request: pytest.FixtureRequest) -> None:
    from pydantic import TypeAdapter

    hw: Stack = request.getfixturevalue("stack")
    dag = hw.api.get(f"/api/v2/dags/{DAG_ID}/details")
    assert TypeAdapter(timedelta).validate_python(dag["dag_run_timeout"]) > timedelta(days=3)
    before = current_aliases(hw)
    run_id = hw.api.trigger(DAG_ID, "2026-01-05", CONF)
    wait_for_pause(hw, run_id, 1)
    expire_the_approval(hw, run_id)
    run = hw.api.wait(DAG_ID, run_id, timeout=RUN_TIMEOUT, poll=5)
    assert run["state"] == "success", failure_report(hw, run_id)  # the run outlived the approval
    states = hw.api.task_states(DAG_ID, run_id)
    assert (states["approve"], states["promote"]) == ("success", "skipped"), states
    challenger = aliases(hw)["challenger"]
    tags = version_tags(hw, challenger)
    assert (tags["harmwatch.decision"], tags["harmwatch.review"]) == ("reject", "rejected")
    assert tags["harmwatch.reviewed_by"].startswith("nobody (no answer")
    assert tags["harmwatch.review_note"] == "no answer within 3 days"
    assert aliases(hw).get("champion") == before.get("champion")

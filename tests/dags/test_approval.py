"""The retrain DAG's approval holds: the run outlives the approval window, a timeout is a recorded
Reject, and the person who triggered a run cannot approve it (their Approve is asked again of someone
else, until the original deadline)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.dags.test_dags import FakeEvaluate, FakeRun, render_arguments

DAG_ID = "harmful_content_retrain"


def worst_case(task) -> timedelta:
    """The longest a task can take: every attempt to its execution timeout, every retry wait at its cap."""
    attempts = task.retries + 1
    waits = [task.retry_delay * (task.retry_exponential_backoff or 1) ** k * 2 for k in range(task.retries)]
    if task.max_retry_delay:
        waits = [min(w, task.max_retry_delay) for w in waits]
    return attempts * task.execution_timeout + sum(waits, timedelta(0))


@pytest.mark.parametrize("runner", ["local", "kubernetes"])
def test_the_run_outlives_the_approval_window_and_every_step(dagbag, runner) -> None:
    dag = dagbag(runner).dags[DAG_ID]
    approve = dag.get_task("approve")
    steps = [t for t in dag.tasks if t.task_id != "approve"]
    assert all(t.execution_timeout for t in steps), "every step has a timeout, so the sum bounds the run"
    longest = approve.response_timeout + sum((worst_case(t) for t in steps), timedelta(0))
    assert approve.response_timeout >= timedelta(days=3)  # as documented: a reviewer has 3 days
    assert dag.dagrun_timeout >= longest, (dag.dagrun_timeout, longest)


class FakeTaskInstance:
    id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"


def event(option: str, who: str | None, note: str = "", timedout: bool = False) -> dict:
    return {
        "chosen_options": [option],
        "params_input": {"note": note},
        "responded_at": datetime.now(UTC),
        "responded_by_user": {"id": who, "name": who} if who else None,
        **({"timedout": True} if timedout else {}),
    }


@pytest.fixture
def asked_again(monkeypatch) -> list[dict]:
    """Every time the approval clears an answer and asks again (the HITL detail's upsert)."""
    import harmwatch_approval

    calls: list[dict] = []
    monkeypatch.setattr(harmwatch_approval, "upsert_hitl_detail", lambda **kw: calls.append(kw))
    return calls


def test_the_person_who_triggered_the_run_cannot_approve_it(dagbag, asked_again) -> None:
    from airflow.sdk.exceptions import TaskAwaitingInput

    task = dagbag("local").dags[DAG_ID].get_task("approve")
    context = {"dag_run": FakeRun("alice"), "task_instance": FakeTaskInstance(), "ti": None, "task": task}
    deadline = datetime.now(UTC) + timedelta(hours=30)
    with pytest.raises(TaskAwaitingInput) as waiting:
        task.execute_complete(context, event("Approve", "alice"), deadline.isoformat())
    assert [c["ti_id"] for c in asked_again] == [FakeTaskInstance.id]  # the answer is cleared
    assert waiting.value.method_name == "execute_complete"
    assert timedelta(hours=29) < waiting.value.timeout <= timedelta(hours=30)  # the time that was left
    assert waiting.value.kwargs == {"deadline": deadline.isoformat()}
    # Someone else approves; the one who triggered may still reject (it only keeps the champion).
    answer = task.execute_complete(context, event("Approve", "bob", "fine"), deadline.isoformat())
    assert answer["chosen_options"] == ["Approve"] and answer["timed_out"] is False
    answer = task.execute_complete(context, event("Reject", "alice", "not yet"), deadline.isoformat())
    assert answer["chosen_options"] == ["Reject"] and answer["responded_by_user"]["name"] == "alice"
    # A scheduled run has no one who triggered it: anyone may approve.
    scheduled = {**context, "dag_run": FakeRun(None)}
    assert task.execute_complete(scheduled, event("Approve", "alice"))["chosen_options"] == ["Approve"]
    assert len(asked_again) == 1


def test_a_self_approval_at_the_deadline_and_a_timeout_are_recorded_rejections(dagbag, asked_again) -> None:
    from harmwatch_approval import NOBODY, TIMED_OUT_NOTE

    dag = dagbag("local").dags[DAG_ID]
    task = dag.get_task("approve")
    context = {"dag_run": FakeRun("alice"), "task_instance": FakeTaskInstance(), "ti": None, "task": task}
    late = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    for answer in (
        task.execute_complete(context, event("Approve", "alice"), late),  # no time left to ask again
        task.execute_complete(context, event("Reject", None, timedout=True)),  # the scheduler's sweep
    ):
        assert answer["chosen_options"] == ["Reject"] and answer["responded_by_user"] is None
        assert answer["timed_out"] is True
        promote = render_arguments(dag.get_task("promote"), dag, answer, user="alice")
        assert promote[-3:] == [
            "--review=rejected",
            f"--reviewer={NOBODY}",
            f"--review-note={TIMED_OUT_NOTE}",
        ]
    assert asked_again == []


def test_the_approval_remembers_its_deadline_when_it_starts_waiting(dagbag, monkeypatch) -> None:
    from airflow.providers.standard.operators.hitl import HITLOperator
    from airflow.sdk.exceptions import TaskAwaitingInput

    def park(self, context):
        raise TaskAwaitingInput(method_name="execute_complete", timeout=self.response_timeout)

    monkeypatch.setattr(HITLOperator, "execute", park)
    task = dagbag("local").dags[DAG_ID].get_task("approve")
    summary = {"decision": "pending_approval", "challenger_version": "5", "champion_version": "4"}
    with pytest.raises(TaskAwaitingInput) as waiting:
        task.execute({"ti": FakeEvaluate(summary)})
    deadline = datetime.fromisoformat(waiting.value.kwargs["deadline"])
    assert waiting.value.timeout == task.response_timeout
    assert abs(deadline - (datetime.now(UTC) + task.response_timeout)) < timedelta(minutes=1)

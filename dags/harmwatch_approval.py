"""The retrain DAG's approval step: Airflow's human-in-the-loop ``ApprovalOperator``, fed the evaluation.

In approval mode ``evaluate`` records a passing challenger as ``pending_approval``. The ``approve`` task
(:class:`ChallengerApproval`) then asks a person in the Airflow UI (the run's "Required Actions"): the
request's body is the decision summary ``evaluate`` returned (both models' macro-F1 with the bootstrap
interval, the failed gates, the per-class table, links to the MLflow versions and the reports), with a
form field for a note. The run waits until someone answers. For any other decision the task is skipped
and nothing waits.

Approve and Reject both go on to ``promote`` (:func:`promote_arguments` passes the answer, who gave it
and the note): approve promotes, reject is recorded on the model version. Airflow's own
``ApprovalOperator`` would skip the downstream task on Reject, and the rejection would be recorded
nowhere; this subclass keeps the answer and lets ``promote`` act on it. Without an answer within
``response_timeout`` (:data:`APPROVAL_WINDOW`) the request times out as Reject, recorded as such; the
retrain DAG's ``dagrun_timeout`` is longer than the window plus its steps, so the run cannot end first.

Four eyes: the person who triggered the run cannot approve it. Airflow's ``assigned_users`` names who
may answer, and the set of reviewers minus the one who triggered is not known to a DAG, so the check is
here: an Approve from the triggering user is not taken; the request is asked again, with the time that
is left, for someone else (a Reject from them counts: it only keeps the champion). This needs Airflow
3.3's ``awaiting_input`` state, which the pinned Airflow has.

Nothing here imports harmwatch: the Airflow image does not have it, and the XCom of ``evaluate`` is
plain JSON.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk import Param
from airflow.sdk.definitions.param import ParamsDict
from airflow.sdk.exceptions import AirflowSkipException, TaskAwaitingInput
from airflow.sdk.execution_time.hitl import upsert_hitl_detail
from airflow.sdk.timezone import utcnow

NOBODY = "nobody (no answer before the request timed out)"
# How long a pending challenger waits for a reviewer; no answer by then is a Reject, recorded on it.
APPROVAL_WINDOW = timedelta(days=3)
TIMED_OUT_NOTE = f"no answer within {APPROVAL_WINDOW.days} days"


class ChallengerApproval(ApprovalOperator):
    """Ask a reviewer to approve or reject the challenger ``evaluate`` left ``pending_approval``.

    :param evaluate_task_id: the task whose XCom is evaluate's summary (decision, versions, ``review``).
    :param response_timeout: how long the run waits for an answer before it counts as Reject.
    """

    ui_color = "#fff4d6"

    def __init__(
        self,
        *,
        evaluate_task_id: str = "evaluate",
        response_timeout: timedelta = APPROVAL_WINDOW,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("subject", "Promote the challenger to champion?")
        kwargs.setdefault("body", "The evaluation summary appears here when the challenger awaits approval.")
        # Airflow hands the DAG's params in too (marked as the DAG's); the form shows the task's own only.
        params = kwargs.pop("params", None)
        params = params if isinstance(params, ParamsDict) else ParamsDict(params or {})
        params["note"] = Param(
            "",
            type="string",
            title="Note",
            description="Why you approve or reject; recorded on the model version with your name.",
            source="task",
        )
        super().__init__(defaults="Reject", response_timeout=response_timeout, params=params, **kwargs)
        self.evaluate_task_id = evaluate_task_id

    def execute(self, context: Any) -> Any:
        summary = context["ti"].xcom_pull(task_ids=self.evaluate_task_id)
        decision = summary.get("decision") if isinstance(summary, dict) else None
        if decision != "pending_approval":
            raise AirflowSkipException(f"no approval needed: the decision is {decision}")
        version, champion = summary.get("challenger_version"), summary.get("champion_version")
        against = f"replacing champion v{champion}" if champion else "as the first champion"
        self.subject = f"Promote challenger v{version} {against}?"
        self.body = summary.get("review") or f"Evaluation summary: {summary}"
        deadline = (utcnow() + self.response_timeout).isoformat() if self.response_timeout else None
        try:
            return super().execute(context)
        except TaskAwaitingInput as waiting:  # remember the deadline: a refused answer re-asks until then
            raise TaskAwaitingInput(
                method_name=waiting.method_name, timeout=waiting.timeout, kwargs={"deadline": deadline}
            ) from None

    def execute_complete(self, context: Any, event: dict[str, Any], deadline: str | None = None) -> Any:
        triggered_by = getattr(context.get("dag_run"), "triggering_user_name", None)
        who = (event.get("responded_by_user") or {}).get("name")
        approves = "error" not in event and "Approve" in (event.get("chosen_options") or [])
        if approves and triggered_by and who == triggered_by:
            left = (datetime.fromisoformat(deadline) - utcnow()) if deadline else self.response_timeout
            self.log.warning("%s triggered this run and cannot approve it; asking another reviewer", who)
            if left is None or left > timedelta(0):
                self.ask_again(context, left, deadline)
            event = {**event, "chosen_options": ["Reject"], "responded_by_user": None, "timedout": True}
        # The answer goes on to promote in both cases (see the module docstring): no downstream skip.
        answer = HITLOperator.execute_complete(self, context, event)
        return {**answer, "timed_out": bool(event.get("timedout"))}

    def ask_again(self, context: Any, left: timedelta | None, deadline: str | None) -> None:
        """Clear the refused answer and wait again until the original ``deadline`` (``left`` from now);
        raises, never returns."""
        upsert_hitl_detail(
            ti_id=context["task_instance"].id,
            options=self.options,
            subject=self.subject,
            body=self.body,
            defaults=self.defaults,
            multiple=self.multiple,
            params=self.serialized_params,
            assigned_users=self.assigned_users,
        )
        raise TaskAwaitingInput(method_name="execute_complete", timeout=left, kwargs={"deadline": deadline})


def promote_arguments(approval_task_id: str = "approve") -> list[str]:
    """Templated ``harmwatch promote`` arguments that carry who is acting and the reviewer's answer.

    ``--actor`` is the Airflow user who triggered the run (a scheduled run has none), ``--via`` the run;
    ``--review``/``--reviewer``/``--review-note`` are present only when the approval task got an answer
    (a timeout is one: Reject, by :data:`NOBODY`, with :data:`TIMED_OUT_NOTE` unless a note was typed).
    """
    answer = f"{{% set r = ti.xcom_pull(task_ids='{approval_task_id}') %}}"
    return [
        "--actor={{ dag_run.triggering_user_name or 'the schedule of ' ~ dag.dag_id }}",
        "--via=Airflow {{ dag.dag_id }} run {{ run_id }}",
        answer + "{% if r %}--review={{ 'approved' if r['chosen_options'][0] == 'Approve' else 'rejected' }}"
        "{% endif %}",
        answer
        + "{% if r %}--reviewer={{ (r['responded_by_user'] or {}).get('name') or '"
        + NOBODY
        + "' }}{% endif %}",
        answer + "{% if r and ((r['params_input'] or {}).get('note') or r.get('timed_out')) %}"
        "--review-note={{ (r['params_input'] or {}).get('note') or '" + TIMED_OUT_NOTE + "' }}{% endif %}",
    ]

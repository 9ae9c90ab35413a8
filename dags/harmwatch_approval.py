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
``response_timeout`` the request times out as Reject, recorded as such.

Nothing here imports harmwatch: the Airflow image does not have it, and the XCom of ``evaluate`` is
plain JSON.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk import Param
from airflow.sdk.definitions.param import ParamsDict
from airflow.sdk.exceptions import AirflowSkipException

NOBODY = "nobody (no answer before the request timed out)"


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
        response_timeout: timedelta = timedelta(days=3),
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
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        # The answer goes on to promote in both cases (see the module docstring): no downstream skip.
        return HITLOperator.execute_complete(self, context, event)


def promote_arguments(approval_task_id: str = "approve") -> list[str]:
    """Templated ``harmwatch promote`` arguments that carry who is acting and the reviewer's answer.

    ``--actor`` is the Airflow user who triggered the run (a scheduled run has none), ``--via`` the run;
    ``--review``/``--reviewer``/``--review-note`` are present only when the approval task got an answer.
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
        answer + "{% if r and (r['params_input'] or {}).get('note') %}"
        "--review-note={{ r['params_input']['note'] }}{% endif %}",
    ]

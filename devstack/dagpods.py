"""Run a DAG's harmwatch steps as the pods its KubernetesPodOperators build, one logical date at a time.

No Kubernetes API server and no Airflow worker pods are here, so this plays the part of both for one DAG
run: the DAG files are parsed with the runner configuration an Airflow worker has in production (the
harmwatch ConfigMap's data as its environment), each task's templates are rendered with the run's context
(logical date, params, upstream XComs), and the operator's own ``build_pod_request_obj`` builds the pod,
which :class:`devstack.pods.PodRunner` plays under Podman. Task states follow the operator and the DAG:
a non-zero exit fails the task, a step whose ``skip_unless`` key is false ends skipped (with its summary as
XCom, as ``HarmwatchPodOperator.execute`` does), and downstream tasks honour their trigger rule.

What stays out: the scheduler, retries, the metadata DB and the operator's API calls (pod creation,
watching, log streaming, ``airflow_kpo_in_cluster`` label); those need a cluster.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.pods import PodRun, PodRunner

DAGS = Path(__file__).resolve().parents[1] / "dags"
FAILED = ("failed", "upstream_failed")


@dataclass
class TaskResult:
    task_id: str
    state: str  # success, failed, skipped or upstream_failed
    xcom: Any = None
    pod: PodRun | None = None
    message: str = ""


class TaskInstance:
    """The slice of a task instance the templates and the operator read: ids, try number, XComs."""

    def __init__(self, dag_id: str, task_id: str, results: Mapping[str, TaskResult]) -> None:
        self.dag_id, self.task_id, self._results = dag_id, task_id, results
        self.map_index, self.try_number = -1, 1
        self.pushed: dict[str, Any] = {}

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        result = self._results.get(task_ids)
        return result.xcom if result is not None and key == "return_value" else None

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


@dataclass
class DagRun:
    """The slice of a DAG run the templates read: who triggered it and with what conf."""

    run_id: str
    conf: dict[str, Any]
    run_type: str = "manual"
    triggering_user_name: str | None = None


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """``values`` in ``os.environ`` for the duration (the DAG files read their runner config from it)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def load_dag(dag_id: str, worker_env: Mapping[str, str]) -> Any:
    """Parse the dags folder as an Airflow worker with ``worker_env`` would; the DAG ``dag_id``."""
    from airflow.dag_processing.dagbag import DagBag

    with environment(worker_env):
        bag = DagBag(dag_folder=str(DAGS), safe_mode=False)
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    return bag.dags[dag_id]


def _runs(trigger_rule: str, upstream: list[str]) -> str | None:
    """None when the task runs, else the state it ends in without running."""
    if trigger_rule == "all_success":
        if any(s in FAILED for s in upstream):
            return "upstream_failed"
        return "skipped" if any(s == "skipped" for s in upstream) else None
    if trigger_rule == "none_failed":
        return "upstream_failed" if any(s in FAILED for s in upstream) else None
    if trigger_rule == "none_failed_min_one_success":
        if any(s in FAILED for s in upstream):
            return "upstream_failed"
        return None if any(s == "success" for s in upstream) else "skipped"
    raise NotImplementedError(f"trigger rule {trigger_rule!r} is not played here")


def build_pod(dag: Any, task: Any, context: dict[str, Any]) -> dict[str, Any]:
    """The pod the operator sends for ``task`` in ``context``, as the API server would receive it."""
    from kubernetes.client import ApiClient

    task.render_template_fields(context, jinja_env=dag.get_template_env())
    return ApiClient().sanitize_for_serialization(task.build_pod_request_obj(context, dry_run=True))


def run_in_worker(task: Any, context: dict[str, Any]) -> TaskResult:
    """A task that is not a pod (the retrain DAG's approval) runs its own ``execute`` as the worker would.

    Only the outcomes that need no scheduler are played: a return value or a skip. An approval that would
    wait for a person (a deferral) is not: there is no API server to answer it here.
    """
    from airflow.sdk.exceptions import AirflowSkipException, TaskDeferred

    try:
        value = task.execute(context)
    except AirflowSkipException as skip:
        return TaskResult(task.task_id, "skipped", None, None, str(skip))
    except TaskDeferred as deferred:
        raise NotImplementedError(f"{task.task_id} waits for a person; not played here") from deferred
    return TaskResult(task.task_id, "success", value)


def run_dag(
    dag_id: str,
    ds: str,
    worker_env: Mapping[str, str],
    runner: PodRunner,
    conf: Mapping[str, Any] | None = None,
    user: str | None = None,
) -> dict[str, TaskResult]:
    """One DAG run for logical date ``ds`` (params from ``conf``, as ``user`` triggering it passes them)."""
    from airflow.sdk.exceptions import AirflowSkipException

    from harmwatch_tasks import _skip_if_not  # the operator's own skip rule

    dag = load_dag(dag_id, worker_env)  # parsed per run: rendering fills the tasks' templated fields
    params = copy.deepcopy(dag.params)
    params.update(dict(conf or {}))
    params = params.validate()
    run_id = f"manual__{ds}T00:00:00+00:00"
    dag_run = DagRun(run_id, dict(conf or {}), triggering_user_name=user)
    results: dict[str, TaskResult] = {}
    for task in dag.topological_sort():
        rule = getattr(task.trigger_rule, "value", task.trigger_rule)
        ends = _runs(str(rule), [results[u].state for u in sorted(task.upstream_task_ids)])
        if ends:
            results[task.task_id] = TaskResult(task.task_id, ends)
            continue
        ti = TaskInstance(dag_id, task.task_id, results)
        context = {
            "ds": ds,
            "params": params,
            "run_id": run_id,
            "dag": dag,
            "dag_run": dag_run,
            "task": task,
            "ti": ti,
        }
        if not hasattr(task, "build_pod_request_obj"):  # a control task (the approval): runs in the worker
            results[task.task_id] = run_in_worker(task, context)
            continue
        pod = runner.run(build_pod(dag, task, context))
        if pod.exit_code != 0:
            error = (pod.stderr or pod.stdout).strip().splitlines()[-1:] or ["no error message"]
            results[task.task_id] = TaskResult(task.task_id, "failed", None, pod, error[0])
            continue
        try:
            _skip_if_not(task, pod.xcom, getattr(task, "skip_unless", None), context)
        except AirflowSkipException as skip:
            results[task.task_id] = TaskResult(
                task.task_id, "skipped", ti.pushed.get("return_value"), pod, str(skip)
            )
            continue
        results[task.task_id] = TaskResult(task.task_id, "success", pod.xcom, pod)
    return results

"""DAG import and policy tests: both DAGs load, stay light at parse time, and follow the house rules."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest

from tests.dags.conftest import DAG_IDS, DAGS

HEAVY = ("pandas", "sklearn", "mlflow", "great_expectations", "evidently", "harmwatch", "numpy")
STEP_TASKS = {
    "harmful_content_retrain": {
        "ingest": "ingest",
        "validate": "validate",
        "build_dataset": "build-dataset",
        "train": "train",
        "evaluate": "evaluate",
        "promote": "promote",
        "drift_report": "drift",
    },
    "harmful_content_drift": {"drift": "drift"},
    "harmful_content_score": {"predict": "predict"},
}
# Steps that take the logical date (train and evaluate take no --date; see the DAG's doc).
DATED = {"ingest", "validate", "build_dataset", "promote", "drift_report"}
# The only tasks that are not a harmwatch step: the drift DAG's decision and its trigger.
CONTROL_TASKS = {"harmful_content_drift": {"drift_detected", "trigger_retrain"}}


@pytest.mark.parametrize("runner", ["local", "kubernetes"])
def test_both_dags_load_without_import_errors(dagbag, runner: str) -> None:
    bag = dagbag(runner)
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == set(DAG_IDS)


@pytest.mark.parametrize("runner", ["local", "kubernetes"])
def test_parsing_a_dag_file_imports_nothing_heavy(runner: str, tmp_path) -> None:
    """Parse the DAG files in a fresh interpreter, as the DAG processor does; then look at sys.modules."""
    code = textwrap.dedent(
        f"""
        import json, os, sys
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder={str(DAGS)!r}, safe_mode=False)
        print(json.dumps({{"errors": list(bag.import_errors), "dags": sorted(bag.dag_ids),
                           "heavy": [m for m in {HEAVY!r} if m in sys.modules]}}))
        """
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "HARMWATCH_RUNNER": runner,
        "PYTHONPATH": str(DAGS),  # what Airflow's dags-folder bundle does for the helper module
    }
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["errors"] == []
    assert result["dags"] == sorted(DAG_IDS)
    assert result["heavy"] == [], f"parsing the DAGs imported {result['heavy']}"


def test_dag_policies(dagbag) -> None:
    bag = dagbag("local")
    for dag_id in DAG_IDS:
        dag = bag.dags[dag_id]
        assert dag.doc_md and dag.doc_md.strip().startswith(f"### {dag_id}"), "module docstring is doc_md"
        assert "harmwatch" in dag.tags
        assert dag.catchup is False
        assert dag.max_active_runs == 1
        assert dag.timetable.expression.endswith(" * * *"), "daily"
        for task in dag.tasks:
            assert task.retries >= 1, task.task_id
            assert task.retry_exponential_backoff, task.task_id
            assert task.execution_timeout and task.execution_timeout <= timedelta(hours=2), task.task_id
            assert task.on_failure_callback, task.task_id
        steps = {t.task_id: t.step for t in dag.tasks if hasattr(t, "step")}
        assert steps == STEP_TASKS[dag_id]
        assert {t.task_id for t in dag.tasks} - set(steps) == CONTROL_TASKS.get(dag_id, set())


def test_retrain_is_a_chain_and_passes_the_logical_date_to_every_step(dagbag) -> None:
    dag = dagbag("local").dags["harmful_content_retrain"]
    order = ["ingest", "validate", "build_dataset", "train", "evaluate", "promote", "drift_report"]
    for upstream, downstream in itertools.pairwise(order):
        assert dag.get_task(downstream).upstream_task_ids == {upstream}
    for task in dag.tasks:
        if task.task_id in DATED:
            assert "--date={{ ds }}" in task.arguments, task.task_id
        assert not any("now(" in str(a) for a in task.arguments), task.task_id
    # train gets the handle build_dataset returned in this run; evaluate judges train's challenger.
    assert dag.get_task("train").arguments == [
        "{% if ((ti.xcom_pull(task_ids='build_dataset') or {}).get('train_version')) not in (none, '') %}"
        "--train-version={{ (ti.xcom_pull(task_ids='build_dataset') or {}).get('train_version') }}{% endif %}"
    ]
    assert dag.get_task("promote").skip_unless == "promoted"
    assert dag.get_task("drift_report").trigger_rule == "none_failed"


def test_retrain_params_have_defaults_and_descriptions(dagbag) -> None:
    dag = dagbag("local").dags["harmful_content_retrain"]
    params = dag.params
    expected = {
        "min_macro_f1",
        "min_class_f1",
        "max_regression",
        "max_class_regression",
        "max_ece",
        "approval_required",
        "force_promote",
        "force_reason",
        "landing_uri",
    }
    assert expected <= set(params.keys())
    for key in params:
        param = params.get_param(key)
        assert param.description, key
    resolved = params.validate()
    assert resolved["approval_required"] is False and resolved["force_promote"] is False
    assert all(0 < resolved[k] < 1 for k in ("min_macro_f1", "min_class_f1", "max_regression", "max_ece"))


def test_threshold_defaults_are_the_evaluate_steps_own(dagbag) -> None:
    """The trigger form shows the thresholds evaluate would use anyway: one source of truth."""
    from dataclasses import asdict

    from harmwatch.model.decision import Thresholds as thresholds

    resolved = dagbag("local").dags["harmful_content_retrain"].params.validate()
    own = asdict(thresholds())
    for key in ("min_macro_f1", "min_class_f1", "max_regression", "max_class_regression", "max_ece"):
        assert resolved[key] == own[key], key


def test_drift_dag_decides_from_the_drift_xcom_and_triggers_retrain(dagbag) -> None:
    dag = dagbag("local").dags["harmful_content_drift"]
    assert dag.get_task("drift_detected").upstream_task_ids == {"drift"}
    trigger = dag.get_task("trigger_retrain")
    assert trigger.upstream_task_ids == {"drift_detected"}
    assert trigger.trigger_dag_id == "harmful_content_retrain"
    assert trigger.skip_when_already_exists
    assert "drift" in trigger.conf and "trigger_reason" in trigger.conf
    assert "xcom_pull(task_ids='drift')" in trigger.conf["trigger_reason"]

    from harmful_content_drift import should_retrain

    assert should_retrain({"drift_detected": True, "drift_score": 0.4, "day": "2026-01-02", "signals": {}})
    assert not should_retrain({"drift_detected": False, "volume_anomaly": True, "signals": {}})
    assert not should_retrain(None)
    assert not should_retrain({"drift_detected": None, "skipped": "no champion in the registry"})


def render_arguments(task, dag, **params) -> list[str]:
    from harmwatch_tasks import drop_empty

    context = {"ds": "2026-01-03", "params": {**dag.params.validate(), **params}}
    task.render_template_fields(context, jinja_env=dag.get_template_env())
    return drop_empty(task.arguments)


def test_forced_promotion_passes_the_reason_and_only_when_forced(dagbag) -> None:
    dag = dagbag("local").dags["harmful_content_retrain"]
    reason = "hotfix: the champion misses a new slur"
    forced = render_arguments(dag.get_task("promote"), dag, force_promote=True, force_reason=reason)
    assert forced == ["--date=2026-01-03", "--force", f"--reason={reason}"]
    dag = dagbag("local").dags["harmful_content_retrain"]
    unforced = render_arguments(dag.get_task("promote"), dag, force_promote=False, force_reason=reason)
    assert unforced == ["--date=2026-01-03"]

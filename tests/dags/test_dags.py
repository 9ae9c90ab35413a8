"""DAG import and policy tests: every DAG loads, stay light at parse time, and follow the house rules."""

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
    "harmful_content_review": {"review_pull": "review-pull", "review_push": "review-push"},
    "harmful_content_moderation": {"metrics": "metrics"},
}
# Steps that take the logical date (train takes the snapshot build_dataset returned; see the DAG's doc).
DATED = {
    "ingest",
    "validate",
    "build_dataset",
    "evaluate",
    "promote",
    "drift_report",
    "review_pull",
    "review_push",
    "predict",
}
# The only tasks that are not a harmwatch step: the retrain DAG's approval, the drift DAG's decision and
# its trigger, the moderation DAG's alarm.
CONTROL_TASKS = {
    "harmful_content_retrain": {"approve"},
    "harmful_content_drift": {"drift_detected", "trigger_retrain"},
    "harmful_content_moderation": {"brigade_alarm"},
}


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
    order = ["ingest", "validate", "build_dataset", "train", "evaluate", "approve", "promote", "drift_report"]
    for upstream, downstream in itertools.pairwise(order):
        # promote also waits on evaluate itself: with approve skipped it runs, with evaluate skipped not.
        extra = {"evaluate"} if downstream == "promote" else set()
        assert dag.get_task(downstream).upstream_task_ids == {upstream} | extra
    for task in dag.tasks:
        if task.task_id == "approve":
            continue
        if task.task_id in DATED:
            assert "--date={{ ds }}" in task.arguments, task.task_id
        assert not any("now(" in str(a) for a in task.arguments), task.task_id
    # train gets the handle build_dataset returned in this run; evaluate judges train's challenger.
    assert dag.get_task("train").arguments == [
        "{% if ((ti.xcom_pull(task_ids='build_dataset') or {}).get('train_version')) not in (none, '') %}"
        "--train-version={{ (ti.xcom_pull(task_ids='build_dataset') or {}).get('train_version') }}"
        "{% endif %}",
        "--only-if-new",
    ]
    # Nothing new since the champion's snapshot: train ends skipped, and evaluate and promote with it.
    assert dag.get_task("train").skip_unless == "trained"
    assert dag.get_task("evaluate").trigger_rule == "all_success"
    assert dag.get_task("promote").skip_unless == "promoted"
    assert dag.get_task("promote").trigger_rule == "none_failed_min_one_success", (
        "promote runs when no approval was needed, and not when evaluate was skipped"
    )
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


def test_threshold_params_and_evaluate_arguments_come_from_the_gate_table(dagbag) -> None:
    """The trigger form shows every gate of the table with evaluate's own default, and what the evaluate
    task passes, rendered with the form's defaults, parses into evaluate's default thresholds."""
    import argparse

    from harmwatch.model.gates import GATES, Thresholds
    from harmwatch.steps import evaluate

    dag = dagbag("local").dags["harmful_content_retrain"]
    resolved = dag.params.validate()
    shown = [gate for gate in GATES if gate.on_form]
    assert {gate.name for gate in shown} <= set(resolved)
    for gate in shown:
        assert resolved[gate.name] == gate.default, gate.name
        assert dag.params.get_param(gate.name).schema["title"] == gate.title
    arguments = dag.get_task("evaluate").arguments
    passed = [a for a in arguments if "{{ params." in a and "approval" not in a]
    assert passed == [f"{gate.option}={{{{ params.{gate.name} }}}}" for gate in shown]
    rendered = [a.split("=")[0] + "=" + str(resolved[a.split("{{ params.")[1].split(" ")[0]]) for a in passed]
    parser = argparse.ArgumentParser()
    evaluate.add_arguments(parser)
    assert evaluate.thresholds_of(parser.parse_args(rendered)) == Thresholds()


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


class FakeTI:
    """What the promote arguments pull: the approval task's answer (None: skipped, no answer)."""

    def __init__(self, answer: dict | None) -> None:
        self.answer = answer

    def xcom_pull(self, task_ids: str) -> dict | None:
        assert task_ids == "approve"
        return self.answer


class FakeRun:
    def __init__(self, user: str | None) -> None:
        self.triggering_user_name = user


def render_arguments(task, dag, answer=None, user="alice", **params) -> list[str]:
    from harmwatch_tasks import drop_empty

    context = {
        "ds": "2026-01-03",
        "run_id": "manual__2026-01-03",
        "dag": dag,
        "dag_run": FakeRun(user),
        "ti": FakeTI(answer),
        "params": {**dag.params.validate(), **params},
    }
    task.render_template_fields(context, jinja_env=dag.get_template_env())
    return drop_empty(task.arguments)


WHO = ["--actor=alice", "--via=Airflow harmful_content_retrain run manual__2026-01-03"]


def test_forced_promotion_passes_the_reason_and_only_when_forced(dagbag) -> None:
    dag = dagbag("local").dags["harmful_content_retrain"]
    reason = "hotfix: the champion misses a new slur"
    forced = render_arguments(dag.get_task("promote"), dag, force_promote=True, force_reason=reason)
    assert forced == ["--date=2026-01-03", "--force", f"--reason={reason}", *WHO]
    dag = dagbag("local").dags["harmful_content_retrain"]
    unforced = render_arguments(dag.get_task("promote"), dag, force_promote=False, force_reason=reason)
    assert unforced == ["--date=2026-01-03", *WHO]


def test_promote_gets_the_reviewer_s_answer_and_who_gave_it(dagbag) -> None:
    from harmwatch_approval import NOBODY

    def answer(option, user, note=""):
        return {"chosen_options": [option], "params_input": {"note": note}, "responded_by_user": user}

    cases = [
        (
            answer("Approve", {"id": "bob", "name": "bob"}, "fine"),
            ["--review=approved", "--reviewer=bob", "--review-note=fine"],
        ),
        (answer("Reject", {"id": "bob", "name": "bob"}), ["--review=rejected", "--reviewer=bob"]),
        (answer("Reject", None), ["--review=rejected", f"--reviewer={NOBODY}"]),  # timed out
    ]
    for given, expected in cases:
        dag = dagbag("local").dags["harmful_content_retrain"]
        assert render_arguments(dag.get_task("promote"), dag, given) == ["--date=2026-01-03", *WHO, *expected]
    dag = dagbag("local").dags["harmful_content_retrain"]
    scheduled = render_arguments(dag.get_task("promote"), dag, None, user=None)
    assert scheduled[1] == "--actor=the schedule of harmful_content_retrain"


def test_the_approval_task_asks_only_for_a_pending_challenger_and_shows_the_evaluation(
    dagbag, monkeypatch
) -> None:
    from airflow.providers.standard.operators.hitl import HITLOperator
    from airflow.sdk.exceptions import AirflowSkipException

    asked = []
    monkeypatch.setattr(
        HITLOperator, "execute", lambda self, context: asked.append((self.subject, self.body))
    )
    task = dagbag("local").dags["harmful_content_retrain"].get_task("approve")
    assert task.options == ["Approve", "Reject"] and task.defaults == ["Reject"] and "note" in task.params
    for decision in ("promote", "reject", None):
        with pytest.raises(AirflowSkipException, match="no approval needed"):
            task.execute({"ti": FakeEvaluate({"decision": decision})})
    summary = {
        "decision": "pending_approval",
        "challenger_version": "5",
        "champion_version": "4",
        "review": "## Decision",
    }
    task.execute({"ti": FakeEvaluate(summary)})
    assert asked == [("Promote challenger v5 replacing champion v4?", "## Decision")]
    # An answer, Approve or Reject, is returned for promote; Reject skips nothing downstream.
    event = {
        "chosen_options": ["Reject"],
        "params_input": {"note": "no"},
        "responded_at": __import__("datetime").datetime.now(),
        "responded_by_user": {"id": "b", "name": "b"},
    }
    assert task.execute_complete({"ti": None, "task": task}, event)["chosen_options"] == ["Reject"]


class FakeEvaluate:
    def __init__(self, summary: dict) -> None:
        self.summary = summary

    def xcom_pull(self, task_ids: str) -> dict:
        assert task_ids == "evaluate"
        return self.summary


def test_review_pulls_before_it_pushes_and_runs_before_the_retrain_day_ends(dagbag) -> None:
    dag = dagbag("local").dags["harmful_content_review"]
    assert dag.get_task("review_push").upstream_task_ids == {"review_pull"}
    assert dag.timetable.expression == "30 23 * * *"  # the day's decisions land before midnight's retrain
    for task in dag.tasks:
        assert "--date={{ ds }}" in task.arguments, task.task_id
    resolved = dag.params.validate()
    assert resolved == {"max_open": 500, "order": "value", "overlap_percent": 10}


def test_moderation_dag_runs_metrics_daily_and_fails_the_alarm_task_on_an_alarm(dagbag) -> None:
    dag = dagbag("local").dags["harmful_content_moderation"]
    assert dag.get_task("brigade_alarm").upstream_task_ids == {"metrics"}
    args = render_arguments(dag.get_task("metrics"), dag)
    assert args == ["--date=2026-01-03", "--history-days=14", "--max-coordinated-share=0.02"]

    from airflow.sdk.exceptions import AirflowFailException
    from harmful_content_moderation import raise_alarm

    calm = {"batch_dt": "2026-01-03", "alarms": [], "report_volume_robust_z": 0.4}
    assert raise_alarm(calm).startswith("no brigade alarm for 2026-01-03")
    assert raise_alarm({"skipped": "no validated batches"}).startswith("not checked")
    line = "reporter_cohort: 9.0% of the reports on 2026-01-03 come from 1 co-reporting cohort(s)"
    with pytest.raises(AirflowFailException, match=r"brigade alarm for 2026-01-03: reporter_cohort: 9\.0%"):
        raise_alarm({"batch_dt": "2026-01-03", "alarms": [line], "metrics_json": "/r/moderation.json"})

"""Both DAGs run through real Airflow (``airflow dags test``, SQLite metadata DB) with a stand-in
``harmwatch`` that answers like the real steps, so the orchestration is tested on its own in seconds:
templates and params reach the commands, a "no" from evaluate leaves promote skipped while the drift
report still runs, detected drift triggers harmful_content_retrain with the reason in its conf, and a
brigade alarm in the metrics summary fails the moderation DAG's brigade_alarm task.
The real steps run through the same DAG in tests/e2e.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path

import pytest

from devstack import airflow as af

pytestmark = pytest.mark.airflow

FAKE = r"""#!{python}
import json, os, sys
step, args = sys.argv[1], sys.argv[2:]
with open(os.environ["FAKE_CALLS"], "a") as fh:
    fh.write(json.dumps([step, *args]) + "\n")
print(f"harmwatch.{{step}} INFO pretending", file=sys.stderr)
summary = {{"step": step}}
if step == "build-dataset":
    summary["train_version"] = "v-" + args[0].split("=")[1]
elif step == "train":
    summary["trained"] = os.environ.get("FAKE_NOTHING_NEW") != "1"
    summary["reason"] = "nothing new to learn" if not summary["trained"] else None
elif step == "evaluate":
    summary["decision"] = os.environ.get("FAKE_DECISION", "promote")
elif step == "promote":
    forced = "--force" in args
    summary["promoted"] = forced or os.environ.get("FAKE_DECISION", "promote") == "promote"
    summary["decision"] = os.environ.get("FAKE_DECISION", "promote")
elif step == "metrics":
    alarm = ["reporter_cohort: 9.0% of the reports on 2026-01-02 come from 1 co-reporting cohort(s)"]
    summary.update(batch_dt="2026-01-02", alarms=alarm if os.environ.get("FAKE_ALARM") == "1" else [],
                   report_volume_robust_z=0.3, coordinated_report_share=0.09)
elif step == "drift":
    summary.update(drift_detected=os.environ.get("FAKE_DRIFT") == "1", drift_score=0.42,
                   day="2026-01-02", signals={{"text": {{"drift_detected": True, "scores": {{}}}}}},
                   report_html="/reports/drift/dt=2026-01-02/drift.html", champion_version="1")
print(json.dumps(summary))
"""


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("dagruns")
    fake = tmp / "harmwatch"
    fake.write_text(FAKE.format(python=sys.executable))
    fake.chmod(0o755)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HARMWATCH_", "AIRFLOW"))}
    base.update(HARMWATCH_HOME=str(tmp / "hw"), HARMWATCH_BIN=str(fake), FAKE_CALLS=str(tmp / "calls.jsonl"))
    env = af.airflow_env(base)
    af.migrate(env, log=tmp / "migrate.log")
    return env


def calls(env: dict[str, str]) -> list[list[str]]:
    path = Path(env["FAKE_CALLS"])
    lines = path.read_text().splitlines() if path.exists() else []
    path.unlink(missing_ok=True)
    return [json.loads(line) for line in lines]


def test_retrain_with_nothing_new_skips_train_evaluate_and_promote(airflow_home) -> None:
    env = {**airflow_home, "FAKE_NOTHING_NEW": "1"}
    log = Path(env["AIRFLOW_HOME"]) / "nothing-new.log"
    run = af.dags_test(env, "harmful_content_retrain", "2026-01-03", log=log)
    states = {t: r.state for t, r in run.tasks.items()}
    assert run.state == "success", (states, log.read_text()[-3000:])
    assert [states[t] for t in ("train", "evaluate", "promote", "drift_report")] == [
        "skipped",
        "skipped",
        "skipped",
        "success",
    ], states
    assert run.tasks["train"].xcom["reason"] == "nothing new to learn"
    assert [c[0] for c in calls(env)] == ["ingest", "validate", "build-dataset", "train", "drift"]


def test_retrain_rejected_challenger_skips_promote_and_still_reports_drift(airflow_home) -> None:
    env = {**airflow_home, "FAKE_DECISION": "reject"}
    log = Path(env["AIRFLOW_HOME"]) / "retrain.log"
    conf = {"min_macro_f1": 0.8, "approval_required": True, "landing_uri": "/data/landing"}
    run = af.dags_test(env, "harmful_content_retrain", "2026-01-02", conf=conf, log=log)
    states = {t: r.state for t, r in run.tasks.items()}
    assert run.state == "success", (states, log.read_text()[-3000:])
    assert states["promote"] == "skipped", states
    assert states["drift_report"] == "success", states
    assert run.tasks["promote"].xcom == {"step": "promote", "promoted": False, "decision": "reject"}

    made = {c[0]: c[1:] for c in calls(env)}
    assert list(made) == ["ingest", "validate", "build-dataset", "train", "evaluate", "promote", "drift"]
    dated = ("ingest", "validate", "build-dataset", "promote", "drift")
    assert all("--date=2026-01-02" in made[step] for step in dated)
    assert made["train"] == ["--train-version=v-2026-01-02", "--only-if-new"]  # build_dataset's handle
    assert made["ingest"] == ["--date=2026-01-02", "--landing=/data/landing"]
    assert "--min-macro-f1=0.8" in made["evaluate"] and "--approval" in made["evaluate"]
    assert "--force" not in made["promote"]


def test_detected_drift_triggers_retrain_with_the_reason(airflow_home) -> None:
    drifted = af.dags_test({**airflow_home, "FAKE_DRIFT": "1"}, "harmful_content_drift", "2026-01-03")
    states = {t: r.state for t, r in drifted.tasks.items()}
    assert states == {"drift": "success", "drift_detected": "success", "trigger_retrain": "success"}
    assert calls(airflow_home) == [["drift", "--window-days=1"]]
    db = sqlite3.connect(Path(airflow_home["AIRFLOW_HOME"]) / "airflow.db")
    row = db.execute(
        "SELECT conf, logical_date FROM dag_run WHERE dag_id='harmful_content_retrain' AND run_id=?",
        ("drift__2026-01-02",),
    ).fetchone()
    assert row is not None, "trigger_retrain created no run"
    conf = json.loads(row[0]) if isinstance(row[0], str | bytes) else row[0]
    assert "drift detected on batch 2026-01-02" in conf["trigger_reason"]
    assert conf["drift"]["drift_score"] == "0.42" and conf["drift"]["day"] == "2026-01-02"
    assert str(row[1]).startswith("2026-01-02")


def test_moderation_dag_fails_its_alarm_task_on_a_brigade_alarm(airflow_home) -> None:
    calm = af.dags_test(airflow_home, "harmful_content_moderation", "2026-01-02")
    assert {t: r.state for t, r in calm.tasks.items()} == {"metrics": "success", "brigade_alarm": "success"}
    assert calls(airflow_home) == [
        ["metrics", "--date=2026-01-02", "--history-days=14", "--max-coordinated-share=0.02"]
    ]
    log = Path(airflow_home["AIRFLOW_HOME"]) / "moderation-alarm.log"
    alarmed = af.dags_test(
        {**airflow_home, "FAKE_ALARM": "1"}, "harmful_content_moderation", "2026-01-04", log=log
    )
    states = {t: r.state for t, r in alarmed.tasks.items()}
    assert states == {"metrics": "success", "brigade_alarm": "failed"}, states
    assert alarmed.state == "failed"
    assert "brigade alarm for 2026-01-02: reporter_cohort: 9.0%" in log.read_text()
    calls(airflow_home)

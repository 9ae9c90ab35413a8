"""harmful_content_retrain end to end through Airflow, local runner, on the real dataset.

One DAG run (the bulk day, 2026-01-01) via ``airflow dags test`` on a fresh SQLite metadata DB, with
the steps talking to a real MLflow tracking server on 127.0.0.1 (fixture ``mlflow_server``). Then the
registry is checked from the outside: the first model is champion and its decision is recorded.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from devstack import airflow as af
from tests.conftest import MlflowServer, outside_env

pytestmark = pytest.mark.slow

DAG_ID = "harmful_content_retrain"
DAY = "2026-01-01"
STEPS = ["ingest", "validate", "build_dataset", "train", "evaluate", "promote", "drift_report"]


@pytest.fixture(scope="module")
def day_one(
    tmp_path_factory: pytest.TempPathFactory, source_csv: Path, mlflow_server: MlflowServer
) -> tuple[dict[str, str], af.DagRun]:
    home = tmp_path_factory.mktemp("e2e") / "hw"
    base = outside_env()
    base.update(
        HARMWATCH_HOME=str(home),
        HARMWATCH_SOURCE_CSV=str(source_csv),
        HARMWATCH_MLFLOW_TRACKING_URI=mlflow_server.uri,
        # The tracking server is shared by the session: a model name of our own keeps this test apart.
        HARMWATCH_MODEL_NAME=f"harmful-content-e2e-{uuid.uuid4().hex[:8]}",
    )
    env = af.airflow_env(base)
    af.simulate(env, DAY)
    logs = home / "run" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    af.migrate(env, log=logs / "migrate.log")
    run = af.dags_test(env, DAG_ID, DAY, log=logs / "dags-test.log")
    return env, run


def test_the_run_succeeds_through_airflow_with_every_step(day_one) -> None:
    env, run = day_one
    log = Path(env["HARMWATCH_HOME"]) / "run" / "logs" / "dags-test.log"
    states = {t: r.state for t, r in run.tasks.items()}
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:]) if log.exists() else ""
    assert run.state == "success", f"{states}\n{tail}"
    # The approval is skipped: approval mode is off by default, so nothing waits for a person.
    assert states == {**dict.fromkeys(STEPS, "success"), "approve": "skipped"}
    for task in STEPS:  # every step's JSON summary went through XCom
        assert isinstance(run.tasks[task].xcom, dict), task
    assert run.tasks["validate"].xcom["rows_in"] > 10_000


def test_the_registry_has_a_champion_and_the_decision_is_recorded(day_one) -> None:
    from mlflow import MlflowClient

    env, run = day_one
    decision = run.tasks["evaluate"].xcom.get("decision")
    assert decision, run.tasks["evaluate"].xcom
    assert run.tasks["promote"].xcom.get("promoted") is True, run.tasks["promote"].xcom

    uri = env["HARMWATCH_MLFLOW_TRACKING_URI"]
    # Explicit registry: an earlier in-process test may have set MLflow's global registry URI.
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    champion = client.get_model_version_by_alias(env["HARMWATCH_MODEL_NAME"], "champion")
    assert champion.version == str(run.tasks["evaluate"].xcom["challenger_version"])
    # The decision and its evidence live on the model version (docs/architecture.md, "Contracts").
    assert champion.tags.get("harmwatch.decision") == decision == "promote", champion.tags
    assert champion.tags.get("harmwatch.promoted_on") == DAY, champion.tags


def test_a_drift_triggered_run_with_nothing_new_records_it_and_trains_nothing(day_one) -> None:
    """What harmful_content_drift starts when the drifted day is already trained on: the real steps run
    through Airflow, build_dataset reports no new rows, train ends skipped saying why, and evaluate and
    promote are skipped with it; the drift report is still written."""
    env, first = day_one
    conf = {
        "trigger_reason": f"harmful_content_drift run x: drift detected on batch {DAY} (score 0.3)",
        "drift": {
            "day": DAY,
            "drift_score": "0.3",
            "signals": "{}",
            "report_html": "",
            "champion_version": "1",
        },
    }
    log = Path(env["HARMWATCH_HOME"]) / "run" / "logs" / "dags-test-drift.log"
    run = af.dags_test(env, DAG_ID, f"{DAY}T06:00:00+00:00", conf=conf, log=log)
    states = {t: r.state for t, r in run.tasks.items()}
    assert run.run_id != first.run_id and run.state == "success", states
    assert states == {
        "ingest": "success",
        "validate": "success",
        "build_dataset": "success",
        "train": "skipped",
        "evaluate": "skipped",
        "approve": "skipped",
        "promote": "skipped",
        "drift_report": "success",
    }
    built = run.tasks["build_dataset"].xcom
    assert (
        built["new_rows"] == 0
        and built["train_version"] == first.tasks["build_dataset"].xcom["train_version"]
    )
    trained = run.tasks["train"].xcom
    assert trained["trained"] is False and trained["model_version"] is None
    assert "nothing new to learn" in trained["reason"] and trained["train_version"] in trained["reason"]
    assert "nothing new to learn" in log.read_text(errors="replace")  # the skip says why in the task log

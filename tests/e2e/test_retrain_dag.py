"""harmful_content_retrain end to end, local runner, on the production backends and the real dataset.

The one full-pipeline test of the local runner (the pods and the browser have theirs, in tests/pods/ and
tests/browser/). Airflow's metadata DB, MLflow's backend store and its basic-auth user store are on
PostgreSQL (Debian's packages, a private cluster started and stopped by the test); MLflow's artifact store
and the landing zone, lake and reports are on the S3-compatible server (moto, 127.0.0.1). MLflow runs the
basic-auth app and the steps sign in as the non-admin pipeline user.

Three runs through ``airflow dags test``, in this order:

1. the bulk day (2026-01-01) promotes the first champion on the default gates, its decision recorded on
   the model version;
2. a drift-triggered run of the same day finds nothing new: train ends skipped saying why, evaluate and
   promote are skipped with it, and the drift report is still written;
3. day 2 trains a challenger and takes a real champion-vs-challenger decision, recorded with who and why.

It also plants known secret values (the pseudonymisation key, the S3 secret key, the PostgreSQL and
MLflow passwords) and searches every log and output for them: none may leak; and no raw reporter id may
be in the lake.
"""

from __future__ import annotations

import io
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from devstack import airflow as af
from harmwatch.storage import open_store
from tests.conftest import (
    BELOW_SUITE_FLOORS,
    MLFLOW_ADMIN,
    MLFLOW_PIPELINE,
    start_mlflow,
    start_moto,
    stop_process,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.airflow,
    pytest.mark.postgres,
    pytest.mark.server,
    pytest.mark.model,
]

DAG_ID = "harmful_content_retrain"
DAY, DAY2 = "2026-01-01", "2026-01-02"
STEPS = ["ingest", "validate", "build_dataset", "train", "evaluate", "promote", "drift_report"]
MODEL = "harmful-content"
PSEUDONYM_KEY = "planted-pseudonym-key-5f1c9e-0a7d3b4c8e"
S3_SECRET = "planted-s3-secret-8d2a47"


def champion_after(uri: str) -> Any:
    """The champion's model version as the registry has it now (read as the pipeline user)."""
    from mlflow import MlflowClient

    # Explicit registry: an earlier in-process test may have set MLflow's global registry URI.
    return MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version_by_alias(MODEL, "champion")


@pytest.fixture(scope="module")
def production(tmp_path_factory, source_csv, postgres_server):
    root = tmp_path_factory.mktemp("prod")
    moto = start_moto()
    s3_env = {**moto.env(), "AWS_SECRET_ACCESS_KEY": S3_SECRET}
    for bucket in ("hw-data", "hw-mlflow"):
        moto.create_bucket(bucket)
    saved = {k: os.environ.get(k) for k in s3_env}
    os.environ.update(s3_env)  # for this test process's own S3 reads; restored below
    mlflow = start_mlflow(
        root / "mlflow",
        backend_uri=postgres_server.url("mlflow"),
        artifacts="s3://hw-mlflow/artifacts",
        env=s3_env,
        auth_db_uri=postgres_server.url("mlflow"),  # users beside the registry, as the chart allows
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HARMWATCH_", "AIRFLOW"))}
    base.update(
        s3_env,
        HARMWATCH_HOME=str(root / "hw"),
        HARMWATCH_SOURCE_CSV=str(source_csv),
        HARMWATCH_LANDING_URI="s3://hw-data/landing",
        HARMWATCH_LAKE_URI="s3://hw-data/lake",
        HARMWATCH_REPORTS_URI="s3://hw-data/reports",
        HARMWATCH_MLFLOW_TRACKING_URI=mlflow.uri,
        HARMWATCH_PSEUDONYM_KEY=PSEUDONYM_KEY,
    )
    env = af.airflow_env(base)
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = postgres_server.url("airflow", "postgresql+psycopg2")
    logs = root / "hw" / "run" / "logs"
    logs.mkdir(parents=True)
    drift_conf = {
        "trigger_reason": f"harmful_content_drift run x: drift detected on batch {DAY} (score 0.3)",
        "drift": {
            "day": DAY,
            "drift_score": "0.3",
            "signals": "{}",
            "report_html": "",
            "champion_version": "1",
        },
    }
    try:
        af.simulate(env, DAY, days=2)
        af.migrate(env, log=logs / "migrate.log")
        day1 = af.dags_test(env, DAG_ID, DAY, conf=BELOW_SUITE_FLOORS, log=logs / "dags-test.log")
        champion1 = champion_after(mlflow.uri) if day1.state == "success" else None
        # What harmful_content_drift starts when the drifted day is already in the champion.
        drift_log = logs / "dags-test-drift.log"
        rerun = af.dags_test(
            env,
            DAG_ID,
            f"{DAY}T06:00:00+00:00",
            conf={**drift_conf, **BELOW_SUITE_FLOORS},
            log=drift_log,
        )
        day2 = af.dags_test(env, DAG_ID, DAY2, conf=BELOW_SUITE_FLOORS, log=logs / "dags-test-2.log")
        yield {
            "env": env,
            "day1": day1,
            "champion1": champion1,
            "rerun": rerun,
            "day2": day2,
            "root": root,
            "mlflow": mlflow,
        }
    finally:
        stop_process(mlflow.proc)
        stop_process(moto.proc)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_day_one_succeeds_through_airflow_with_every_step(production):
    env, run = production["env"], production["day1"]
    log = Path(env["HARMWATCH_HOME"]) / "run" / "logs" / "dags-test.log"
    states = {t: r.state for t, r in run.tasks.items()}
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:]) if log.exists() else ""
    assert run.state == "success", f"{states}\n{tail}"
    # The approval is skipped: approval mode is off by default, so nothing waits for a person.
    assert states == {**dict.fromkeys(STEPS, "success"), "approve": "skipped"}
    for task in STEPS:  # every step's JSON summary went through XCom
        assert isinstance(run.tasks[task].xcom, dict), task
    assert run.tasks["validate"].xcom["rows_in"] > 10_000


def test_the_metadata_the_registry_and_the_lake_are_on_postgres_and_s3(production):
    env, run = production["env"], production["day1"]
    assert run.state == "success", {t: r.state for t, r in run.tasks.items()}
    assert run.tasks["promote"].xcom["promoted"] is True
    # The metadata really is in PostgreSQL: no SQLite file was created for Airflow.
    assert not (Path(env["AIRFLOW_HOME"]) / "airflow.db").exists()
    lake = open_store("s3://hw-data/lake")
    assert lake.committed("validated/labelled") and lake.committed("datasets/train")
    assert open_store("s3://hw-mlflow/artifacts").list(), "MLflow artifacts are on S3"


def test_day_one_makes_the_first_champion_and_records_the_decision(production):
    run, champion = production["day1"], production["champion1"]
    decision = run.tasks["evaluate"].xcom.get("decision")
    assert decision, run.tasks["evaluate"].xcom
    assert run.tasks["promote"].xcom.get("promoted") is True, run.tasks["promote"].xcom
    assert champion is not None, "no champion after day 1"
    assert champion.version == str(run.tasks["evaluate"].xcom["challenger_version"])
    # The decision and its evidence live on the model version (docs/architecture.md, "Contracts").
    assert champion.tags.get("harmwatch.decision") == decision == "promote", champion.tags
    assert champion.tags.get("harmwatch.promoted_on") == DAY, champion.tags


def test_a_drift_triggered_run_with_nothing_new_records_it_and_trains_nothing(production):
    """The real steps run through Airflow, build_dataset reports no new rows, train ends skipped saying
    why, and evaluate and promote are skipped with it; the drift report is still written."""
    first, run = production["day1"], production["rerun"]
    log = Path(production["env"]["HARMWATCH_HOME"]) / "run" / "logs" / "dags-test-drift.log"
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


def test_day_two_takes_a_real_decision_recorded_with_who_and_why(production, postgres_server):
    run = production["day2"]
    assert run.state == "success", {t: r.state for t, r in run.tasks.items()}
    ev, promote = run.tasks["evaluate"].xcom, run.tasks["promote"].xcom
    assert (ev["challenger_version"], ev["champion_version"]) == ("2", "1")
    assert ev["decision"] in ("promote", "reject") and len(ev["delta_ci"]) == 2, ev
    assert ev["review"].startswith(f"## Decision: {ev['decision']}")
    assert run.tasks["approve"].state == "skipped", "no approval asked for outside approval mode"
    assert promote["promoted"] is (ev["decision"] == "promote"), promote
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_server.url("mlflow", "postgresql+psycopg2"))
    with engine.connect() as conn:
        aliases = dict(
            conn.execute(
                sa.text("select alias, version from registered_model_aliases where name = :n"),
                {"n": MODEL},
            ).all()
        )
        tags = dict(
            conn.execute(
                sa.text("select key, value from model_version_tags where name = :n and version = :v"),
                {"n": MODEL, "v": int(aliases["champion"])},
            ).all()
        )
        users = {u for (u,) in conn.execute(sa.text("select username from users")).all()}
    expected = {"champion": 2, "previous-champion": 1} if promote["promoted"] else {"champion": 1}
    assert {k: int(v) for k, v in aliases.items() if k != "challenger"} == expected
    # `airflow dags test` records its own user as the run's trigger: that is who moved the alias.
    assert tags["harmwatch.promoted_by"] == "dag_test" and tags["harmwatch.promoted_via"].startswith(
        "Airflow "
    )
    assert users == {MLFLOW_ADMIN[0], MLFLOW_PIPELINE[0]}, "the users live in PostgreSQL too"


def test_mlflow_refuses_anonymous_requests(production):
    url = f"{production['mlflow'].uri}/api/2.0/mlflow/registered-models/search"
    with pytest.raises(urllib.error.HTTPError, match="401"):
        urllib.request.urlopen(url, timeout=30)


def test_no_raw_reporter_id_is_in_the_lake(production):
    """The simulated reporters are honest-NNNN, careless-NNNN and brigade-NNNN in the landing zone; every
    table in the lake (rows, quarantines, reporter reliability) holds their pseudonyms only."""
    import pandas as pd

    raw_id = re.compile(r"\b(?:honest|careless|brigade)-\d{4}\b")
    landing = open_store("s3://hw-data/landing")
    assert any(raw_id.search(landing.read_bytes(o.key).decode()) for o in landing.list("reports")), (
        "ids landed"
    )
    lake = open_store("s3://hw-data/lake")
    tables = [o.key for o in lake.list() if o.key.endswith(".parquet")]
    reporter_columns = 0
    for key in tables:
        frame = pd.read_parquet(io.BytesIO(lake.read_bytes(key)))
        reporter_columns += "reporter_id" in frame.columns
        for column in frame.select_dtypes(include=["object", "string"]).columns:
            hits = frame[column].dropna().astype(str).str.contains(raw_id)
            assert not hits.any(), f"raw reporter id in {key}:{column}"
    assert len(tables) > 10 and reporter_columns >= 2


def test_planted_secrets_never_leak(production, postgres_server):
    root = production["root"]
    secrets = [PSEUDONYM_KEY, S3_SECRET, postgres_server.password, MLFLOW_ADMIN[1], MLFLOW_PIPELINE[1]]
    places: list[tuple[str, bytes]] = []
    # Where the test keeps the MLflow server's secrets on purpose (a Secret's files in production): private.
    kept = {root / "mlflow" / "pipeline-password", root / "mlflow" / "basic_auth.ini"}
    assert all(path.stat().st_mode & 0o077 == 0 for path in kept)
    for path in root.rglob("*"):  # Airflow task logs, dags-test logs, MLflow server log, local state
        if path.is_file() and path.suffix not in (".db",) and path not in kept:
            places.append((str(path), path.read_bytes()))
    for uri in ("s3://hw-data", "s3://hw-mlflow"):  # lake, reports, MLflow artifacts (models, cards)
        store = open_store(uri)
        places += [(store.url(o.key), store.read_bytes(o.key)) for o in store.list()]
    assert len(places) > 20  # logs, lake, reports and artifacts were all searched
    for secret in secrets:
        leaks = [name for name, data in places if secret.encode() in data]
        assert not leaks, f"secret found in {leaks[:5]}"

"""The retrain DAG on production backends, end to end: Airflow's metadata DB and MLflow's backend
store on PostgreSQL (Debian's packages, a private cluster started and stopped by the test), MLflow's
artifact store and the landing zone, lake and reports on the S3-compatible server (moto, 127.0.0.1).

It also plants known secret values (the pseudonymisation key, the S3 secret key, the PostgreSQL
password) and searches every log and output for them: none may leak.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devstack import airflow as af
from harmwatch.storage import open_store
from tests.conftest import start_mlflow, start_moto, stop_process

pytestmark = pytest.mark.slow
DAY = "2026-01-01"
PSEUDONYM_KEY = "planted-pseudonym-key-5f1c9e"
S3_SECRET = "planted-s3-secret-8d2a47"


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
    try:
        af.simulate(env, DAY)
        af.migrate(env, log=logs / "migrate.log")
        run = af.dags_test(env, "harmful_content_retrain", DAY, log=logs / "dags-test.log")
        yield env, run, root, mlflow
    finally:
        stop_process(mlflow.proc)
        stop_process(moto.proc)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_dag_succeeds_on_postgres_and_s3(production):
    env, run, _root, _ = production
    assert run.state == "success", {t: r.state for t, r in run.tasks.items()}
    assert run.tasks["promote"].xcom["promoted"] is True
    # The metadata really is in PostgreSQL: no SQLite file was created for Airflow.
    assert not (Path(env["AIRFLOW_HOME"]) / "airflow.db").exists()
    lake = open_store("s3://hw-data/lake")
    assert lake.committed("validated/labelled") and lake.committed("datasets/train")
    assert open_store("s3://hw-mlflow/artifacts").list(), "MLflow artifacts are on S3"


def test_registry_lives_in_postgres(production, postgres_server):
    _env, _, _, _mlflow = production
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_server.url("mlflow", "postgresql+psycopg2"))
    with engine.connect() as conn:
        aliases = conn.execute(
            sa.text("select alias, version from registered_model_aliases where name = :n"),
            {"n": "harmful-content"},
        ).all()
    assert ("champion", 1) in [(a, int(v)) for a, v in aliases]


def test_planted_secrets_never_leak(production, postgres_server):
    _env, _, root, _ = production
    secrets = [PSEUDONYM_KEY, S3_SECRET, postgres_server.password]
    places: list[tuple[str, bytes]] = []
    for path in root.rglob("*"):  # Airflow task logs, dags-test log, MLflow server log, local state
        if path.is_file() and path.suffix not in (".db",):
            places.append((str(path), path.read_bytes()))
    for uri in ("s3://hw-data", "s3://hw-mlflow"):  # lake, reports, MLflow artifacts (models, cards)
        store = open_store(uri)
        places += [(store.url(o.key), store.read_bytes(o.key)) for o in store.list()]
    assert len(places) > 20  # logs, lake, reports and artifacts were all searched
    for secret in secrets:
        leaks = [name for name, data in places if secret.encode() in data]
        assert not leaks, f"secret found in {leaks[:5]}"

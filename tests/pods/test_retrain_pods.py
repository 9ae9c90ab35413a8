"""The retrain DAG for two days through the step pods the DAG builds, played under Podman.

Production path, as faithfully as this machine allows:

- the job image built by ``make images`` (``docker/job.Dockerfile``);
- the runner configuration and the pods' settings from the Helm chart's ConfigMap (``helm template``
  with this test's servers and image), the credentials from a Secret like the one in docs/deploy.md;
- each task's pod built by the DAG's own ``KubernetesPodOperator.build_pod_request_obj`` and played by
  ``podman kube play`` (:mod:`devstack.pods`, :mod:`devstack.dagpods`), the XCom read back through the
  sidecar from ``/airflow/xcom/return.json``;
- the lake, landing zone and reports on the S3-compatible server (moto), MLflow's tracking server with its
  artifacts on that server too.

Stand-ins: the pods use the host's network (the servers listen on 127.0.0.1, where a cluster would have
Services); the XCom sidecar is the local Python base image instead of alpine (no registry); the source is
6,000 rows of the real dataset, so the run takes minutes. Day 1 is forced (a model trained on 6,000 rows
cannot clear the production floors); day 2 runs with the DAG's default gates and must reject.
"""

from __future__ import annotations

import csv
import random
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack import pods
from devstack.dagpods import TaskResult, run_dag
from harmwatch.access import secrets_of
from harmwatch.cli import parse_summary
from tests.conftest import run_cli, start_mlflow, start_moto, stop_process

pytestmark = [pytest.mark.slow, pytest.mark.podman, pytest.mark.server, pytest.mark.model]

DAG_ID = "harmful_content_retrain"
DAY1, DAY2 = "2026-01-01", "2026-01-02"
STEPS = ["ingest", "validate", "build_dataset", "train", "evaluate", "promote", "drift_report"]
STEPS_TO_COMMAND = {
    "ingest": "ingest",
    "validate": "validate",
    "build_dataset": "build-dataset",
    "train": "train",
    "evaluate": "evaluate",
    "promote": "promote",
    "drift_report": "drift",
}

SAMPLE_ROWS = 6000
SECRET_NAME = "harmwatch-secrets"


def sample_source(source_csv: Path, out: Path, rows: int) -> Path:
    """``rows`` random rows of the real dataset (seeded), header kept."""
    with source_csv.open(newline="", encoding="utf-8") as fh:
        header, *body = list(csv.reader(fh))
    random.Random(13).shuffle(body)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(body[:rows])
    return out


def chart_configmap(job_image: str, sidecar_image: str, s3_endpoint: str, mlflow_uri: str) -> dict[str, Any]:
    """The chart's job ConfigMap, rendered for this test's image and servers."""
    from tests.deploy.deploy_support import helm_template

    repository, tag = job_image.rsplit(":", 1)
    sets = [
        f"image.repository={repository}",
        f"image.tag={tag}",
        f"s3.endpointUrl={s3_endpoint}",
        "s3.region=us-east-1",
        "jobs.landingUri=s3://hw-data/landing",
        "jobs.lakeUri=s3://hw-data/lake",
        "jobs.reportsUri=s3://hw-data/reports",
        f"jobs.mlflowTrackingUri={mlflow_uri}",
        f"jobs.existingSecret={SECRET_NAME}",
        f"jobs.extraConfig.HARMWATCH_XCOM_SIDECAR_IMAGE={sidecar_image}",
        # No Spark operator here: every step runs as a pod, on the pandas engine.
        "jobs.extraConfig.HARMWATCH_SPARK_STEPS=none",
    ]
    docs = [d for d in yaml.safe_load_all(helm_template(sets=sets).stdout) if d]
    (config,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-config")]
    return config


def mlflow_login(server: Any) -> dict[str, str]:
    """The steps' MLflow login for the Secret: the test server's non-admin pipeline user (basic-auth)."""
    user, password = server.pipeline
    return {"MLFLOW_TRACKING_USERNAME": user, "MLFLOW_TRACKING_PASSWORD": password}


@pytest.fixture(scope="module")
def two_days(tmp_path_factory, source_csv, images):
    root = tmp_path_factory.mktemp("pods")
    moto = start_moto()
    mlflow = None
    try:
        for bucket in ("hw-data", "hw-mlflow"):
            moto.create_bucket(bucket)
        mlflow = start_mlflow(root / "mlflow", artifacts="s3://hw-mlflow/artifacts", env=moto.env())
        # The landing zone's producer, outside the DAG: two days of posts and reports on S3.
        source = sample_source(source_csv, root / "source.csv", SAMPLE_ROWS)
        sim = run_cli(
            "simulate",
            f"--source={source}",
            "--landing=s3://hw-data/landing",
            f"--start={DAY1}",
            "--days=1",
            env={**moto.env(), "HARMWATCH_HOME": str(root / "producer")},
        )
        assert sim.returncode == 0, sim.stderr
        config = chart_configmap(images["job"].ref, images["python-base"].ref, moto.endpoint, mlflow.uri)
        secret = pods.secret(
            SECRET_NAME,
            {
                "AWS_ACCESS_KEY_ID": moto.env()["AWS_ACCESS_KEY_ID"],
                "AWS_SECRET_ACCESS_KEY": moto.env()["AWS_SECRET_ACCESS_KEY"],
                "HARMWATCH_PSEUDONYM_KEY": secrets.token_hex(16),
                **mlflow_login(mlflow),
            },
        )
        worker_env = dict(config["data"])  # an Airflow worker loads the ConfigMap with envFrom
        force = {"force_promote": True, "force_reason": "first champion from a 6,000-row sample"}
        with pods.PodRunner(config, secret, host_network=True) as runner:
            day1 = run_dag(DAG_ID, DAY1, worker_env, runner, conf=force)
            # The approval is skipped (the forced decision needs none); nothing else may end otherwise.
            failed = {t: r.message for t, r in day1.items() if r.state != "success" and t != "approve"}
            assert not failed, f"day 1: {failed}"
            day2 = run_dag(DAG_ID, DAY2, worker_env, runner)
        yield {"day1": day1, "day2": day2, "config": config, "secret": secret, "mlflow": mlflow}
    finally:
        if mlflow is not None:
            stop_process(mlflow.proc)
        stop_process(moto.proc)


def states(results: dict[str, TaskResult]) -> dict[str, str]:
    return {t: r.state for t, r in results.items()}


def test_day_one_runs_every_step_pod_and_promotes_the_forced_champion(two_days) -> None:
    day1 = two_days["day1"]
    assert states(day1) == {**dict.fromkeys(STEPS, "success"), "approve": "skipped"}
    assert day1["ingest"].xcom["rows_in"] > 3000
    assert day1["validate"].xcom["rows_valid"] > 3000
    assert day1["train"].xcom["train_version"] == day1["build_dataset"].xcom["train_version"]
    assert day1["promote"].xcom["promoted"] is True and day1["promote"].xcom["forced"] is True


def test_day_two_rejects_the_challenger_and_skips_promote(two_days) -> None:
    day1, day2 = two_days["day1"], two_days["day2"]
    assert states(day2) == {**dict.fromkeys(STEPS, "success"), "approve": "skipped", "promote": "skipped"}, {
        t: r.message for t, r in day2.items()
    }
    evaluate = day2["evaluate"].xcom
    assert evaluate["decision"] == "reject"
    assert "macro_f1_floor" in evaluate["failed_gates"]
    assert evaluate["champion_version"] == day1["evaluate"].xcom["challenger_version"]
    assert int(evaluate["challenger_version"]) == int(evaluate["champion_version"]) + 1
    # promote ran, found nothing to promote and ended skipped, its summary still the XCom.
    assert day2["promote"].pod is not None and day2["promote"].xcom["promoted"] is False
    assert day2["build_dataset"].xcom["eval_reused"] is True, "both days are judged on one frozen snapshot"

    from mlflow import MlflowClient

    uri = two_days["mlflow"].uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    champion = client.get_model_version_by_alias("harmful-content", "champion")
    assert champion.version == str(evaluate["champion_version"])
    challenger = client.get_model_version("harmful-content", str(evaluate["challenger_version"]))
    assert challenger.tags.get("harmwatch.decision") == "reject"


def test_every_xcom_is_the_steps_own_summary_read_back_from_the_pod(two_days) -> None:
    for day in ("day1", "day2"):
        for task_id, result in two_days[day].items():
            if task_id not in STEPS:  # the approval runs in the worker, not in a pod
                continue
            assert result.pod is not None, (day, task_id)
            assert result.pod.xcom == parse_summary(result.pod.stdout), (day, task_id)
            assert "Traceback" not in result.pod.stderr, (day, task_id)


def test_pods_ran_as_built_hardened_with_the_configmap_and_their_secrets(two_days) -> None:
    config, secret = two_days["config"], two_days["secret"]
    for task_id, result in two_days["day2"].items():
        if task_id not in STEPS:  # the approval runs in the worker, not in a pod
            continue
        run = result.pod
        spec = run.played["spec"]
        main = spec["containers"][0]
        assert main["image"] == config["data"]["HARMWATCH_IMAGE"]
        assert main["command"] == ["harmwatch"] and main["args"][0] == STEPS_TO_COMMAND[task_id]
        command = STEPS_TO_COMMAND[task_id]
        assert main["envFrom"] == [{"configMapRef": {"name": config["metadata"]["name"]}}]
        refs = [e["valueFrom"]["secretKeyRef"] for e in main.get("env", []) if "valueFrom" in e]
        assert {r["name"] for r in refs} == {SECRET_NAME} and {r["key"] for r in refs} == set(
            secrets_of(command)
        )
        assert [c["name"] for c in spec["containers"]] == ["base", "airflow-xcom-sidecar"]
        assert spec["hostNetwork"] is True and "serviceAccountName" not in spec
        host = run.container["HostConfig"]
        assert run.container["Config"]["User"] == "10001:10001", task_id
        assert host["ReadonlyRootfs"] is True, task_id
        assert "no-new-privileges" in (host.get("SecurityOpt") or []), task_id
        assert not run.container["EffectiveCaps"], task_id
        assert host["Memory"] > 0 and host["NanoCpus"] > 0, "limits from the pod's resources"
        writable = {m["Destination"] for m in run.container["Mounts"] if m.get("RW")}
        assert writable == {"/tmp", "/var/lib/harmwatch", "/airflow/xcom"}, (task_id, writable)
        env = {e.split("=", 1)[0] for e in run.container["Config"]["Env"]}
        # The step ran with the ConfigMap and exactly the Secret's keys its command uses, no others.
        assert set(config["data"]) <= env, task_id
        assert set(secret["data"]) & env == set(secret["data"]) & set(secrets_of(command)), task_id


def test_the_lake_and_reports_are_on_the_s3_server(two_days) -> None:
    day2 = two_days["day2"]
    assert day2["ingest"].xcom["lake_uri"] == "s3://hw-data/lake"
    drift = day2["drift_report"].xcom
    assert drift["report_html"] == f"s3://hw-data/reports/drift/dt={DAY2}/drift.html"
    assert drift["prediction_source"] == "champion" and drift["rows_current"] > 0

"""The Spark steps' SparkApplications: valid against the Spark operator's CRD, hardened like the pods,
and what the kubernetes runner submits through SparkKubernetesOperator, rendered offline.

There is no Kubernetes API server or Spark operator here: the manifests are checked against the CRD's
openAPIV3Schema (sparkoperator.k8s.io/v1beta2) with jsonschema, as the API server would on admission.
"""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from harmwatch.access import LABEL_STUDIO, MLFLOW, secrets_of
from harmwatch_spark import SPARK_TEMPLATES
from harmwatch_tasks import JOB_UID, SPARK_STEPS
from tests.conftest import shared_dir
from tests.dags.test_kubernetes_pods import DAY, FakeTI

ENV = {
    "HARMWATCH_IMAGE": "registry.example.com/harmwatch/job:3f2a9c1",
    "HARMWATCH_NAMESPACE": "hw-test",
    "HARMWATCH_CONFIGMAP": "hw-config",
    "HARMWATCH_SECRET_NAME": "hw-secrets",
    "HARMWATCH_SPARK_SERVICE_ACCOUNT": "hw-spark",
}


@pytest.fixture(scope="module")
def crd_schema() -> dict:
    crd = yaml.safe_load(
        (shared_dir() / "schemas" / "sparkoperator.k8s.io_sparkapplications.yaml").read_text()
    )
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1beta2"]
    return version["schema"]["openAPIV3Schema"]


def templates() -> dict[str, dict]:
    return {p.stem: yaml.safe_load(p.read_text()) for p in sorted(Path(SPARK_TEMPLATES).glob("*.yaml"))}


def assert_valid(crd_schema: dict, body: dict, where: str) -> None:
    errors = sorted(jsonschema.Draft7Validator(crd_schema).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, f"{where}: {errors[0].message} at {list(errors[0].path)}"


def assert_hardened(body: dict, where: str) -> None:
    spec = body["spec"]
    assert spec["type"] == "Python" and spec["mode"] == "cluster", where
    assert spec["restartPolicy"]["type"] == "Never", where
    for role in ("driver", "executor"):
        pod, ctr = spec[role]["podSecurityContext"], spec[role]["securityContext"]
        assert pod["runAsNonRoot"] and pod["runAsUser"] == JOB_UID and pod["fsGroup"] == JOB_UID, where
        assert pod["seccompProfile"]["type"] == "RuntimeDefault", where
        assert ctr["runAsNonRoot"] and ctr["runAsUser"] == JOB_UID, where
        assert ctr["readOnlyRootFilesystem"] is True and ctr["allowPrivilegeEscalation"] is False, where
        assert ctr["capabilities"]["drop"] == ["ALL"], where
        assert ctr["seccompProfile"]["type"] == "RuntimeDefault", where
        assert spec[role]["cores"] >= 1 and spec[role]["coreLimit"] and spec[role]["memory"], where
        assert spec[role]["serviceAccount"], where
        mounts = {m["mountPath"] for m in spec[role]["volumeMounts"]}
        assert {"/tmp", "/var/lib/harmwatch"} <= mounts, where  # the only writable paths
    # Executors never talk to the API server: no token. The driver needs one to start its executors.
    assert spec["executor"]["template"]["spec"]["automountServiceAccountToken"] is False, where
    assert spec["executor"]["instances"] >= 1, where
    assert all(v["emptyDir"]["sizeLimit"] for v in spec["volumes"]), where


def test_every_spark_step_has_a_valid_hardened_template(crd_schema) -> None:
    found = templates()
    assert set(found) == set(SPARK_STEPS)
    for step, body in found.items():
        assert_valid(crd_schema, body, step)
        assert_hardened(body, step)
        assert body["spec"]["arguments"][0] == step
        assert body["spec"]["mainApplicationFile"].endswith("/harmwatch/spark/driver.py")
        env = {e["name"]: e["value"] for e in body["spec"]["driver"]["env"]}
        assert env["HARMWATCH_SPARK_MASTER"] == ""  # the master comes from spark-submit


def test_the_jsonschema_check_rejects_a_broken_application(crd_schema) -> None:
    body = templates()["validate"]
    body["spec"]["mode"] = "sideways"
    del body["spec"]["driver"]
    with pytest.raises(AssertionError):
        assert_valid(crd_schema, body, "broken")


@pytest.fixture(scope="module")
def submitted() -> dict[tuple[str, str], dict]:
    """{(dag_id, task_id): the SparkApplication a task would submit}, templates rendered offline."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.providers.cncf.kubernetes.operators.spark_kubernetes import SparkKubernetesOperator

    from tests.dags.conftest import DAGS

    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("HARMWATCH_RUNNER", "kubernetes")
        for key, value in ENV.items():
            mp.setenv(key, value)
        bag = DagBag(dag_folder=str(DAGS), safe_mode=False)
    finally:
        mp.undo()
    assert bag.import_errors == {}
    out = {}
    for dag_id, dag in bag.dags.items():
        params = dag.params.validate()
        for task in dag.tasks:
            if not isinstance(task, SparkKubernetesOperator):
                continue
            context = {"ds": DAY, "params": params, "run_id": "t", "dag": dag, "task": task, "ti": FakeTI()}
            task.render_template_fields(context, jinja_env=dag.get_template_env())
            out[(dag_id, task.task_id)] = task.manage_template_specs()["spark"]
            assert task.do_xcom_push is True, (dag_id, task.task_id)  # the summary is the task's XCom
    return out


def test_the_kubernetes_runner_submits_spark_steps_as_valid_applications(submitted, crd_schema) -> None:
    assert set(submitted) == {
        ("harmful_content_retrain", "ingest"),
        ("harmful_content_retrain", "validate"),
        ("harmful_content_retrain", "build_dataset"),
        ("harmful_content_score", "predict"),
    }
    for key, body in submitted.items():
        assert_valid(crd_schema, body, str(key))
        assert_hardened(body, str(key))
        spec = body["spec"]
        assert spec["image"] == ENV["HARMWATCH_IMAGE"] and body["metadata"]["namespace"] == "hw-test"
        assert spec["driver"]["serviceAccount"] == "hw-spark"
        assert spec["executor"]["serviceAccount"] == "hw-spark-executor"
        step = spec["arguments"][0]
        for role in ("driver", "executor"):
            assert spec[role]["envFrom"] == [{"configMapRef": {"name": "hw-config"}}]
            refs = [e["valueFrom"]["secretKeyRef"] for e in spec[role]["env"] if "valueFrom" in e]
            assert {r["name"] for r in refs} <= {"hw-secrets"}
            keys = {r["key"] for r in refs}
            # Least privilege: the driver gets the keys its step uses; executors never MLflow's or Label
            # Studio's (the driver ships them the checked model).
            expected = set(secrets_of(step)) - (set() if role == "driver" else {*MLFLOW, *LABEL_STUDIO})
            assert keys == expected, (key, role)
        args = spec["arguments"]
        assert "" not in args and f"--date={DAY}" in args, key  # rendered, empty options dropped
        assert not any("{{" in a or "{%" in a for a in args), key


def test_the_score_dag_scores_with_the_champion_and_the_challenger_in_shadow(submitted) -> None:
    args = submitted[("harmful_content_score", "predict")]["spec"]["arguments"]
    assert args == ["predict", f"--date={DAY}"]  # shadow on by default (no --no-shadow)


def test_spark_steps_return_their_summary_as_xcom(submitted) -> None:
    """The driver pod carries what a step pod has for its XCom: ``harmwatch`` writes the summary to the
    provider's XCom path, and the provider's sidecar (its name, its SIGINT-stoppable command) serves it;
    the operator reads it once the driver container has ended. Executors get neither."""
    from airflow.providers.cncf.kubernetes.utils.xcom_sidecar import PodDefaults

    from harmwatch.cli import XCOM_DIR

    assert str(XCOM_DIR) == PodDefaults.XCOM_MOUNT_PATH
    xcom = {"name": "xcom", "mountPath": PodDefaults.XCOM_MOUNT_PATH}
    for key, body in submitted.items():
        spec = body["spec"]
        driver, executor = spec["driver"], spec["executor"]
        (sidecar,) = driver["sidecars"]
        assert sidecar["name"] == PodDefaults.SIDECAR_CONTAINER_NAME, key
        assert sidecar["command"] == PodDefaults.SIDECAR_CONTAINER.command, key
        assert sidecar["image"] == ENV["HARMWATCH_IMAGE"], key  # no other image to pull or trust
        assert xcom in driver["volumeMounts"] and sidecar["volumeMounts"] == [xcom], key
        assert {"name": "xcom", "emptyDir": {"sizeLimit": "1Mi"}} in spec["volumes"], key
        assert "sidecars" not in executor and xcom not in executor["volumeMounts"], key
        ctx = sidecar["securityContext"]
        assert (
            ctx["runAsNonRoot"] and ctx["readOnlyRootFilesystem"] and ctx["capabilities"]["drop"] == ["ALL"]
        )
        assert sidecar["resources"]["limits"]["cpu"] and sidecar["resources"]["limits"]["memory"], key

"""In kubernetes mode every harmwatch step is a KubernetesPodOperator whose pod is valid and hardened.

Pods are built offline (``build_pod_request_obj(dry_run=True)``) after rendering the task's templates
with the DAG's default params and a logical date, then validated against the Kubernetes schema
(kubernetes-validate, strict) for the versions the chart supports.
"""

from __future__ import annotations

import pytest

from harmwatch.access import secrets_of
from tests.dags.test_dags import CONTROL_TASKS, STEP_TASKS

K8S_VERSIONS = ("1.33", "1.37")
ENV = {
    "HARMWATCH_IMAGE": "registry.example.com/harmwatch/job:3f2a9c1",
    "HARMWATCH_NAMESPACE": "hw-test",
    "HARMWATCH_SERVICE_ACCOUNT": "hw-job",
    "HARMWATCH_CONFIGMAP": "hw-config",
    "HARMWATCH_SECRET_NAME": "hw-secrets",
    "HARMWATCH_IMAGE_PULL_SECRETS": "hw-registry",
    # Every step as a pod here (tests/dags/test_spark_applications.py covers the Spark steps).
    "HARMWATCH_SPARK_STEPS": "none",
}
DAY = "2026-01-02"


class FakeTI:
    """Enough of a task instance for templates that read an upstream handle."""

    def xcom_pull(self, task_ids: str) -> dict | None:
        answers = {"build_dataset": {"train_version": "20260102-ab12cd34"}, "approve": None}  # no approval
        return answers[task_ids]


class FakeRun:
    triggering_user_name = "alice"


def built_pods(dagbag) -> dict[tuple[str, str], dict]:
    """{(dag_id, task_id): pod manifest} for every step task, templates rendered."""
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from kubernetes.client import ApiClient

    bag = dagbag("kubernetes", **ENV)
    assert bag.import_errors == {}
    pods = {}
    for dag_id, steps in STEP_TASKS.items():
        dag = bag.dags[dag_id]
        params = dag.params.validate()
        for task in dag.tasks:
            if task.task_id in CONTROL_TASKS.get(dag_id, set()):
                continue
            kind = type(task).__name__
            assert isinstance(task, KubernetesPodOperator), f"{dag_id}.{task.task_id} is {kind}"
            context = {
                "ds": DAY,
                "params": params,
                "run_id": "test",
                "dag": dag,
                "task": task,
                "ti": FakeTI(),
                "dag_run": FakeRun(),
            }
            task.render_template_fields(context, jinja_env=dag.get_template_env())
            pod = task.build_pod_request_obj(dry_run=True)
            pods[(dag_id, task.task_id)] = ApiClient().sanitize_for_serialization(pod)
        assert {t for (d, t) in pods if d == dag_id} == set(steps)
    return pods


@pytest.fixture(scope="module")
def pods(request) -> dict[tuple[str, str], dict]:
    # dagbag is function-scoped (monkeypatch); build once per module through a local MonkeyPatch.
    from tests.dags.conftest import DAGS

    mp = pytest.MonkeyPatch()
    try:

        def load(runner: str = "local", **env: str):
            from airflow.dag_processing.dagbag import DagBag

            mp.setenv("HARMWATCH_RUNNER", runner)
            for key, value in env.items():
                mp.setenv(key, value)
            return DagBag(dag_folder=str(DAGS), safe_mode=False)

        return built_pods(load)
    finally:
        mp.undo()


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_step_pod_validates_against_the_kubernetes_schema(pods, version: str) -> None:
    import kubernetes_validate

    for key, pod in pods.items():
        try:
            kubernetes_validate.validate(pod, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{key}: {exc.message} at {list(exc.path)}")


def test_pods_run_the_step_with_the_configured_image_identity_and_settings(pods) -> None:
    for (dag_id, task_id), pod in pods.items():
        step = STEP_TASKS[dag_id][task_id]
        spec, meta = pod["spec"], pod["metadata"]
        main = spec["containers"][0]
        assert main["image"] == ENV["HARMWATCH_IMAGE"]
        assert main["command"] == ["harmwatch"]
        assert main["args"][0] == step
        assert "" not in main["args"]
        assert meta["namespace"] == ENV["HARMWATCH_NAMESPACE"]
        assert spec["serviceAccountName"] == ENV["HARMWATCH_SERVICE_ACCOUNT"]
        assert spec["automountServiceAccountToken"] is False
        assert spec["imagePullSecrets"] == [{"name": "hw-registry"}]
        assert spec["restartPolicy"] == "Never"
        assert main["envFrom"] == [{"configMapRef": {"name": ENV["HARMWATCH_CONFIGMAP"]}}]
        # Least privilege: only the Secret's keys this step uses, one by one, never the whole Secret.
        from_secret = {
            e["name"]: e["valueFrom"]["secretKeyRef"] for e in main.get("env", []) if "valueFrom" in e
        }
        assert set(from_secret) == set(secrets_of(step)), (dag_id, task_id)
        assert all(ref["name"] == ENV["HARMWATCH_SECRET_NAME"] for ref in from_secret.values())
        # The chart's NetworkPolicies select step pods by these labels.
        assert meta["labels"]["app.kubernetes.io/name"] == "harmwatch"
        assert meta["labels"]["app.kubernetes.io/component"] == "job"


def test_arguments_are_rendered_from_the_logical_date_and_params(pods) -> None:
    args = {key: pod["spec"]["containers"][0]["args"] for key, pod in pods.items()}
    retrain = {t: a for (d, t), a in args.items() if d == "harmful_content_retrain"}
    for task_id in ("ingest", "validate", "build_dataset", "evaluate", "promote", "drift_report"):
        assert f"--date={DAY}" in retrain[task_id], task_id
    assert retrain["train"] == ["train", "--train-version=20260102-ab12cd34", "--only-if-new"]
    assert retrain["ingest"] == ["ingest", f"--date={DAY}"]  # no landing override by default
    evaluate = retrain["evaluate"]
    assert "--min-macro-f1=0.85" in evaluate and "--max-class-regression=0.02" in evaluate
    assert "--max-group-fpr=0.2" in evaluate and "--min-group-not-flagged=0.8" in evaluate
    assert "--min-recent-rows=200" in evaluate
    assert "--approval" not in evaluate
    # not forced by default; who triggered the run and which run it is are recorded
    assert retrain["promote"] == [
        "promote",
        f"--date={DAY}",
        "--actor=alice",
        "--via=Airflow harmful_content_retrain run test",
    ]
    assert args[("harmful_content_drift", "drift")] == ["drift", "--window-days=1"]
    assert args[("harmful_content_review", "review_pull")] == ["review-pull", f"--date={DAY}"]
    assert args[("harmful_content_review", "review_push")] == [
        "review-push",
        f"--date={DAY}",
        "--max-open=500",
        "--order=value",
        "--overlap-percent=10",
    ]
    moderation = args[("harmful_content_moderation", "metrics")]
    assert moderation == ["metrics", f"--date={DAY}", "--history-days=14", "--max-coordinated-share=0.02"]


def test_pods_are_hardened_bounded_and_cleaned_up(pods, dagbag) -> None:
    for key, pod in pods.items():
        spec = pod["spec"]
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] == 10001, key
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}, key
        for container in spec["containers"]:  # the step and the XCom sidecar
            sc = container["securityContext"]
            assert sc["runAsNonRoot"] is True, (key, container["name"])
            assert sc["readOnlyRootFilesystem"] is True, (key, container["name"])
            assert sc["allowPrivilegeEscalation"] is False, (key, container["name"])
            assert sc["capabilities"] == {"drop": ["ALL"]}, (key, container["name"])
            res = container["resources"]
            assert {"cpu", "memory"} <= set(res["requests"]) and {"cpu", "memory"} <= set(res["limits"])
        main = spec["containers"][0]
        mounts = {m["mountPath"]: m["name"] for m in main["volumeMounts"]}
        assert {"/tmp", "/var/lib/harmwatch", "/airflow/xcom"} <= set(mounts), key
        volumes = {v["name"]: v for v in spec["volumes"]}
        for path in ("/tmp", "/var/lib/harmwatch"):
            assert "emptyDir" in volumes[mounts[path]], (key, path)
        assert [c["name"] for c in spec["containers"]] == ["base", "airflow-xcom-sidecar"]

    bag = dagbag("kubernetes", **ENV)
    for dag_id, steps in STEP_TASKS.items():
        for task_id in steps:
            task = bag.dags[dag_id].get_task(task_id)
            assert task.on_finish_action.value == "delete_pod"
            assert task.do_xcom_push is True
            assert task.termination_message_policy == "FallbackToLogsOnError"
    train = bag.dags["harmful_content_retrain"].get_task("train").container_resources
    ingest = bag.dags["harmful_content_retrain"].get_task("ingest").container_resources
    assert train.limits["memory"] != ingest.limits["memory"], "resources are sized per step"

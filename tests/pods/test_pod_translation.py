"""What devstack.pods changes in an operator's pod before Podman plays it, and how dagpods walks a DAG.

Offline: the pods come from the real DAG (kubernetes runner), built as the chain test builds them.
"""

from __future__ import annotations

import base64
import copy

import pytest

from devstack import dagpods, pods

WORKER_ENV = {
    "HARMWATCH_RUNNER": "kubernetes",
    "HARMWATCH_IMAGE": "localhost/harmwatch/job:0123abc",
    "HARMWATCH_IMAGE_PULL_SECRETS": "hw-registry",
    "HARMWATCH_XCOM_SIDECAR_IMAGE": "localhost/harmwatch-base/python:3.12",
    "HARMWATCH_SPARK_STEPS": "none",  # no Spark operator here: every step is a pod
}


@pytest.fixture(scope="module")
def ingest_pod() -> dict:
    dag = dagpods.load_dag("harmful_content_retrain", WORKER_ENV)
    task = dag.get_task("ingest")
    ti = dagpods.TaskInstance(dag.dag_id, task.task_id, {})
    context = {"ds": "2026-01-02", "params": dag.params.validate(), "run_id": "r1", "dag": dag, "task": task}
    return dagpods.build_pod(dag, task, {**context, "ti": ti})


def test_the_operator_pod_is_played_unchanged_but_for_the_listed_fields(ingest_pod) -> None:
    original = copy.deepcopy(ingest_pod)
    played = pods.for_podman(ingest_pod, host_network=True)
    assert ingest_pod == original, "the operator's pod is not modified"
    assert original["spec"]["imagePullSecrets"] == [{"name": "hw-registry"}]
    assert original["spec"]["hostNetwork"] is False and played["spec"]["hostNetwork"] is True
    for key in pods.DROPPED_SPEC_FIELDS:
        assert key not in played["spec"]
    rest = {k: v for k, v in played["spec"].items() if k != "hostNetwork"}
    kept = {k: v for k, v in original["spec"].items() if k not in (*pods.DROPPED_SPEC_FIELDS, "hostNetwork")}
    assert rest == kept
    assert played["metadata"] == original["metadata"]
    main, sidecar = played["spec"]["containers"]
    assert main["image"] == WORKER_ENV["HARMWATCH_IMAGE"] and main["args"] == ["ingest", "--date=2026-01-02"]
    assert sidecar["name"] == pods.SIDECAR and sidecar["image"] == WORKER_ENV["HARMWATCH_XCOM_SIDECAR_IMAGE"]
    # The labels an operator adds for its task instance are there (the chain test plays them).
    labels = played["metadata"]["labels"]
    assert labels["dag_id"] == "harmful_content_retrain" and labels["task_id"] == "ingest"
    assert labels["kubernetes_pod_operator"] == "True" and labels["harmwatch/step"] == "ingest"
    assert pods.for_podman(ingest_pod)["spec"]["hostNetwork"] is False, "host network only when asked"


def test_secret_is_the_kubectl_shape() -> None:
    manifest = pods.secret("hw", {"A": "x y", "B": ""})
    assert manifest["kind"] == "Secret" and manifest["type"] == "Opaque"
    assert {k: base64.b64decode(v).decode() for k, v in manifest["data"].items()} == {"A": "x y", "B": ""}


@pytest.mark.parametrize(
    ("rule", "upstream", "expected"),
    [
        ("all_success", ["success"], None),
        ("all_success", ["skipped"], "skipped"),
        ("all_success", ["failed"], "upstream_failed"),
        ("all_success", ["upstream_failed"], "upstream_failed"),
        ("none_failed", ["skipped"], None),
        ("none_failed", ["success"], None),
        ("none_failed", ["failed"], "upstream_failed"),
        ("none_failed_min_one_success", ["success", "skipped"], None),
        ("none_failed_min_one_success", ["skipped", "skipped"], "skipped"),
        ("none_failed_min_one_success", ["success", "failed"], "upstream_failed"),
    ],
)
def test_trigger_rules(rule: str, upstream: list[str], expected: str | None) -> None:
    assert dagpods._runs(rule, upstream) == expected


def test_an_unknown_trigger_rule_is_refused() -> None:
    with pytest.raises(NotImplementedError):
        dagpods._runs("one_failed", ["failed"])

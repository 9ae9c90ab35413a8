"""No secret material ever reaches a rendered manifest: credentials are only secretKeyRef references."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.deploy.deploy_support import (
    AIRFLOW_VALUES,
    PRODUCTION_VALUES,
    Manifest,
    containers,
    helm_template,
    pod_specs,
    render,
)

PLANTED = "pl4nted-S3cret-9f1c7e"
CREDENTIAL_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL|_KEY$|_KEY_ID$|DATABASE_URI|STORE_URI", re.I)


def _walk_strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*_walk_strings(k), *_walk_strings(v))]
    if isinstance(node, list):
        return [s for item in node for s in _walk_strings(item)]
    return [node] if isinstance(node, str) else []


@pytest.mark.parametrize(
    "planted",
    [
        # A value that would otherwise sit inline next to its consumer.
        f"jobs.extraConfig.HARMWATCH_PSEUDONYM_KEY={PLANTED}",
        f"jobs.extraConfig.AWS_SECRET_ACCESS_KEY={PLANTED}",
        f"jobs.extraConfig.HARMWATCH_DB_PASSWORD={PLANTED}",
        f"mlflow.extraEnv[0].name=MLFLOW_TRACKING_PASSWORD,mlflow.extraEnv[0].value={PLANTED}",
        f"mlflow.extraEnv[0].name=MLFLOW_BACKEND_STORE_URI,mlflow.extraEnv[0].value=postgresql://u:{PLANTED}@db/x",
        # Keys a reader might expect from other charts: the schema has no place for them.
        f"mlflow.adminPassword={PLANTED}",
        f"mlflow.auth.adminPassword={PLANTED}",
        f"mlflow.backendStoreUri=postgresql://mlflow:{PLANTED}@db:5432/mlflow",
        f"s3.secretAccessKey={PLANTED}",
    ],
)
def test_planted_secret_is_refused_and_never_rendered(planted: str) -> None:
    proc = helm_template(values=[PRODUCTION_VALUES], sets=[planted], check=False)
    assert proc.returncode != 0, f"--set {planted.split('=')[0]} was accepted"
    assert PLANTED not in proc.stdout
    assert PLANTED not in proc.stderr, "error messages must not echo the secret value"


def test_planted_secret_names_appear_only_as_references() -> None:
    """Secret names/keys set by the user end up as secretKeyRef, never as values of env vars."""
    sets = [
        f"mlflow.existingSecret=mlflow-{PLANTED.lower()}",
        f"jobs.existingSecret=jobs-{PLANTED.lower()}",
        f"mlflow.secretKeys.adminPassword=key-{PLANTED.lower()}",
    ]
    manifests = [doc for doc in yaml.safe_load_all(helm_template(sets=sets).stdout) if doc]
    for _, spec in pod_specs(manifests):
        for c in containers(spec):
            for env in c.get("env", []):
                assert PLANTED.lower() not in str(env.get("value", "")), env
    refs = [
        e["valueFrom"]["secretKeyRef"]
        for _, spec in pod_specs(manifests)
        for c in containers(spec)
        for e in c.get("env", [])
        if "valueFrom" in e
    ]
    assert {"name": f"mlflow-{PLANTED.lower()}", "key": f"key-{PLANTED.lower()}"} in refs


@pytest.mark.parametrize("case", ["default", "production"])
def test_credentials_only_via_secret_key_ref(case: str) -> None:
    manifests: list[Manifest] = render(case)
    assert not [m for m in manifests if m["kind"] == "Secret"]
    for name, spec in pod_specs(manifests):
        for c in containers(spec):
            for env in c.get("env", []):
                if CREDENTIAL_NAME.search(env["name"]):
                    assert "value" not in env, f"{name}/{c['name']}: {env['name']} is inline"
                    assert set(env["valueFrom"]) == {"secretKeyRef"}, f"{name}/{c['name']}: {env['name']}"
    for cm in (m for m in manifests if m["kind"] == "ConfigMap"):
        for key, value in cm.get("data", {}).items():
            is_reference = key.endswith("_SECRET_NAME")  # the name of a Secret, not its content
            assert is_reference or not CREDENTIAL_NAME.search(key), (
                f"ConfigMap {cm['metadata']['name']} has {key}"
            )
            assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", value), f"credentials in a URI in {key}"


def _walk_keys(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [k for k, v in node.items() for k in (k, *_walk_keys(v))]
    if isinstance(node, list):
        return [k for item in node for k in _walk_keys(item)]
    return []


def test_values_files_hold_no_secret_material() -> None:
    """values files name Secrets; they never carry passwords, keys or credentialed URIs."""
    inline_keys = {
        "password",
        "pass",
        "fernetKey",
        "jwtSecret",
        "apiSecretKey",
        "webserverSecretKey",
        "connection",
        "metadataConnection",
        "brokerUrl",
    }
    for path in (PRODUCTION_VALUES, AIRFLOW_VALUES, PRODUCTION_VALUES.parent / "harmwatch" / "values.yaml"):
        data = yaml.safe_load(path.read_text())
        for s in _walk_strings(data):
            assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", s), f"{path.name}: credentialed URI {s}"
            assert not re.search(r"BEGIN [A-Z ]*PRIVATE KEY|AKIA[0-9A-Z]{16}", s), f"{path.name}: {s[:20]}"
        assert not inline_keys & set(_walk_keys(data)), f"{path.name}: {inline_keys & set(_walk_keys(data))}"

"""helm/airflow-values.yaml against the official Airflow chart values schema, and its wiring to harmwatch."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.deploy_support import AIRFLOW_VALUES, one, render, shared_schema


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(shared_schema("airflow-chart-values.schema.json").read_text())


@pytest.fixture
def values() -> dict[str, Any]:
    return yaml.safe_load(AIRFLOW_VALUES.read_text())


def _errors(schema: dict[str, Any], values: dict[str, Any]) -> list[str]:
    validator_cls = jsonschema.validators.validator_for(schema)
    validator_cls.check_schema(schema)
    validator = validator_cls(schema, format_checker=validator_cls.FORMAT_CHECKER)
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in sorted(validator.iter_errors(values), key=lambda e: list(e.absolute_path))
    ]


def test_airflow_values_validate_against_the_chart_schema(
    schema: dict[str, Any], values: dict[str, Any]
) -> None:
    assert _errors(schema, values) == []


def test_top_level_keys_are_known_to_the_chart(schema: dict[str, Any], values: dict[str, Any]) -> None:
    # The chart schema leaves the root open, so a typo at the top level would pass silently.
    assert set(values) <= set(schema["properties"]), set(values) - set(schema["properties"])


def test_schema_check_is_not_vacuous(schema: dict[str, Any], values: dict[str, Any]) -> None:
    values["workers"]["serviceAccount"]["create"] = "no"
    values["images"]["airflow"]["tagg"] = "x"
    assert len(_errors(schema, values)) >= 2


def test_kubernetes_executor_with_the_harmwatch_image(values: dict[str, Any]) -> None:
    assert values["executor"] == "KubernetesExecutor"
    image = values["images"]["airflow"]
    assert image["repository"].endswith("/airflow")
    assert image["tag"] and image["tag"] != "latest"
    assert values["defaultAirflowTag"] != "latest"


def test_harmwatch_settings_come_from_the_chart_configmap(values: dict[str, Any]) -> None:
    assert {"name": "HARMWATCH_RUNNER", "value": "kubernetes"} in values["env"]
    env_from = yaml.safe_load(values["extraEnvFrom"])
    config_maps = [e["configMapRef"]["name"] for e in env_from if "configMapRef" in e]
    chart = render("default")
    assert config_maps == ["harmwatch-config"]
    one(chart, "ConfigMap", "harmwatch-config")  # rendered by the harmwatch chart


def test_workers_run_as_the_pod_launcher_service_account(values: dict[str, Any]) -> None:
    sa = values["workers"]["serviceAccount"]
    assert sa["create"] is False
    chart = render("default")
    one(chart, "ServiceAccount", sa["name"])
    binding = one(chart, "RoleBinding", "harmwatch-pod-launcher")
    assert sa["name"] in [s["name"] for s in binding["subjects"]]


def test_secrets_come_from_existing_kubernetes_secrets(values: dict[str, Any]) -> None:
    assert values["data"] == {"metadataSecretName": "airflow-metadata"}
    for key in ("fernetKeySecretName", "apiSecretKeySecretName", "jwtSecretName"):
        assert values[key], key
    for key in ("fernetKey", "jwtSecret", "apiSecretKey", "webserverSecretKey"):
        assert key not in values, f"{key} would put the secret in the values file"
    for item in values["secret"]:
        assert item["envName"].startswith("AIRFLOW_CONN_") and item["secretName"]
    assert values["apiServer"]["defaultUser"]["enabled"] is False, "no admin/admin default user"


def test_production_dependencies_are_external(values: dict[str, Any]) -> None:
    assert values["postgresql"]["enabled"] is False
    assert values["redis"]["enabled"] is False


def test_airflow_pods_are_hardened_and_bounded(values: dict[str, Any]) -> None:
    pod = values["securityContexts"]["pod"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] == 50000
    assert pod["seccompProfile"]["type"] == "RuntimeDefault"
    container = values["securityContexts"]["container"]
    assert container["allowPrivilegeEscalation"] is False and container["capabilities"]["drop"] == ["ALL"]
    for component in ("scheduler", "apiServer", "dagProcessor", "triggerer", "workers", "migrateDatabaseJob"):
        res = values[component]["resources"]
        assert {"cpu", "memory"} <= set(res["requests"]) and {"cpu", "memory"} <= set(res["limits"]), (
            component
        )

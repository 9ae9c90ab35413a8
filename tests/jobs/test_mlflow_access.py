"""MLflow auth end to end: anonymous requests are refused, the pipeline user can do what the steps do and
nothing more. Against the session's MLflow server (``basic-auth`` app, users set up by
``harmwatch mlflow-access`` as the admin; see tests/conftest.py)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from base64 import b64encode

import pytest

from harmwatch.config import MODEL_NAME
from harmwatch.steps.mlflow_access import MONITORING_EXPERIMENT, grants
from tests.conftest import grant_pipeline_access, run_cli

pytestmark = pytest.mark.server


def call(server, path: str, user: tuple[str, str] | None, body: dict | None = None, method: str = "") -> int:
    headers = {"Content-Type": "application/json"}
    if user is not None:
        headers["Authorization"] = "Basic " + b64encode(f"{user[0]}:{user[1]}".encode()).decode()
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server.uri + path, data=data, headers=headers, method=method or None)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def test_anonymous_and_wrong_credentials_get_401(mlflow_server):
    for path in (
        "/api/2.0/mlflow/experiments/search?max_results=1",
        "/api/2.0/mlflow/registered-models/search",
    ):
        assert call(mlflow_server, path, None) == 401, path
        assert call(mlflow_server, path, (mlflow_server.pipeline[0], "wrong")) == 401, path
        assert call(mlflow_server, path, mlflow_server.pipeline) == 200, path
    assert call(mlflow_server, "/", None) == 401, "the UI asks for a login too"
    assert call(mlflow_server, "/health", None) == 200, "probes need no credentials"


def test_the_pipeline_user_can_do_what_the_steps_do(mlflow_server):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server.uri, registry_uri=mlflow_server.uri)
    for experiment in ("harmwatch", MONITORING_EXPERIMENT):
        exp = client.get_experiment_by_name(experiment)
        run = client.create_run(exp.experiment_id)
        client.log_metric(run.info.run_id, "macro_f1", 0.9)
        client.log_text(run.info.run_id, "evidence", "evaluation/decision.json")
        client.set_terminated(run.info.run_id)
    version = client.create_model_version(MODEL_NAME, f"runs:/{run.info.run_id}/model", run.info.run_id)
    client.set_model_version_tag(MODEL_NAME, version.version, "harmwatch.decision", "promote")
    client.update_model_version(MODEL_NAME, version.version, description="## decision: promote")
    # Aliases and model tags as promote sets them (own names: other tests share this server's model).
    client.set_registered_model_alias(MODEL_NAME, "access-test", version.version)
    client.set_registered_model_tag(MODEL_NAME, "harmwatch.access_test", "{}")
    assert client.get_model_version_by_alias(MODEL_NAME, "access-test").version == version.version


@pytest.mark.parametrize(
    ("what", "path", "body", "method"),
    [
        ("create a user", "/api/2.0/mlflow/users/create", {"username": "eve", "password": "x" * 12}, "POST"),
        (
            "make itself admin",
            "/api/2.0/mlflow/users/update-admin",
            {"username": "harmwatch-pipeline", "is_admin": True},
            "PATCH",
        ),
        (
            "grant itself more",
            "/api/3.0/mlflow/users/permissions/grant",
            {
                "username": "harmwatch-pipeline",
                "resource_type": "registered_model",
                "resource_id": MODEL_NAME,
                "permission": "MANAGE",
            },
            "POST",
        ),
        ("delete the model", "/api/2.0/mlflow/registered-models/delete", {"name": MODEL_NAME}, "DELETE"),
        (
            "touch another model",
            "/api/2.0/mlflow/registered-models/set-tag",
            {"name": "other-team-model", "key": "k", "value": "v"},
            "POST",
        ),
    ],
)
def test_the_pipeline_user_cannot_do_more(mlflow_server, what, path, body, method):
    admin = mlflow_server.admin
    assert call(
        mlflow_server, "/api/2.0/mlflow/registered-models/create", admin, {"name": "other-team-model"}
    ) in (200, 400)
    assert call(mlflow_server, path, mlflow_server.pipeline, body, method) == 403, what


def test_grants_are_exactly_the_least_the_steps_need_and_rerunning_is_harmless(mlflow_server):
    assert grants(MODEL_NAME) == [
        ("experiment", "harmwatch", "EDIT"),
        ("experiment", MONITORING_EXPERIMENT, "EDIT"),
        ("registered_model", MODEL_NAME, "EDIT"),
    ]
    again = grant_pipeline_access(mlflow_server)
    assert again["created"] is False and len(again["granted"]) == 3
    # The pipeline user cannot run it: granting needs an admin (one line, exit 2).
    password_file = mlflow_server.root / "pipeline-password"
    proc = run_cli(
        "mlflow-access",
        "--password-file",
        str(password_file),
        "--user",
        "someone-else",
        env={"HARMWATCH_MLFLOW_TRACKING_URI": mlflow_server.uri},
    )
    assert proc.returncode == 2 and "must be an MLflow admin" in proc.stderr, proc.stderr
    assert proc.stderr.strip().count("\n") == 0


def test_refused_credentials_are_one_line_at_once(mlflow_server, hw_env):
    """A wrong password is not an outage: no retries, one line naming the variables to fix."""
    env = {"HARMWATCH_MLFLOW_TRACKING_URI": mlflow_server.uri, "MLFLOW_TRACKING_PASSWORD": "wrong"}
    proc = run_cli("promote", env=env, timeout=60)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "refused the credentials of user harmwatch-pipeline" in proc.stderr
    assert "MLFLOW_TRACKING_PASSWORD" in proc.stderr and "wrong" not in proc.stderr

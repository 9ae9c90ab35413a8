"""Give the pipeline its MLflow user, with only the permissions the steps need. Run as the MLflow admin.

The MLflow server runs the ``basic-auth`` app: every request needs a user, and a user who did not create a
resource gets the server's ``default_permission`` on it (``READ`` in the chart). The steps authenticate as
one non-admin user (``--user``, default ``harmwatch-pipeline``). This command, run with the admin's
credentials in ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD``:

1. creates that user with the password in ``--password-file`` (or sets the password if the user exists)
   and makes sure it is not an admin;
2. creates, as the admin, what the steps write to: experiments ``harmwatch`` and ``harmwatch-monitoring``
   and registered model ``harmful-content`` (so the pipeline does not own them, and cannot delete them or
   hand out permissions on them);
3. grants the user ``EDIT`` on exactly those three (:data:`GRANTS`): create runs and log to them, register
   versions, set tags, aliases and descriptions. Nothing else: it cannot manage users or permissions,
   delete the model or its versions, or write to any other experiment or model.

Idempotent; the chart runs it as a post-install/upgrade hook, ``make up`` and the tests run it after they
start a server. The password comes from a file (a mounted Secret, or the generated file under
``$HARMWATCH_HOME/run/``), never from a command line.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harmwatch.config import Settings
from harmwatch.errors import HarmwatchError, ServiceUnavailable
from harmwatch.registry import EXPERIMENT

PIPELINE_USER = "harmwatch-pipeline"
MONITORING_EXPERIMENT = "harmwatch-monitoring"  # harmwatch metrics writes its time series there


def grants(model_name: str) -> list[tuple[str, str, str]]:
    """(resource type, name, permission) the pipeline user needs: the least that lets every step run."""
    return [
        ("experiment", EXPERIMENT, "EDIT"),
        ("experiment", MONITORING_EXPERIMENT, "EDIT"),
        ("registered_model", model_name, "EDIT"),
    ]


class AdminClient:
    """The few MLflow REST calls this command makes, with the admin's credentials, one line per failure."""

    def __init__(self, settings: Settings) -> None:
        import requests

        self.base = settings.mlflow_tracking_uri.rstrip("/")
        self.session = requests.Session()
        self.session.auth = (
            settings.mlflow_tracking_username,
            settings.mlflow_tracking_password.get_secret_value(),
        )
        self.timeout = settings.mlflow_request_timeout

    def call(self, method: str, path: str, ok: tuple[int, ...] = (200,), **kwargs: Any) -> tuple[int, dict]:
        import requests

        try:
            resp = self.session.request(method, self.base + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise ServiceUnavailable(f"MLflow at {self.base} unreachable: {type(exc).__name__}") from None
        if resp.status_code == 401:
            raise HarmwatchError(f"MLflow at {self.base} refused the credentials in MLFLOW_TRACKING_USERNAME")
        if resp.status_code == 403:
            raise HarmwatchError(f"{path}: MLFLOW_TRACKING_USERNAME must be an MLflow admin to grant access")
        body = resp.json() if resp.content and "json" in resp.headers.get("content-type", "") else {}
        if resp.status_code not in ok:
            message = body.get("message") or resp.text[:200]
            raise HarmwatchError(f"MLflow {method} {path} answered {resp.status_code}: {message}")
        return resp.status_code, body


def ensure_user(admin: AdminClient, user: str, password: str) -> bool:
    """Create the user (True) or set its password (False); either way it is not an admin."""
    code, body = admin.call(
        "POST", "/api/2.0/mlflow/users/create", ok=(200, 400), json={"username": user, "password": password}
    )
    created = code == 200
    if not created:
        if body.get("error_code") != "RESOURCE_ALREADY_EXISTS":
            raise HarmwatchError(f"cannot create MLflow user {user!r}: {body.get('message')}")
        admin.call(
            "PATCH", "/api/2.0/mlflow/users/update-password", json={"username": user, "password": password}
        )
    _, found = admin.call("GET", "/api/2.0/mlflow/users/get", params={"username": user})
    if found.get("user", {}).get("is_admin"):
        admin.call("PATCH", "/api/2.0/mlflow/users/update-admin", json={"username": user, "is_admin": False})
    return created


def ensure_resource(admin: AdminClient, kind: str, name: str) -> str:
    """The id the permission API wants (experiment id, model name), creating the resource as the admin."""
    if kind == "experiment":
        code, body = admin.call(
            "GET", "/api/2.0/mlflow/experiments/get-by-name", ok=(200, 404), params={"experiment_name": name}
        )
        if code == 200:
            experiment = body["experiment"]
            if experiment.get("lifecycle_stage") == "deleted":
                raise HarmwatchError(f"experiment {name!r} is deleted; restore it in the MLflow UI first")
            return experiment["experiment_id"]
        return admin.call("POST", "/api/2.0/mlflow/experiments/create", json={"name": name})[1][
            "experiment_id"
        ]
    code, _ = admin.call("GET", "/api/2.0/mlflow/registered-models/get", ok=(200, 404), params={"name": name})
    if code == 404:
        admin.call("POST", "/api/2.0/mlflow/registered-models/create", json={"name": name})
    return name


def grant(admin: AdminClient, body: dict[str, str]) -> None:
    """Set exactly this permission: a grant that exists (maybe at another level) is replaced."""
    code, answer = admin.call("POST", "/api/3.0/mlflow/users/permissions/grant", ok=(200, 400), json=body)
    if code == 400:
        if "already exists" not in str(answer.get("message")):
            raise HarmwatchError(
                f"cannot grant {body['permission']} on {body['resource_id']}: {answer.get('message')}"
            )
        revoke = {k: v for k, v in body.items() if k != "permission"}
        admin.call("POST", "/api/3.0/mlflow/users/permissions/revoke", json=revoke)
        admin.call("POST", "/api/3.0/mlflow/users/permissions/grant", json=body)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", default=PIPELINE_USER, help="the pipeline's MLflow user")
    parser.add_argument(
        "--password-file", type=Path, required=True, help="file holding that user's password (a Secret)"
    )


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    if not settings.mlflow_tracking_uri.startswith(("http://", "https://")):
        raise HarmwatchError(f"{settings.mlflow_tracking_uri} is not an MLflow server; nothing to grant")
    if not settings.mlflow_tracking_username:
        raise HarmwatchError("MLFLOW_TRACKING_USERNAME is not set: run this as the MLflow admin")
    if args.user == settings.mlflow_tracking_username:
        raise HarmwatchError(f"--user {args.user} is the admin running this; the pipeline needs its own user")
    try:
        password = args.password_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise HarmwatchError(f"cannot read --password-file {args.password_file}: {exc.strerror}") from None
    if not password:
        raise HarmwatchError(f"--password-file {args.password_file} is empty")
    admin = AdminClient(settings)
    created = ensure_user(admin, args.user, password)
    granted = []
    for kind, name, permission in grants(settings.model_name):
        resource_id = ensure_resource(admin, kind, name)
        body = {
            "username": args.user,
            "resource_type": kind,
            "resource_id": resource_id,
            "permission": permission,
        }
        grant(admin, body)
        granted.append(f"{permission} on {kind} {name}")
    return {"mlflow": admin.base, "user": args.user, "created": created, "granted": granted}

"""The MLflow server of `make up`: the ``basic-auth`` app on the demo's store, with generated credentials.

`make demo` writes the registry straight into its embedded SQLite store (no server: one foreground
command, and the store is a file only its owner can open). `make up` serves that store through
``mlflow server --app-name basic-auth`` on 127.0.0.1, as the chart does in production:

- credentials are generated once into ``$HARMWATCH_HOME/run/`` (mode 0600): the admin's password
  (``mlflow-admin-password.txt``, for a person logging in to the UI), the pipeline user's
  (``mlflow-pipeline-password.txt``) and the server's Flask secret key; users live in
  ``$HARMWATCH_HOME/mlflow/basic_auth.db``;
- :func:`serve` replaces itself with the server, its secrets in its environment (never on a command line);
- :func:`grant` runs ``harmwatch mlflow-access`` as the admin, so the steps Airflow starts authenticate as
  the non-admin pipeline user (:func:`step_env`, which ``scripts/up.sh`` exports to Airflow).

As a command: ``python -m devstack.mlflow env|serve|grant`` (``scripts/up.sh`` uses all three).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import sys
from pathlib import Path

from devstack.config import StackConfig
from harmwatch.config import settings_for

ADMIN, PIPELINE = "admin", "harmwatch-pipeline"
BIN = Path(sys.executable).parent


def _secret(path: Path) -> str:
    """A generated secret kept in ``path`` (mode 0600), created the first time."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(18))
    return path.read_text().strip()


def files(home: Path) -> dict[str, Path]:
    run = home / "run"
    return {
        "admin": run / "mlflow-admin-password.txt",
        "pipeline": run / "mlflow-pipeline-password.txt",
        "flask": run / "mlflow-flask-secret.txt",
        "ini": run / "mlflow-basic-auth.ini",
        "users": home / "mlflow" / "basic_auth.db",
    }


def server_env(home: Path) -> dict[str, str]:
    """What ``mlflow server --app-name basic-auth`` needs besides the parent's environment."""
    paths = files(home)
    paths["users"].parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(paths["ini"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(
            "[mlflow]\ndefault_permission = READ\n"
            f"database_uri = sqlite:///{paths['users']}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        )
    return {
        "MLFLOW_AUTH_CONFIG_PATH": str(paths["ini"]),
        "MLFLOW_AUTH_ADMIN_USERNAME": ADMIN,
        "MLFLOW_AUTH_ADMIN_PASSWORD": _secret(paths["admin"]),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": _secret(paths["flask"]),
    }


def step_env(home: Path, port: int) -> dict[str, str]:
    """What the steps Airflow starts need to reach the server as the pipeline user."""
    return {
        "HARMWATCH_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}",
        "MLFLOW_TRACKING_USERNAME": PIPELINE,
        "MLFLOW_TRACKING_PASSWORD": _secret(files(home)["pipeline"]),
    }


def serve(home: Path, port: int, tracking_uri: str, artifacts: str) -> None:
    """Become ``mlflow server --app-name basic-auth`` on 127.0.0.1 (this process's PID is the server's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
    env.update(server_env(home))
    args = [
        "server",
        "--app-name",
        "basic-auth",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    args += ["--backend-store-uri", tracking_uri, "--default-artifact-root", artifacts]
    os.execve(str(BIN / "mlflow"), [str(BIN / "mlflow"), *args], env)


def grant(home: Path, port: int) -> dict:
    """``harmwatch mlflow-access`` as the admin: the pipeline user and its permissions."""
    from harmwatch.steps import mlflow_access

    settings = settings_for(
        {
            "HARMWATCH_HOME": str(home),
            "HARMWATCH_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}",
            "MLFLOW_TRACKING_USERNAME": ADMIN,
            "MLFLOW_TRACKING_PASSWORD": _secret(files(home)["admin"]),
        }
    )
    _secret(files(home)["pipeline"])  # generated here the first time
    args = argparse.Namespace(user=PIPELINE, password_file=files(home)["pipeline"])
    return mlflow_access.run(settings, args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("env", "serve", "grant"))
    parser.add_argument("--tracking-uri", default="")
    parser.add_argument("--artifacts", default="")
    args = parser.parse_args(argv)
    stack = StackConfig.from_env()
    home = settings_for(os.environ).home
    if args.command == "env":
        for key, value in step_env(home, stack.mlflow_port).items():
            print(f"export {key}={shlex.quote(value)}")
    elif args.command == "serve":
        serve(home, stack.mlflow_port, args.tracking_uri, args.artifacts)
    else:
        granted = grant(home, stack.mlflow_port)
        print(f"MLflow user {granted['user']}: {'; '.join(granted['granted'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

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

:func:`auth_ini` and :func:`server_argv` are the one description of the auth server that `make up`, the
tests and the benchmark start (the chart's ``basic_auth.ini`` is checked against :func:`auth_ini`).
The server keeps each verified credential for :data:`CREDENTIAL_CACHE_SECONDS`: MLflow's default
password hash (scrypt) costs about 0.1 CPU-second per check, and the basic-auth app checks the password
up to three times per request, so without the cache a step's every API call costs the server a third of
a CPU-second (docs/security.md).

As a command: ``python -m devstack.mlflow env|serve|grant`` (``scripts/up.sh`` uses all three).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

from devstack.config import StackConfig
from harmwatch.config import settings_for

ADMIN, PIPELINE = "admin", "harmwatch-pipeline"
BIN = Path(sys.executable).parent
# How long the server trusts a verified username and password without hashing it again (0: never). A
# password change or a deleted user takes effect at once on the server process that made the change,
# elsewhere (other workers, other replicas, a change made in the user database directly) within this.
CREDENTIAL_CACHE_SECONDS = 60
CREDENTIAL_CACHE_ENTRIES = 1000  # verified credentials kept at most (least recently used go first)


def auth_ini(database_uri: str, cache_seconds: int = CREDENTIAL_CACHE_SECONDS) -> str:
    """``basic_auth.ini``: users in ``database_uri``, verified credentials cached ``cache_seconds``.

    The cache is MLflow's own (``auth_cache_ttl_seconds``): keyed by the username and an HMAC of the
    password under a key drawn at each start, holding successes only, emptied for a user by MLflow's
    update-password, update-admin and delete-user endpoints.
    """
    return (
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = {database_uri.replace('%', '%%')}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "grant_default_workspace_access = false\n"
        f"auth_cache_ttl_seconds = {int(cache_seconds)}\n"
        f"auth_cache_max_size = {CREDENTIAL_CACHE_ENTRIES}\n"
    )


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` readable by its owner only (mode 0600): configs that hold secrets."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return path


def server_argv(
    port: int,
    backend_uri: str,
    *,
    artifacts_destination: str | None = None,
    default_artifact_root: str | None = None,
) -> list[str]:
    """``mlflow server --app-name basic-auth`` on 127.0.0.1 with one worker (one credential cache).

    Artifacts are proxied to ``artifacts_destination``, or clients write them to
    ``default_artifact_root`` themselves.
    """
    argv = [str(BIN / "mlflow"), "server", "--app-name", "basic-auth", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--workers", "1", "--backend-store-uri", backend_uri]
    if artifacts_destination:
        argv += ["--artifacts-destination", artifacts_destination]
    if default_artifact_root:
        argv += ["--default-artifact-root", default_artifact_root]
    return argv


def _secret(path: Path) -> str:
    """A generated secret kept in ``path`` (mode 0600), created the first time."""
    if not path.is_file():
        write_private(path, secrets.token_urlsafe(18))
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
    write_private(paths["ini"], auth_ini(f"sqlite:///{paths['users']}"))
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
    argv = server_argv(port, tracking_uri, default_artifact_root=artifacts)
    os.execve(argv[0], argv, env)


def grant(home: Path, port: int) -> dict:
    """``harmwatch mlflow-access`` as the admin: the pipeline user and its permissions (its summary)."""
    from harmwatch.cli import parse_summary

    env = {
        **os.environ,
        "HARMWATCH_HOME": str(home),
        "HARMWATCH_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}",
        "MLFLOW_TRACKING_USERNAME": ADMIN,
        "MLFLOW_TRACKING_PASSWORD": _secret(files(home)["admin"]),
    }
    _secret(files(home)["pipeline"])  # generated here the first time
    command = [str(Path(sys.executable).parent / "harmwatch"), "mlflow-access", "--user", PIPELINE]
    command += ["--password-file", str(files(home)["pipeline"])]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(
            done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "mlflow-access failed"
        )
    return parse_summary(done.stdout)


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

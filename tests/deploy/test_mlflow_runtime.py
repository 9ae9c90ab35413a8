"""Run what the chart renders: the basic_auth.ini renderer, the helm test probe, the MLflow command line.

The MLflow server runs on 127.0.0.1 with SQLite in place of PostgreSQL and a local folder in place
of S3; everything else (arguments, environment names, auth config) is taken from the rendered
Deployment, so a wrong flag or env name fails here rather than in a cluster.
"""

from __future__ import annotations

import base64
import configparser
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.deploy_support import Manifest, one, render, venv_tool

ADMIN, ADMIN_PASSWORD = "admin", "Adm1n-pass-for-tests-only"


@pytest.fixture(scope="module")
def chart() -> list[Manifest]:
    return render("default")


def _write_auth_files(chart: list[Manifest], directory: Path) -> tuple[Path, Path]:
    data = one(chart, "ConfigMap", "harmwatch-mlflow-auth")["data"]
    template = directory / "basic_auth.ini.tmpl"
    script = directory / "render_auth_config.py"
    template.write_text(data["basic_auth.ini.tmpl"])
    script.write_text(data["render_auth_config.py"])
    return template, script


def _render_ini(chart: list[Manifest], directory: Path, database_uri: str) -> Path:
    """Run the init container's command (paths mapped into `directory`) with the Secret's env."""
    spec = one(chart, "Deployment", "harmwatch-mlflow")["spec"]["template"]["spec"]
    init = spec["initContainers"][0]
    template, script = _write_auth_files(chart, directory)
    out = directory / "basic_auth.ini"
    mapping = {
        "/etc/mlflow-auth-template/render_auth_config.py": str(script),
        "/etc/mlflow-auth-template/basic_auth.ini.tmpl": str(template),
        "/etc/mlflow-auth/basic_auth.ini": str(out),
    }
    cmd = [sys.executable if c == "python" else mapping.get(c, c) for c in init["command"]]
    env_names = [e["name"] for e in init["env"]]
    assert env_names == ["MLFLOW_AUTH_DATABASE_URI"]
    subprocess.run(
        cmd,
        check=True,
        capture_output=True,
        timeout=30,
        env={**os.environ, "MLFLOW_AUTH_DATABASE_URI": database_uri},
    )
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    return out


def _mlflow_auth_config_module() -> Any:
    """mlflow.server.auth.config loaded on its own: the package __init__ needs Flask-WTF and the app."""
    import mlflow

    path = Path(mlflow.__file__).parent / "server" / "auth" / "config.py"
    spec = importlib.util.spec_from_file_location("_mlflow_auth_config", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rendered_auth_config_keeps_percent_escaped_uris_intact(
    chart: list[Manifest], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = "postgresql+psycopg2://mlflow:p%40ss%25word@db.internal:5432/mlflow_auth?sslmode=require"
    ini = _render_ini(chart, tmp_path, uri)
    read_auth_config = _mlflow_auth_config_module().read_auth_config

    monkeypatch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(ini))
    monkeypatch.delenv("MLFLOW_AUTH_ADMIN_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_AUTH_ADMIN_PASSWORD", raising=False)
    config = read_auth_config()
    assert config.database_uri == uri
    assert config.default_permission == "READ"
    assert config.admin_password is None, "the admin password comes from the Secret's env, not the file"
    parser = configparser.ConfigParser()
    parser.read(ini)
    assert parser["mlflow"]["database_uri"] == uri


def test_rendered_auth_config_caches_credentials_as_make_up_and_the_tests_do(
    chart: list[Manifest], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chart's basic_auth.ini is the one `make up` and the tests run (devstack.mlflow.auth_ini), and
    MLflow reads its credential cache from it: a misspelt key would be ignored and every request would
    pay the password hash again."""
    from devstack.mlflow import CREDENTIAL_CACHE_SECONDS, auth_ini

    uri = f"sqlite:///{tmp_path / 'auth.db'}"
    rendered = _render_ini(chart, tmp_path, uri)
    local = tmp_path / "local.ini"
    local.write_text(auth_ini(uri))
    sections = []
    for path in (rendered, local):
        parser = configparser.ConfigParser()
        parser.read(path)
        sections.append(dict(parser["mlflow"]))
    assert sections[0] == sections[1]
    monkeypatch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(rendered))
    config = _mlflow_auth_config_module().read_auth_config()
    assert config.auth_cache_ttl_seconds == CREDENTIAL_CACHE_SECONDS > 0
    assert config.auth_cache_max_size > 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _server_command(chart: list[Manifest], port: int, artifacts: Path) -> tuple[list[str], dict[str, Any]]:
    container = next(
        c
        for c in one(chart, "Deployment", "harmwatch-mlflow")["spec"]["template"]["spec"]["containers"]
        if c["name"] == "mlflow"
    )
    overrides = {
        "--host": "127.0.0.1",
        "--port": str(port),
        "--workers": "1",
        "--artifacts-destination": str(artifacts),
    }
    args = []
    for arg in container["args"]:
        flag = arg.split("=", 1)[0]
        args.append(f"{flag}={overrides[flag]}" if flag in overrides else arg)
    command = [str(venv_tool(container["command"][0])), *args]
    return command, {e["name"]: e for e in container["env"]}


@pytest.fixture
def auth_server(chart: list[Manifest], tmp_path: Path) -> Iterator[str]:
    """`mlflow server` exactly as the Deployment runs it, on 127.0.0.1 with SQLite and a folder."""
    ini = _render_ini(chart, tmp_path, f"sqlite:///{tmp_path / 'auth.db'}")
    port = _free_port()
    command, env_spec = _server_command(chart, port, tmp_path / "artifacts")
    secret_values = {
        "MLFLOW_BACKEND_STORE_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "MLFLOW_AUTH_ADMIN_USERNAME": ADMIN,
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "flask-key-for-tests-only",
        "AWS_ACCESS_KEY_ID": "unused",
        "AWS_SECRET_ACCESS_KEY": "unused",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AWS_"))}
    for name, spec in env_spec.items():
        env[name] = spec["value"] if "value" in spec else secret_values[name]
    env["MLFLOW_AUTH_CONFIG_PATH"] = str(ini)  # the rendered file, mapped out of /etc/mlflow-auth
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"mlflow server exited with {proc.returncode}:\n"
                    f"{(tmp_path / 'server.log').read_text()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"mlflow server did not answer:\n{(tmp_path / 'server.log').read_text()[-3000:]}"
                    )
                time.sleep(0.5)
        yield url
    finally:
        _stop(proc)
        log.close()


def _status(url: str, auth: tuple[str, str] | None = None) -> int:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.server
def test_rendered_mlflow_command_serves_with_auth_and_passes_the_helm_test(
    chart: list[Manifest], auth_server: str
) -> None:
    search = f"{auth_server}/api/2.0/mlflow/experiments/search?max_results=1"
    assert _status(search) == 401, "authentication must be on"
    assert _status(search, (ADMIN, ADMIN_PASSWORD)) == 200
    assert _status(search, (ADMIN, "wrong")) == 401
    # The helm test hook's own command, pointed at this server.
    pod = one(chart, "Pod", "harmwatch-test-mlflow-health")
    command = pod["spec"]["containers"][0]["command"]
    assert command[0] == "python"
    proc = subprocess.run(
        [sys.executable, *command[1:-1], f"{auth_server}/health"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "200 'OK'" in proc.stdout


@pytest.mark.server
def test_rendered_access_hook_gives_the_pipeline_its_user_and_no_more(
    chart: list[Manifest], auth_server: str, tmp_path: Path
) -> None:
    """The hook Job's command and environment, as rendered, against the rendered server: afterwards the
    pipeline user (from the jobs Secret) signs in and may write to its experiment, and still is no admin."""
    job = one(chart, "Job", "harmwatch-mlflow-access")
    [container] = job["spec"]["template"]["spec"]["containers"]
    config = one(chart, "ConfigMap", "harmwatch-config")["data"]
    pipeline, password = "harmwatch-pipeline", "Pipeline-pass-for-tests-only"
    secrets = {
        ("harmwatch-secrets", "MLFLOW_TRACKING_USERNAME"): pipeline,
        ("harmwatch-mlflow", "admin-username"): ADMIN,
        ("harmwatch-mlflow", "admin-password"): ADMIN_PASSWORD,
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "HARMWATCH_", "AWS_"))}
    env.update(config)  # envFrom the ConfigMap: runner kubernetes, the in-cluster MLflow URL...
    env.update(HARMWATCH_MLFLOW_TRACKING_URI=auth_server, HARMWATCH_HOME=str(tmp_path / "home"))
    for e in container["env"]:
        ref = e["valueFrom"]["secretKeyRef"]
        env[e["name"]] = secrets[(ref["name"], ref["key"])]
    password_file = tmp_path / "password"  # the Secret's item, mounted as a file
    password_file.write_text(password)
    args = [
        a.replace("$(PIPELINE_MLFLOW_USER)", env["PIPELINE_MLFLOW_USER"]).replace(
            "/var/run/harmwatch-pipeline/password", str(password_file)
        )
        for a in container["args"]
    ]
    proc = subprocess.run(
        [str(venv_tool(container["command"][0])), *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1])["user"] == pipeline
    search = f"{auth_server}/api/2.0/mlflow/experiments/get-by-name?experiment_name=harmwatch"
    assert _status(search, (pipeline, password)) == 200
    assert _status(f"{auth_server}/api/2.0/mlflow/users/get?username=admin", (pipeline, password)) == 403

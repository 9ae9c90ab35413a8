"""The MLflow server's credential cache, as configured for every server harmwatch starts.

MLflow's basic-auth app checks the password hash (scrypt, about 0.1 CPU-second) up to three times per
request. With ``auth_cache_ttl_seconds`` from :func:`devstack.mlflow.auth_ini` (the chart renders the
same file, tests/deploy/test_mlflow_runtime.py) a verified credential is hashed once per TTL. These
tests count the hash checks of MLflow's own app (tests/jobs/auth_cache_probe.py) and check what a
cache must not change: a wrong password is always refused, and a changed password or a deleted user
stops working at once through MLflow's API, and within the TTL when changed elsewhere.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.mlflow import CREDENTIAL_CACHE_SECONDS, auth_ini, write_private

pytestmark = [pytest.mark.server]

PROBE = Path(__file__).with_name("auth_cache_probe.py")
TTL = CREDENTIAL_CACHE_SECONDS


class Probe:
    """The probe process: each call is one command, answered with its status and hash checks."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.hello = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"auth probe exited with {self.proc.wait()}")
        return json.loads(line)

    def __call__(self, op: str, user: str = "", password: str = "", **kw: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, "user": user, "password": password, **kw}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def user(self) -> tuple[str, str]:
        """A new non-admin user, not yet signed in."""
        user, password = f"user-{secrets.token_hex(4)}", secrets.token_urlsafe(12)
        assert self(op="create_user", user=user, password=password)["status"] == 200
        return user, password


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Probe]:
    root = tmp_path_factory.mktemp("auth-cache")
    ini = write_private(root / "basic_auth.ini", auth_ini(f"sqlite:///{root / 'auth.db'}"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
    env.update(
        MLFLOW_AUTH_CONFIG_PATH=str(ini),
        MLFLOW_AUTH_ADMIN_USERNAME="admin",
        MLFLOW_AUTH_ADMIN_PASSWORD=secrets.token_urlsafe(18),
        MLFLOW_FLASK_SERVER_SECRET_KEY=secrets.token_hex(16),
        _MLFLOW_SERVER_FILE_STORE=f"sqlite:///{root / 'mlflow.db'}",
        _MLFLOW_SERVER_ARTIFACT_ROOT=str(root / "artifacts"),
    )
    log = (root / "probe.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, str(PROBE)],
        cwd=root,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        yield Probe(proc)
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_the_server_runs_with_the_configured_cache(probe: Probe) -> None:
    assert probe.hello["cache_ttl"] == TTL > 0


def test_a_verified_credential_is_hashed_once_within_the_ttl(probe: Probe) -> None:
    user, password = probe.user()
    first = probe("get", user, password)
    assert first["status"] == 200
    assert first["hashes"] >= 1
    for _ in range(5):
        assert probe("get", user, password) == {"status": 200, "hashes": 0}
    probe("advance", seconds=TTL - 1)
    assert probe("get", user, password) == {"status": 200, "hashes": 0}


def test_a_wrong_password_is_refused_every_time(probe: Probe) -> None:
    user, password = probe.user()
    assert probe("get", user, password)["status"] == 200  # the right one is cached now
    for wrong in ("", password[:-1], password + "x", password.upper(), "wrong"):
        answer = probe("get", user, wrong)
        assert answer["status"] == 401, wrong
        assert answer["hashes"] == 1, "a refusal is never cached: each attempt is checked"
    assert probe("get", "nobody", password)["status"] == 401
    assert probe("get", user, password) == {"status": 200, "hashes": 0}


def test_an_expired_entry_is_checked_again(probe: Probe) -> None:
    user, password = probe.user()
    assert probe("get", user, password)["status"] == 200
    probe("advance", seconds=TTL + 1)
    again = probe("get", user, password)
    assert again["status"] == 200
    assert again["hashes"] >= 1
    assert probe("get", user, password) == {"status": 200, "hashes": 0}


def test_a_password_changed_through_mlflow_stops_working_at_once(probe: Probe) -> None:
    user, old = probe.user()
    assert probe("get", user, old)["status"] == 200
    new = secrets.token_urlsafe(12)
    assert probe("update_password", user, new)["status"] == 200
    assert probe("get", user, old)["status"] == 401
    assert probe("get", user, new)["status"] == 200


def test_a_deleted_user_is_refused_at_once(probe: Probe) -> None:
    user, password = probe.user()
    assert probe("get", user, password)["status"] == 200
    assert probe("delete_user", user)["status"] == 200
    assert probe("get", user, password)["status"] == 401


def test_a_password_changed_elsewhere_stops_working_within_the_ttl(probe: Probe) -> None:
    """Another worker or replica (or the user database itself) changed it: this worker's cache does not
    hear of it, so the old password keeps working until its entry expires, as docs/security.md states."""
    user, old = probe.user()
    assert probe("get", user, old)["status"] == 200
    new = secrets.token_urlsafe(12)
    probe("update_password_in_database", user, new)
    assert probe("get", user, old)["status"] == 200, "the documented bound: until the entry expires"
    assert probe("get", user, new)["status"] == 200
    probe("advance", seconds=TTL + 1)
    assert probe("get", user, old)["status"] == 401
    assert probe("get", user, new)["status"] == 200

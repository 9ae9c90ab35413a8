"""Embedded Airflow for `make demo`, `make up`, the end-to-end tests and the DAG benchmark.

One place decides how Airflow runs on a laptop: ``AIRFLOW_HOME`` is the settings' ``airflow_home``
(``$HARMWATCH_HOME/airflow``), the metadata DB is SQLite in it, the DAGs come from the repository's
``dags/``, examples are off, tasks run with ``HARMWATCH_RUNNER=local``, the API server binds to
127.0.0.1 with SimpleAuthManager (users ``admin`` with the Admin role and ``reviewer`` with the User
role, who can trigger runs and answer approvals but not change connections, variables or the
configuration; passwords generated once and kept in ``$HARMWATCH_HOME/run/airflow-<user>-password.txt``),
and the JWT and API secrets every Airflow process
must share are generated once and kept in ``$AIRFLOW_HOME/harmwatch-secrets.json`` (mode 0600).

As a library: :func:`airflow_env`, :func:`migrate`, :func:`dags_test` and :func:`dag_run`.
As a command: ``python -m devstack.airflow env`` prints ``export`` lines for shells (``scripts/up.sh``
evals them), the ports of :class:`devstack.config.StackConfig` included.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from devstack import run_checked
from devstack.config import StackConfig
from harmwatch.cli import parse_summary
from harmwatch.config import settings_for

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DAGS = REPO / "dags"
SIMPLE_AUTH = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
AIRFLOW_USERS = {"admin": "admin", "reviewer": "user"}  # user -> SimpleAuthManager role


def _secret_file(path: Path, make: Any) -> str:
    """Read a generated secret, creating it (mode 0600) the first time."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(make())
    return path.read_text().strip()


def airflow_env(
    base: dict[str, str] | None = None, *, api_port: int | None = None, parallelism: int = 4
) -> dict[str, str]:
    """The environment for every Airflow process (and the step processes it starts).

    ``base`` (default: this process's environment) gives the harmwatch settings; ``api_port`` defaults
    to the stack's Airflow port.
    """
    env = dict(os.environ if base is None else base)
    api_port = api_port or StackConfig.from_env(env).airflow_port
    env.setdefault("HARMWATCH_RUNNER", "local")
    env["HARMWATCH_BIN"] = env.get("HARMWATCH_BIN") or str(BIN / "harmwatch")
    resolved = settings_for(env)
    home = resolved.home
    env["HARMWATCH_HOME"] = str(home)
    airflow_home = Path(resolved.airflow_home).resolve()
    run_dir = home / "run"
    keys = json.loads(
        _secret_file(
            airflow_home / "harmwatch-secrets.json",
            lambda: json.dumps({"jwt": secrets.token_urlsafe(32), "api": secrets.token_urlsafe(32)}),
        )
    )
    passwords = {
        user: _secret_file(run_dir / f"airflow-{user}-password.txt", lambda: secrets.token_urlsafe(12))
        for user in AIRFLOW_USERS
    }
    # SimpleAuthManager reads {"user": "password"} from this file (it would generate one otherwise).
    passwords_file = airflow_home / "simple_auth_manager_passwords.json"
    passwords_file.unlink(missing_ok=True)
    _secret_file(passwords_file, lambda: json.dumps(passwords))
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(parallelism),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                f"{u}:{r}" for u, r in AIRFLOW_USERS.items()
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__EXPOSE_CONFIG": "False",
            "AIRFLOW__API__SECRET_KEY": keys["api"],
            "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt"],
            "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR": "True",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(airflow_home / "logs"),
            "PYTHONPATH": os.pathsep.join(p for p in (str(DAGS), env.get("PYTHONPATH", "")) if p),
        }
    )
    return env


def settings(env: dict[str, str]) -> dict[str, Any]:
    """The harmwatch settings ``env`` resolves to, as ``harmwatch info --json`` prints them (the settings
    module decides; nothing here repeats its defaults)."""
    return settings_for(env).public_dict()


def simulate(env: dict[str, str], start: str, days: int = 1, timeout: float = 600) -> dict[str, Any]:
    """Seed ``env``'s landing zone with ``harmwatch simulate``; its JSON summary, or RuntimeError."""
    harmwatch = env.get("HARMWATCH_BIN") or str(BIN / "harmwatch")
    args = [harmwatch, "simulate", "--start", start, "--days", str(days)]
    return parse_summary(run_checked(args, env, timeout, "harmwatch simulate"))


def airflow(env: dict[str, str], *args: str, log: Path | None = None, check: bool = True) -> int:
    """Run ``airflow ARGS`` with ``env``; output to ``log`` (appended) or inherited."""
    out = open(log, "ab") if log else None  # noqa: SIM115 - closed below
    try:
        code = subprocess.run([str(BIN / "airflow"), *args], env=env, stdout=out, stderr=out).returncode
    finally:
        if out:
            out.close()
    if check and code != 0:
        where = f"; see {log}" if log else ""
        raise RuntimeError(f"`airflow {' '.join(args)}` exited {code}{where}")
    return code


def migrate(env: dict[str, str], log: Path | None = None) -> None:
    """Create or upgrade the metadata DB (idempotent)."""
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    airflow(env, "db", "migrate", log=log)


@dataclass
class TaskRun:
    task_id: str
    state: str | None
    duration: float | None
    start: datetime | None
    end: datetime | None
    xcom: Any = None
    step_seconds: float | None = None  # the harmwatch process's own wall time (local runner)


@dataclass
class DagRun:
    dag_id: str
    run_id: str
    state: str | None
    wall_seconds: float | None = None
    tasks: dict[str, TaskRun] = field(default_factory=dict)

    @property
    def steps_seconds(self) -> float:
        """Sum of the tasks' own durations (what the steps cost, without orchestration)."""
        return sum(t.duration or 0.0 for t in self.tasks.values())

    @property
    def step_own_seconds(self) -> float:
        """Sum of the harmwatch processes' own wall times (local runner; 0 where unknown)."""
        return sum(t.step_seconds or 0.0 for t in self.tasks.values())

    @property
    def span_seconds(self) -> float | None:
        """First task start to last task end, as recorded by Airflow."""
        starts = [t.start for t in self.tasks.values() if t.start]
        ends = [t.end for t in self.tasks.values() if t.end]
        return (max(ends) - min(starts)).total_seconds() if starts and ends else None


def _ts(value: Any) -> datetime | None:
    if not value or isinstance(value, datetime):
        return value or None
    return datetime.fromisoformat(str(value).replace(" ", "T"))


def _xcom(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        value = bytes(value).decode("utf-8")
    if not isinstance(value, str):
        return value  # PostgreSQL's JSON column comes back decoded
    try:
        return json.loads(value)
    except ValueError:
        return value


def dag_run(env: dict[str, str], dag_id: str, run_id: str | None = None) -> DagRun:
    """A DAG run (the newest when ``run_id`` is None) with its tasks' states, durations and XComs.

    Read from the metadata DB named by ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` (SQLite or PostgreSQL).
    """
    import sqlalchemy as sa

    engine = sa.create_engine(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    try:
        with engine.connect() as con:
            if run_id is None:
                sql = "SELECT run_id, state FROM dag_run WHERE dag_id=:d ORDER BY id DESC LIMIT 1"
                row = con.execute(sa.text(sql), {"d": dag_id}).first()
            else:
                sql = "SELECT run_id, state FROM dag_run WHERE dag_id=:d AND run_id=:r"
                row = con.execute(sa.text(sql), {"d": dag_id, "r": run_id}).first()
            if row is None:
                raise LookupError(f"no run of {dag_id} in the Airflow metadata DB")
            run = DagRun(dag_id, row[0], row[1])
            keys = {"d": dag_id, "r": run.run_id}
            for task_id, state, duration, start, end in con.execute(
                sa.text(
                    "SELECT task_id, state, duration, start_date, end_date FROM task_instance "
                    "WHERE dag_id=:d AND run_id=:r AND map_index=-1"
                ),
                keys,
            ):
                run.tasks[task_id] = TaskRun(task_id, state, duration, _ts(start), _ts(end))
            for task_id, key, value in con.execute(
                sa.text(
                    "SELECT task_id, key, value FROM xcom WHERE dag_id=:d AND run_id=:r AND map_index=-1 "
                    "AND key IN ('return_value', 'step_seconds')"
                ),
                keys,
            ):
                if task_id not in run.tasks:
                    continue
                if key == "return_value":
                    run.tasks[task_id].xcom = _xcom(value)
                else:
                    run.tasks[task_id].step_seconds = float(_xcom(value))
        return run
    finally:
        engine.dispose()


def dags_test(
    env: dict[str, str],
    dag_id: str,
    day: str,
    conf: dict[str, Any] | None = None,
    log: Path | None = None,
) -> DagRun:
    """Run one DAG run for logical date ``day`` through ``airflow dags test`` and return it.

    ``airflow dags test`` is real Airflow on the real metadata DB (the DAG is parsed from the dags
    folder, the run and task instances are recorded, templates rendered, XComs stored, trigger rules
    and retries applied), but it executes the tasks one after another in its own process instead of
    through the scheduler and an executor. The scheduler path is what ``make up`` runs.
    """
    args = ["dags", "test", dag_id, day]
    if conf:
        args += ["--conf", json.dumps(conf)]
    start = time.monotonic()
    airflow(env, *args, log=log, check=False)
    wall = time.monotonic() - start
    run = dag_run(env, dag_id)
    run.wall_seconds = wall
    record_real_start(env, dag_id, run.run_id)
    return run


def record_real_start(env: dict[str, str], dag_id: str, run_id: str) -> None:
    """Set a ``dags test`` run's start to when its first task started.

    ``DAG.test()`` records the logical date as the run's start (apache/airflow#66127, open in 3.3), so a
    run for a simulated day in the past would show a duration of months in the UI, which computes it as
    end minus start. The logical date and data interval, which the tasks use, stay as they are.
    """
    import sqlalchemy as sa

    engine = sa.create_engine(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    try:
        with engine.begin() as con:
            con.execute(
                sa.text(
                    "UPDATE dag_run SET start_date = (SELECT MIN(ti.start_date) FROM task_instance ti "
                    "WHERE ti.dag_id = :d AND ti.run_id = :r) WHERE dag_id = :d AND run_id = :r "
                    "AND EXISTS (SELECT 1 FROM task_instance ti WHERE ti.dag_id = :d AND ti.run_id = :r "
                    "AND ti.start_date IS NOT NULL AND ti.start_date > dag_run.start_date)"
                ),
                {"d": dag_id, "r": run_id},
            )
    finally:
        engine.dispose()


class AirflowAPI:
    """The Airflow REST API of a running `make up` (login as admin with the generated password)."""

    def __init__(self, base_url: str, password: str, user: str = "admin") -> None:
        self.base_url, self.user, self.password = base_url.rstrip("/"), user, password
        self._token: str | None = None

    def _call(self, method: str, path: str, body: Any = None, auth: bool = True) -> Any:
        import urllib.request

        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.base_url}{path}", data=data, headers=headers, method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def token(self) -> str:
        if self._token is None:
            body = {"username": self.user, "password": self.password}
            self._token = self._call("POST", "/auth/token", body, auth=False)["access_token"]
        return self._token

    def get(self, path: str) -> Any:
        return self._call("GET", path)

    def trigger(self, dag_id: str, day: str, conf: dict[str, Any] | None = None) -> str:
        """Trigger a run with logical date ``day`` (midnight UTC); returns its run id."""
        body = {"logical_date": f"{day}T00:00:00Z", "conf": conf or {}}
        return self._call("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"]

    def wait(self, dag_id: str, run_id: str, timeout: float = 900, poll: float = 2.0) -> dict[str, Any]:
        """Wait until the run succeeds or fails; returns the run."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            if run["state"] in ("success", "failed"):
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} run {run_id} still {run['state']} after {timeout:.0f}s")
            time.sleep(poll)

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        tis = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        return {t["task_id"]: t["state"] for t in tis}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("env", help="print export lines for the embedded Airflow and the stack's ports")
    parser.parse_args(argv)
    stack = StackConfig.from_env()
    env = airflow_env(api_port=stack.airflow_port)
    env.update(stack.as_env())
    for key in sorted(env):
        if key.startswith(("AIRFLOW", "HARMWATCH_")) or key == "PYTHONPATH":
            print(f"export {key}={shlex.quote(env[key])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

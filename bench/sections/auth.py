"""Section ``auth``: what a retrain costs the MLflow server, with and without the credential cache.

The DAG's chain (the bulk day with the first model, then day 2 with a challenger against the champion and
drift) runs against ``mlflow server --app-name basic-auth`` as in production: the steps sign in as the
non-admin pipeline user, artifacts are proxied by the server. It runs twice on fresh homes, once with the
credential cache off (``auth_cache_ttl_seconds = 0``, MLflow's default: the scrypt hash is checked up to
three times per request) and once as harmwatch configures every server (devstack/mlflow.py). Per step:
the requests the server logged (uvicorn's access log) and the CPU seconds the server's process tree
spent (``/proc/<pid>/stat``, the server and its children, reaped ones included).
"""

from __future__ import annotations

import collections
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.core import BULK, DAY2, Options, StepFailed, free_port, load1, run_step, step_env
from devstack.mlflow import ADMIN, CREDENTIAL_CACHE_SECONDS, PIPELINE, auth_ini, server_argv, write_private

PLAN: list[tuple[str, str, list[str]]] = [  # the retrain DAG's MLflow-facing chain, as bench steps runs it
    ("ingest", "bulk", ["--date", BULK]),
    ("validate", "bulk", ["--date", BULK]),
    ("build-dataset", "bulk", ["--date", BULK, "--champion-check"]),
    ("train", "first model", []),
    ("evaluate", "first model", []),
    ("promote", "bulk", ["--date", BULK]),
    ("ingest", "day 2", ["--date", DAY2]),
    ("validate", "day 2", ["--date", DAY2]),
    ("build-dataset", "day 2", ["--date", DAY2, "--champion-check"]),
    ("train", "day 2", []),
    ("evaluate", "day 2, vs champion", []),
    ("promote", "day 2", ["--date", DAY2]),
    ("drift", "day 2", ["--date", DAY2]),
]
RETRAIN = ("build-dataset", "train", "evaluate", "promote")  # the day-2 steps that make a retrain
ACCESS = re.compile(r'"(?P<method>[A-Z]+) (?P<path>[^ ?"]+)[^"]*" (?P<status>\d{3})')
START_TIMEOUT = 180  # seconds for the server to answer /health
TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its descendants, reaped children included (``cutime``/``cstime``)."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) ": state, ppid, ...
        stats[int(entry.name)] = fields
        children[int(fields[1])].append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        if current in stats:
            utime, stime, cutime, cstime = (int(v) for v in stats[current][11:15])
            total += utime + stime + cutime + cstime
        todo += children.get(current, [])
    return total / TICK


def access_lines(log: Path) -> list[dict[str, str]]:
    """The requests the server logged so far: method, path (no query), status."""
    text = log.read_text(errors="replace") if log.is_file() else ""
    return [m.groupdict() for m in ACCESS.finditer(text)]


class Server:
    """``mlflow server --app-name basic-auth`` on 127.0.0.1 in ``root``, users as in `make up`."""

    def __init__(self, root: Path, cache_seconds: int) -> None:
        self.root, self.port = root, free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.admin_password, self.pipeline_password = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
        ini = write_private(root / "basic_auth.ini", auth_ini(f"sqlite:///{root / 'auth.db'}", cache_seconds))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_TRACKING_", "HARMWATCH_"))}
        env.update(
            MLFLOW_AUTH_CONFIG_PATH=str(ini),
            MLFLOW_AUTH_ADMIN_USERNAME=ADMIN,
            MLFLOW_AUTH_ADMIN_PASSWORD=self.admin_password,
            MLFLOW_FLASK_SERVER_SECRET_KEY=secrets.token_hex(16),
            MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
        )
        self.log = root / "server.log"
        argv = server_argv(
            self.port, f"sqlite:///{root / 'mlflow.db'}", artifacts_destination=str(root / "artifacts")
        )
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=root
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {self.log.read_text()[-800:]}")
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    tail = self.log.read_text()[-800:]
                    raise RuntimeError(f"mlflow server did not answer: {tail}") from None
                time.sleep(0.5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()


def measure(source: Path, cache_seconds: int) -> dict[str, Any]:
    """The chain on a fresh home against a fresh server with this cache; per step requests and server CPU."""
    root = Path(tempfile.mkdtemp(prefix="hw-bench-auth-"))
    (root / "mlflow").mkdir()
    server = Server(root / "mlflow", cache_seconds)
    steps: list[dict[str, Any]] = []
    try:
        env = step_env(root / "home", source)
        run_step("simulate", ["--start", BULK, "--days", "1"], env)
        password_file = write_private(root / "pipeline-password", server.pipeline_password)
        admin_env = {
            **env,
            "HARMWATCH_MLFLOW_TRACKING_URI": server.uri,
            "MLFLOW_TRACKING_USERNAME": ADMIN,
            "MLFLOW_TRACKING_PASSWORD": server.admin_password,
        }
        run_step("mlflow-access", ["--user", PIPELINE, "--password-file", str(password_file)], admin_env)
        env.update(
            HARMWATCH_MLFLOW_TRACKING_URI=server.uri,
            MLFLOW_TRACKING_USERNAME=PIPELINE,
            MLFLOW_TRACKING_PASSWORD=server.pipeline_password,
        )
        for step, phase, args in PLAN:
            seen, cpu = len(access_lines(server.log)), tree_cpu_seconds(server.proc.pid)
            record = run_step(step, args, env, phase)
            time.sleep(0.5)  # the access log line is written after the response
            requests = access_lines(server.log)[seen:]
            endpoints = collections.Counter(f"{r['method']} {r['path']}" for r in requests)
            steps.append(
                {
                    "step": step,
                    "phase": phase,
                    "requests": len(requests),
                    "refused": sum(r["status"] in ("401", "403") for r in requests),
                    "server_cpu_s": round(tree_cpu_seconds(server.proc.pid) - cpu, 2),
                    "step_wall_s": record["wall_s"],
                    "load1": record["load1"],
                    "top_endpoints": dict(endpoints.most_common(5)),
                }
            )
            last = steps[-1]
            print(
                f"  cache {cache_seconds:>3} s  {step:<14} {phase:<18} {last['requests']:4d} requests "
                f"{last['server_cpu_s']:7.2f} server CPU-s  load {last['load1']}",
                flush=True,
            )
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    retrain = [s for s in steps if s["phase"].startswith("day 2") and s["step"] in RETRAIN]
    return {
        "cache_seconds": cache_seconds,
        "steps": steps,
        "retrain_requests": sum(s["requests"] for s in retrain),
        "retrain_server_cpu_s": round(sum(s["server_cpu_s"] for s in retrain), 2),
        "chain_requests": sum(s["requests"] for s in steps),
        "chain_server_cpu_s": round(sum(s["server_cpu_s"] for s in steps), 2),
    }


def run(opts: Options) -> dict[str, Any]:
    """The chain once without the cache, once with harmwatch's. Request counts do not vary between runs;
    the CPU figures carry each step's load, the machine being shared."""
    runs = []
    for cache_seconds in (0, CREDENTIAL_CACHE_SECONDS):
        print(f"auth: credential cache {cache_seconds} s", flush=True)
        try:
            runs.append(measure(opts.source, cache_seconds))
        except StepFailed as exc:  # recorded; the other run still goes
            print(f"  FAILED: {exc}", flush=True)
            runs.append({"cache_seconds": cache_seconds, "error": str(exc), "load1": load1()})
    return {"runs": runs, "errors": [r["error"] for r in runs if "error" in r]}


def report_lines(section: dict[str, Any]) -> list[str]:
    """Requests and server CPU per step, cache off against cache on (the first run of each)."""
    off = next((r for r in section["runs"] if r.get("cache_seconds") == 0 and "steps" in r), None)
    on = next((r for r in section["runs"] if r.get("cache_seconds", 0) > 0 and "steps" in r), None)
    if not (off and on):
        return []
    lines = [
        f"## MLflow server cost of a retrain ({section.get('date', '')}, commit {section.get('commit')})",
        "",
        f"Basic-auth server, steps as the non-admin pipeline user; credential cache off (MLflow's default) "
        f"and {on['cache_seconds']} s (harmwatch's). Retrain = day 2's build-dataset, train, evaluate, "
        f"promote: {off['retrain_requests']} requests; server CPU {off['retrain_server_cpu_s']} s without "
        f"the cache, {on['retrain_server_cpu_s']} s with it (whole chain: {off['chain_server_cpu_s']} s "
        f"and {on['chain_server_cpu_s']} s).",
        "",
        "| step | requests | server CPU-s, no cache | server CPU-s, cache | load |",
        "|---|---:|---:|---:|---:|",
    ]
    for a, b in zip(off["steps"], on["steps"], strict=True):
        lines.append(
            f"| {a['step']} ({a['phase']}) | {a['requests']} | {a['server_cpu_s']:.2f} | "
            f"{b['server_cpu_s']:.2f} | {a['load1']}, {b['load1']} |"
        )
    return [*lines, ""]

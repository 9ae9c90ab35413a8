"""The MLflow server goes away while evaluate or promote runs: the step exits non-zero with one clear line
(ServiceUnavailable, exit code 4, naming the server URL, no traceback), ``champion`` does not move, and a
rerun after recovery succeeds. A short outage within the retry budget is waited out.

One real MLflow server (SQLite backend, 127.0.0.1) serves the module, behind a TCP proxy the tests cut
and restore (tests/reliability/proxy.py); one test stops the server itself by PID and restarts it on the
same port with the same backend store and artifact root. The model is a small one (600-row sample),
promoted once with --force as the champion; the challenger is a second version of the same logged model.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any

import pytest

from tests.conftest import VENV_BIN, run_cli, start_mlflow, stop_process
from tests.model.conftest import cli_env, write_validated_lake
from tests.reliability.proxy import TcpProxy

pytestmark = [pytest.mark.server, pytest.mark.model]

MODEL = "outage"
# Fail fast in tests: one immediate per-request retry inside MLflow's client (a pooled keep-alive connection
# the server has closed needs it), two connection attempts 0.2 s apart.
FAST_FAIL = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0",
    "HARMWATCH_MLFLOW_ATTEMPTS": "2",
    "HARMWATCH_MLFLOW_BACKOFF": "0.2",
}
EVALUATE = [
    "--min-macro-f1",
    "0.1",
    "--min-class-f1",
    "0",
    "--min-golden-pass",
    "0",
    "--min-golden-must-flag=0",
    "--min-golden-benign=0",
    "--max-group-fpr=1",
    "--min-group-bpsn=0",
    "--min-group-not-flagged=0",
    "--min-functionality=0",
    "--min-hateful-caught=0",
    "--min-bias-score=0",
    "--max-group-fpr-increase=1",
    "--max-bias-score-drop=1",
    "--max-recent-regression=1",
    "--max-ece",
    "1",
    "--n-boot",
    "100",
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory, source_csv) -> Any:
    """MLflow server + proxy, a small lake, version 1 champion, version 2 (same model) challenger."""
    root = tmp_path_factory.mktemp("mlflow-outage")
    state: dict[str, Any] = {"root": root, "server": start_mlflow(root)}
    proxy = TcpProxy(state["server"].port)
    home = tmp_path_factory.mktemp("outage-home")
    write_validated_lake(source_csv, str(home / "lake"), days=1, limit=3000)
    env = {**cli_env(home, proxy.endpoint, MODEL), **FAST_FAIL}
    state.update(proxy=proxy, env=env)
    try:
        ok(run_cli("build-dataset", env=env))
        ok(run_cli("train", "--sample-rows", "600", "--reference-rows", "100", env=env))
        ok(run_cli("promote", "--force", "--reason", "outage test set-up", env=env))
        client = client_for(proxy)
        v1 = client.get_model_version(MODEL, "1")
        audit = ("harmwatch.promoted", "harmwatch.force")
        tags = {k: v for k, v in v1.tags.items() if not k.startswith(audit)}
        client.create_model_version(
            MODEL,
            v1.source,
            run_id=v1.run_id,
            tags=tags,
            model_id=v1.model_id or v1.source.rsplit("/", 1)[-1],
        )
        client.set_registered_model_alias(MODEL, "challenger", "2")
        yield state
    finally:
        proxy.cut()
        stop_process(state["server"].proc, timeout=5)


def client_for(proxy: TcpProxy):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=proxy.endpoint, registry_uri=proxy.endpoint)


def ok(proc) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def aliases(proxy: TcpProxy) -> dict[str, str]:
    return {a: str(v) for a, v in client_for(proxy).get_registered_model(MODEL).aliases.items()}


def one_error_line(proc, step: str, url: str) -> str:
    assert proc.returncode == 4, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("harmwatch ")]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"harmwatch {step}: error: MLflow at {url} unreachable: "), lines[0]
    return lines[0]


def timed(*args: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    proc = run_cli(*args, env=env)
    return proc, time.monotonic() - started


def test_evaluate_loses_mlflow_mid_step_then_reruns(stack):
    proxy, env = stack["proxy"], stack["env"]
    # Evaluate has loaded and scored the challenger; MLflow vanishes as it uploads the scores.
    proxy.cut_at(b"PUT", 1)
    proc, seconds = timed("evaluate", *EVALUATE, env=env)
    assert proxy.trigger is None, f"evaluate never wrote to MLflow: {proc.stderr[-3000:]}"
    proxy.restore()
    line = one_error_line(proc, "evaluate", proxy.endpoint)
    print(f"\n{line}\n(evaluate failed after {seconds:.1f}s including start-up and scoring)")
    assert aliases(proxy) == {"champion": "1", "challenger": "2"}
    assert "harmwatch.decision" not in client_for(proxy).get_model_version(MODEL, "2").tags
    summary = ok(run_cli("evaluate", *EVALUATE, env=env))
    assert summary["decision"] == "promote" and summary["champion_version"] == "1"
    assert aliases(proxy) == {"champion": "1", "challenger": "2"}


def test_promote_with_mlflow_stopped_then_restarted(stack):
    proxy, env, server = stack["proxy"], stack["env"], stack["server"]
    stop_process(server.proc, timeout=5)  # the server itself, by PID
    proc, seconds = timed("promote", env=env)
    line = one_error_line(proc, "promote", proxy.endpoint)
    print(f"\n{line}\n(promote failed after {seconds:.1f}s including start-up)")
    assert seconds < 60
    # Same port, same backend store and artifact root: the registry is as it was.
    stack["server"] = start_mlflow(stack["root"], port=server.port)
    assert aliases(proxy) == {"champion": "1", "challenger": "2"}
    out = ok(run_cli("promote", env=env))
    assert out["promoted"] is True and aliases(proxy) == {
        "champion": "2",
        "challenger": "2",
        "previous-champion": "1",
    }


def test_promote_loses_mlflow_between_writes_then_reruns(stack):
    """Cut at promote's first write (its audit tags, before any alias): champion does not move."""
    proxy, env = stack["proxy"], stack["env"]
    client = client_for(proxy)
    client.set_registered_model_alias(MODEL, "challenger", "1")  # v1 back, with a decision against v2
    for key, value in {"harmwatch.decision": "promote", "harmwatch.evaluated_against": "2"}.items():
        client.set_model_version_tag(MODEL, "1", key, value)
    proxy.cut_at(b"POST", 1)
    one_error_line(run_cli("promote", env=env), "promote", proxy.endpoint)
    proxy.restore()
    assert aliases(proxy) == {"champion": "2", "challenger": "1", "previous-champion": "1"}
    out = ok(run_cli("promote", env=env))
    assert out["promoted"] is True and aliases(proxy)["champion"] == "1"


def test_short_outage_is_waited_out(stack):
    """MLflow is unreachable when rollback starts and comes back after its first failed attempt: the
    retries with backoff carry the step through."""
    proxy, env = stack["proxy"], stack["env"]
    proxy.cut()
    patient = {**os.environ, **env, "HARMWATCH_MLFLOW_ATTEMPTS": "6", "HARMWATCH_MLFLOW_BACKOFF": "2"}
    proc = subprocess.Popen(
        [str(VENV_BIN / "harmwatch"), "rollback", "--reason", "outage test"],
        env=patient,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    try:
        for line in proc.stderr:  # wait for the first failed attempt, then bring MLflow back
            seen.append(line)
            if "not answering" in line:
                break
    finally:
        proxy.restore()
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, "".join(seen) + err[-3000:]
    assert any("not answering (attempt 1/6" in line for line in seen)
    assert json.loads(out.strip().splitlines()[-1])["rolled_back"] is True
    assert aliases(proxy)["champion"] == "2"

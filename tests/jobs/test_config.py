"""Settings come from HARMWATCH_* variables with local defaults under HARMWATCH_HOME."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from harmwatch.config import load_settings
from tests.conftest import run_cli


def test_defaults_live_under_home(hw_env):
    s = load_settings()
    assert s.home == hw_env
    assert s.lake_uri == str(hw_env / "lake") and s.landing_uri == str(hw_env / "landing")
    assert s.mlflow_tracking_uri == f"sqlite:///{hw_env / 'mlflow' / 'mlflow.db'}"
    assert s.mlflow_registry_uri == s.mlflow_tracking_uri
    assert s.airflow_home == str(hw_env / "airflow")
    assert (s.log_level, s.debug, s.mlflow_attempts, s.s3_max_attempts, s.fault_kill_at) == (
        "INFO",
        False,
        4,
        4,
        "",
    )


def test_environment_overrides(hw_env, monkeypatch):
    monkeypatch.setenv("HARMWATCH_LAKE_URI", "s3://bucket/lake")
    monkeypatch.setenv("HARMWATCH_MLFLOW_TRACKING_URI", "http://mlflow:5000")
    monkeypatch.setenv("HARMWATCH_SEED", "7")
    monkeypatch.setenv("HARMWATCH_MLFLOW_ATTEMPTS", "2")
    monkeypatch.setenv("HARMWATCH_DEBUG", "1")
    s = load_settings()
    assert (s.lake_uri, s.mlflow_tracking_uri, s.mlflow_registry_uri) == (
        "s3://bucket/lake",
        "http://mlflow:5000",
        "http://mlflow:5000",
    )
    assert s.seed == 7 and s.mlflow_attempts == 2 and s.debug is True


def test_the_actor_is_the_configured_one_then_the_mlflow_user_then_the_unix_user(hw_env, monkeypatch):
    import getpass

    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    assert load_settings().acting_user() == getpass.getuser()
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "bob")
    assert load_settings().acting_user() == getpass.getuser(), "an embedded registry has no MLflow user"
    monkeypatch.setenv("HARMWATCH_MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert load_settings().acting_user() == "bob"
    monkeypatch.setenv("AIRFLOW_CTX_DAG_OWNER", "harmwatch")  # a DAG's owner is not a person
    monkeypatch.setenv("HARMWATCH_ACTOR", "alice")
    assert load_settings().acting_user() == "alice"


PRODUCTION = {
    "runner kubernetes": {"HARMWATCH_RUNNER": "kubernetes"},
    "lake on S3": {"HARMWATCH_LAKE_URI": "s3://bucket/lake"},
}


@pytest.mark.parametrize("mode", PRODUCTION)
def test_the_development_pseudonym_key_is_refused_outside_the_local_mode(hw_env, mode):
    """Fail closed: a step outside the embedded local mode without a real key stops with one line."""
    env = {**PRODUCTION[mode], "HARMWATCH_PSEUDONYM_KEY": ""}
    proc = run_cli("ingest", env=env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()], proc.stderr
    assert "HARMWATCH_PSEUDONYM_KEY is not set" in proc.stderr and mode.split()[0] in proc.stderr
    # The development key itself, spelled out, is refused the same way.
    proc = run_cli("ingest", env={**env, "HARMWATCH_PSEUDONYM_KEY": "harmwatch-local-dev-key"})
    assert proc.returncode == 2 and "HARMWATCH_PSEUDONYM_KEY is not set" in proc.stderr
    # info still shows the settings (it is how an operator finds what is missing).
    assert run_cli("info", "--json", env=env).returncode == 0


def test_steps_never_call_an_mlflow_server_anonymously_outside_the_local_mode(hw_env):
    env = {
        "HARMWATCH_RUNNER": "kubernetes",
        "HARMWATCH_PSEUDONYM_KEY": "a-real-key-of-at-least-32-bytes-0001",
        "HARMWATCH_MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
        "MLFLOW_TRACKING_USERNAME": "",
        "MLFLOW_TRACKING_PASSWORD": "",
    }
    proc = run_cli("promote", env=env)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD are not set" in proc.stderr


def test_the_local_mode_keeps_its_development_defaults(hw_env):
    s = load_settings()
    assert s.embedded and s.refusals() == []
    real = load_settings(
        runner="kubernetes",
        pseudonym_key="k" * 32,
        mlflow_tracking_uri="http://mlflow:5000",
        mlflow_tracking_username="harmwatch-pipeline",
        mlflow_tracking_password="p",
    )
    assert not real.embedded and real.refusals() == []
    assert real.mlflow_ui_url == "http://mlflow:5000" and load_settings().mlflow_ui_url == ""


def test_bad_value_is_rejected(hw_env, monkeypatch):
    monkeypatch.setenv("HARMWATCH_LOG_LEVEL", "LOUD")
    with pytest.raises(ValidationError):
        load_settings()


def test_a_bad_setting_is_one_line_naming_the_variable(hw_env):
    proc = run_cli("info", "--json", env={"HARMWATCH_MLFLOW_ATTEMPTS": "many"})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "HARMWATCH_MLFLOW_ATTEMPTS" in proc.stderr


def test_only_the_settings_module_reads_the_environment(repo_root):
    import re

    readers = [
        f"{path.relative_to(repo_root)}:{n}"
        for path in (repo_root / "jobs").rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"os\.environ|getenv", line)
    ]
    assert readers and all(r.startswith("jobs/harmwatch/config.py:") for r in readers), readers


def test_info_json_prints_contract_keys_and_masks_secrets(hw_env):
    env = {"HARMWATCH_PSEUDONYM_KEY": "s3cr3t-value", "MLFLOW_TRACKING_PASSWORD": "pw-s3cr3t"}
    proc = run_cli("info", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("mlflow_tracking_uri", "mlflow_registry_uri", "lake_uri", "landing_uri", "airflow_home"):
        assert info[key], key
    assert "s3cr3t-value" not in proc.stdout + proc.stderr and "pw-s3cr3t" not in proc.stdout + proc.stderr
    assert info["mlflow_tracking_password"] == "**********"
    assert info["home"] == str(hw_env)


def test_unknown_command_lists_commands():
    proc = run_cli("frobnicate")
    assert proc.returncode == 2 and "commands:" in proc.stderr and "Traceback" not in proc.stderr


def test_the_console_script_ends_through_leave():
    """``harmwatch`` is :func:`cli.entry`, so a finished step skips the native teardown that can abort."""
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="harmwatch")
    assert script.value == "harmwatch.cli:entry"
    assert run_cli("--help").returncode == 0


_LEAVE_PROBE = """
import atexit, sys, tempfile, threading, time
from pathlib import Path
from harmwatch import cli
out = Path(sys.argv[1])
atexit.register(lambda: (out / "atexit").write_text("ran"))
scratch = tempfile.TemporaryDirectory()  # removed by weakref.finalize, an atexit function
(out / "scratch").write_text(scratch.name)
threading.Thread(target=lambda: (time.sleep(0.3), (out / "thread").write_text("joined"))).start()
from concurrent.futures import ThreadPoolExecutor
pool = ThreadPoolExecutor(2)  # its idle workers wait for work until threading's shutdown tells them to stop
assert pool.submit(lambda: 42).result() == 42
print("summary line", end="")
print("last words", end="", file=sys.stderr)
cli.leave(3)
"""


def test_leave_does_what_python_does_at_exit(tmp_path):
    """Threads joined (an idle thread pool's too, which only ``threading``'s shutdown stops), ``atexit``
    functions run, temporary directories removed, both streams flushed."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", _LEAVE_PROBE, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 3, proc.stderr
    assert (proc.stdout, proc.stderr) == ("summary line", "last words")
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "thread").read_text() == "joined"
    assert not Path((tmp_path / "scratch").read_text()).exists()


# Run in a fresh interpreter: whether NumPy is loaded when a step's process sets its library defaults, and
# how many threads OpenBLAS then starts with.
_OPENBLAS_PROBE = """
import json, os, sys
import harmwatch.config as config
seen, original = [], config.configure_libraries
config.configure_libraries = lambda settings: (seen.append("numpy" in sys.modules), original(settings))[1]
from harmwatch import cli
cli.main(["info", "--json"])
import numpy
from threadpoolctl import threadpool_info
threads = sorted({i["num_threads"] for i in threadpool_info() if i["internal_api"] == "openblas"})
setting = os.environ.get("OPENBLAS_NUM_THREADS")
probe = {"numpy_loaded_first": seen, "setting": setting, "openblas_threads": threads}
print(json.dumps(probe), file=sys.stderr)
"""


@pytest.mark.parametrize("given", [None, "2"])
def test_a_step_starts_openblas_on_one_thread_unless_told_otherwise(hw_env, given):
    """The CLI sets the library defaults before anything loads NumPy, so OpenBLAS starts on one thread
    (its second thread only spun in the SGD learners' fits); an operator's own value still wins (how many
    threads OpenBLAS then starts also depends on the machine's cores, so only the setting is checked)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given:
        env["OPENBLAS_NUM_THREADS"] = given
    proc = subprocess.run(
        [sys.executable, "-c", _OPENBLAS_PROBE], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    probe = json.loads(proc.stderr.strip().splitlines()[-1])
    assert probe["numpy_loaded_first"] == [False]
    if given is None:
        assert (probe["setting"], probe["openblas_threads"]) == ("1", [1])
    else:
        assert probe["setting"] == given

"""Settings come from HARMWATCH_* variables with local defaults under HARMWATCH_HOME."""

from __future__ import annotations

import json

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


def test_the_actor_is_the_configured_one_then_the_dag_owner_then_the_unix_user(hw_env, monkeypatch):
    import getpass

    monkeypatch.delenv("AIRFLOW_CTX_DAG_OWNER", raising=False)
    assert load_settings().acting_user() == getpass.getuser()
    monkeypatch.setenv("AIRFLOW_CTX_DAG_OWNER", "harmwatch")
    assert load_settings().acting_user() == "harmwatch"
    monkeypatch.setenv("HARMWATCH_ACTOR", "alice")
    assert load_settings().acting_user() == "alice"


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
    proc = run_cli("info", "--json", env={"HARMWATCH_PSEUDONYM_KEY": "s3cr3t-value"})
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("mlflow_tracking_uri", "mlflow_registry_uri", "lake_uri", "landing_uri", "airflow_home"):
        assert info[key], key
    assert "s3cr3t-value" not in proc.stdout + proc.stderr
    assert info["home"] == str(hw_env)


def test_unknown_command_lists_commands():
    proc = run_cli("frobnicate")
    assert proc.returncode == 2 and "commands:" in proc.stderr and "Traceback" not in proc.stderr

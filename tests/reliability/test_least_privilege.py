"""Least privilege: each command asks for, and its pod is given, only the secrets it uses.

The table is ``jobs/harmwatch/access.py``; tests/dags checks the step pods and SparkApplications built from
it, tests/deploy the chart's service accounts and network policies.
"""

from __future__ import annotations

from pathlib import Path

from harmwatch import access
from harmwatch.config import load_settings
from harmwatch.steps import COMMANDS
from tests.conftest import non_stdlib_imports

PRODUCTION = {
    "runner": "kubernetes",
    "mlflow_tracking_uri": "http://mlflow:5000",
    "mlflow_tracking_username": "",
    "mlflow_tracking_password": "",
    "pseudonym_key": "",
}


def test_every_command_says_which_secrets_it_uses() -> None:
    assert set(access.COMMAND_SECRETS) == set(COMMANDS)
    known = {*access.MLFLOW, *access.PSEUDONYM, *access.OBJECT_STORE, *access.LABEL_STUDIO}
    for command, keys in access.COMMAND_SECRETS.items():
        assert set(keys) <= known and len(set(keys)) == len(keys), command


def test_the_table_imports_only_the_standard_library() -> None:
    """The Airflow image loads this one file by path, without the harmwatch package."""
    assert not non_stdlib_imports(Path(access.__file__))


def test_a_command_asks_only_for_the_secrets_it_uses(hw_env) -> None:
    settings = load_settings(**PRODUCTION)
    asked = {command: " ".join(settings.refusals(command)) for command in access.COMMAND_SECRETS}
    for command, text in asked.items():
        wants_key = "HARMWATCH_PSEUDONYM_KEY" in access.secrets_of(command)
        wants_mlflow = "MLFLOW_TRACKING_PASSWORD" in access.secrets_of(command)
        assert ("HARMWATCH_PSEUDONYM_KEY" in text) == wants_key, command
        assert ("MLFLOW_TRACKING_USERNAME" in text) == wants_mlflow, command
    assert asked["promote"].startswith("MLFLOW_") and "PSEUDONYM" not in asked["promote"]
    assert asked["simulate"] == ""  # neither the key nor MLflow: nothing to ask for
    # A library caller that names no command is asked for everything, as before.
    assert len(settings.refusals()) == 2

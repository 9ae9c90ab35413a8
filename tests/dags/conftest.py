"""DAG tests parse the real DAG files; Airflow gets a throwaway AIRFLOW_HOME before it is imported."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
DAG_IDS = (
    "harmful_content_retrain",
    "harmful_content_drift",
    "harmful_content_review",
    "harmful_content_moderation",
    "harmful_content_score",
)

# Airflow reads its configuration when first imported: point it at a scratch home, never ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="harmwatch-dag-tests-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(DAGS))
# The DAG helper module (dags/harmwatch_tasks.py) is importable through pytest's ``pythonpath`` setting,
# as Airflow's dags-folder bundle makes it importable for the DAG files.


@pytest.fixture
def dagbag(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], object]]:
    """Parse the dags folder with a given HARMWATCH_RUNNER; returns the DagBag."""

    def load(runner: str = "local", **env: str) -> object:
        from airflow.dag_processing.dagbag import DagBag

        monkeypatch.setenv("HARMWATCH_RUNNER", runner)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return DagBag(dag_folder=str(DAGS), safe_mode=False)

    yield load

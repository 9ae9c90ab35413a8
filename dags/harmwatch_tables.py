"""The harmwatch package's import-light tables, loaded by their path for the DAG files.

The DAGs are made from tables the steps read too: the gate table (``jobs/harmwatch/model/gates.py``: the
trigger form) and the secrets each command uses (``jobs/harmwatch/access.py``: a step pod's environment).
Both import only the standard library. They are loaded here by path, so parsing a DAG imports no
harmwatch package: the Airflow image has none, and keeps those files at the same place beside ``dags/``
(docker/airflow.Dockerfile).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PACKAGE = Path(__file__).resolve().parents[1] / "jobs" / "harmwatch"


def package_table(relative: str) -> ModuleType:
    """The module at ``jobs/harmwatch/<relative>``, loaded once, without importing the harmwatch package."""
    path = PACKAGE / relative
    name = "harmwatch_table_" + relative.removesuffix(".py").replace("/", "_")
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"a table the DAGs are made from is missing: {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the table is built
        spec.loader.exec_module(module)
    return sys.modules[name]

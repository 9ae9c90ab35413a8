"""The retrain DAG's threshold Params and the evaluate arguments they become, made from the gate table.

The table is ``jobs/harmwatch/model/gates.py``, the one place a threshold is declared. It imports only
the standard library, and it is loaded here by its path, so parsing a DAG imports no harmwatch (the
Airflow image has no harmwatch package; it keeps that one file at the same place beside ``dags/``).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from airflow.sdk import Param

GATE_TABLE = Path(__file__).resolve().parents[1] / "jobs" / "harmwatch" / "model" / "gates.py"


def gate_table() -> ModuleType:
    """The gate table module, loaded once from :data:`GATE_TABLE` without importing the harmwatch package."""
    name = "harmwatch_gate_table"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, GATE_TABLE)
        if spec is None or spec.loader is None:
            raise ImportError(f"the gate table is missing: {GATE_TABLE}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the table is built
        spec.loader.exec_module(module)
    return sys.modules[name]


def _param(gate: Any) -> Param:
    """A trigger-form field for one gate: a share in [0, 1], or a whole number of at least 1."""
    bounds: dict[str, Any] = (
        {"type": "integer", "minimum": 1}
        if isinstance(gate.default, int)
        else {"type": "number", "minimum": 0, "maximum": 1}
    )
    return Param(
        gate.default, title=gate.title, description=gate.help[0].upper() + gate.help[1:] + ".", **bounds
    )


def threshold_params() -> dict[str, Param]:
    """One Param per gate the trigger form shows, named as the gate, defaults the evaluate step's own."""
    return {gate.name: _param(gate) for gate in gate_table().GATES if gate.on_form}


def threshold_arguments() -> list[str]:
    """``--option={{ params.name }}`` for every threshold on the trigger form, for the evaluate task."""
    return [f"{gate.option}={{{{ params.{gate.name} }}}}" for gate in gate_table().GATES if gate.on_form]

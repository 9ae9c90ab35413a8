"""The retrain DAG's threshold Params and the evaluate arguments they become, made from the gate table.

The table is ``jobs/harmwatch/model/gates.py``, the one place a threshold is declared; it is loaded by
its path (dags/harmwatch_tables.py), so parsing a DAG imports no harmwatch package.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from airflow.sdk import Param
from harmwatch_tables import package_table


def gate_table() -> ModuleType:
    """The gate table (``jobs/harmwatch/model/gates.py``), loaded by path (dags/harmwatch_tables.py)."""
    return package_table("model/gates.py")


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

"""One home per setting: the gate table and what is made from it (the DAG side is in tests/dags)."""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import asdict, fields
from pathlib import Path

from harmwatch.model import gates
from harmwatch.model.gates import DIRECTIONS, GATES, Thresholds
from harmwatch.steps import evaluate


def test_the_gate_table_imports_only_the_standard_library() -> None:
    """The Airflow image loads this one file without the harmwatch package or its dependencies."""
    tree = ast.parse(Path(gates.__file__).read_text())
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


def test_every_gate_is_described_and_is_a_threshold_field() -> None:
    assert [f.name for f in fields(Thresholds)] == [gate.name for gate in GATES]
    assert asdict(Thresholds()) == {gate.name: gate.default for gate in GATES}
    for gate in GATES:
        assert gate.direction in DIRECTIONS, gate.name
        assert gate.help and gate.unit and gate.what, gate.name
        assert gate.follows is None or gate.follows in gates.BY_NAME, gate.name


def test_evaluate_options_and_help_come_from_the_table() -> None:
    parser = argparse.ArgumentParser()
    evaluate.add_arguments(parser)
    help_text = " ".join(parser.format_help().split())
    for gate in GATES:
        assert gate.option in help_text, gate.name
        assert f"default {'--max-regression' if gate.follows else gate.default})" in help_text, gate.name
    assert evaluate.thresholds_of(parser.parse_args([])) == Thresholds()
    # A tolerance left unset follows the one it is declared to follow, as before the table.
    loose = evaluate.thresholds_of(parser.parse_args(["--max-regression", "0.05"]))
    assert loose.max_class_regression == 0.05
    both = evaluate.thresholds_of(
        parser.parse_args(["--max-regression", "0.05", "--max-class-regression", "0.01"])
    )
    assert (both.max_regression, both.max_class_regression) == (0.05, 0.01)

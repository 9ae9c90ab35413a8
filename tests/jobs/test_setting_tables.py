"""One home per setting: the gate table and what is made from it (the DAG side is in tests/dags)."""

from __future__ import annotations

import argparse
from dataclasses import asdict, fields
from pathlib import Path

from harmwatch.model import gates
from harmwatch.model.gates import DIRECTIONS, GATES, Thresholds
from harmwatch.steps import evaluate
from tests.conftest import non_stdlib_imports


def test_the_gate_table_imports_only_the_standard_library() -> None:
    """The Airflow image loads this one file without the harmwatch package or its dependencies."""
    assert not non_stdlib_imports(Path(gates.__file__))


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


def test_the_policy_and_build_dataset_read_the_defence_registry() -> None:
    from harmwatch.data.defences import DEFENCE_NAMES, DEFENCES
    from harmwatch.data.weak_labels import Policy, Rules
    from harmwatch.steps import build_dataset

    shipped = Policy()
    for defence in DEFENCES:
        assert getattr(shipped, defence.setting) == defence.default, defence.name
        assert getattr(shipped.with_(defence.name), defence.setting) == defence.on, defence.name
        assert getattr(shipped.without(defence.name), defence.setting) == defence.off, defence.name
        assert not defence.off, defence.name
    # The settings keep the order the build manifests show: the rules first, then the defences.
    settings = [f.name for f in fields(Policy)]
    assert settings == [f.name for f in fields(Rules)] + [d.setting for d in DEFENCES]
    parser = argparse.ArgumentParser()
    build_dataset.add_arguments(parser)
    args = parser.parse_args(["--defences-off", *DEFENCE_NAMES])
    assert build_dataset.policy_of(args) == shipped.without(*DEFENCE_NAMES)
    help_text = " ".join(parser.format_help().split())
    assert f"(default {Rules.min_reporters})" in help_text
    assert f"(default {shipped.spot_check_rate})" in help_text


def test_unknown_defences_are_named_with_the_known_ones() -> None:
    import pytest

    from harmwatch.data.weak_labels import Policy

    for switch in (Policy().with_, Policy().without):
        with pytest.raises(ValueError, match="unknown defences \\['sybil'\\]; known: before_report"):
            switch("cohorts", "sybil")


def test_review_kinds_name_every_reason_a_defence_or_rule_gives() -> None:
    import pandas as pd

    from harmwatch.data.defences import DEFENCES
    from harmwatch.data.weak_labels import REVIEW_KINDS, review_kind

    kinds = {d.review_kind for d in DEFENCES if d.review_kind}
    assert kinds | {"disagreement", "too_few_reporters", "low_reliability"} == set(REVIEW_KINDS.values())
    reasons = pd.Series(
        [
            "reporters disagree (harassment 3, religion 3)",
            "5 distinct reporter(s) in 2 co-reporting cohort(s) agree (policy needs 3)",
            "2 distinct reporter(s) agree (policy needs 3)",
            "mean reporter reliability 0.55 (policy needs 0.80)",
            "the champion strongly disagrees: p(label) 0.001 < 0.02",
            "spot check: a random 5% of accepted weak labels goes to moderators",
        ]
    )
    assert review_kind(reasons).tolist() == [
        "disagreement",
        "cohort",
        "too_few_reporters",
        "low_reliability",
        "champion",
        "spot_check",
    ]


def test_the_docs_table_of_defences_is_the_registry() -> None:
    from harmwatch.data.defences import markdown_table

    page = (Path(__file__).resolve().parents[2] / "docs" / "weak-labels.md").read_text()
    shown = page.split("<!-- defences: jobs/harmwatch/data/defences.py -->\n")[1].split(
        "\n<!-- /defences -->"
    )[0]
    assert shown == markdown_table(), "docs/weak-labels.md: paste harmwatch.data.defences.markdown_table()"


def test_the_docs_table_of_thresholds_is_the_gate_table() -> None:
    from harmwatch.model.gates import markdown_table

    page = (Path(__file__).resolve().parents[2] / "docs" / "model.md").read_text()
    shown = page.split("<!-- gates: jobs/harmwatch/model/gates.py -->\n")[1].split("\n<!-- /gates -->")[0]
    assert shown == markdown_table(), "docs/model.md: paste harmwatch.model.gates.markdown_table()"

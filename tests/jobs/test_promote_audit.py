"""promote's writes for a reviewer's answer, on an embedded registry (no model needed: only tags,
aliases and the description are read and written)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow


def test_a_rejection_is_recorded_on_the_version_and_its_page(hw_env):
    from mlflow import MlflowClient

    from harmwatch.config import load_settings
    from harmwatch.registry import configure_mlflow

    settings = load_settings()
    client: MlflowClient = configure_mlflow(settings)
    client.create_registered_model(settings.model_name)
    version = client.create_model_version(
        settings.model_name, "file:///nowhere", description="## Decision: x"
    )
    for key, value in {
        "harmwatch.decision": "pending_approval",
        "harmwatch.evaluated_against": "none",
    }.items():
        client.set_model_version_tag(settings.model_name, version.version, key, value)
    client.set_registered_model_alias(settings.model_name, "challenger", version.version)
    args = [
        "promote",
        "--date",
        "2026-01-03",
        "--review",
        "rejected",
        "--reviewer",
        "carol",
        "--review-note",
        "no",
    ]
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["promoted"] is False and summary["rejected_by"] == "carol"
    mv = client.get_model_version(settings.model_name, version.version)
    assert mv.tags["harmwatch.decision"] == "reject" and mv.tags["harmwatch.reviewed_by"] == "carol"
    assert mv.description.startswith("> **Rejected** by carol on 2026-01-03: rejected by carol: no")
    assert mv.description.endswith("## Decision: x")
    assert run_cli(*args).returncode == 0  # a rerun writes the same, adds nothing
    again = client.get_model_version(settings.model_name, version.version).description
    assert again == mv.description

"""Champion/challenger lifecycle against a real MLflow tracking server (SQLite backend) on 127.0.0.1.

The session fixture ``lifecycle`` (conftest.py) trains model A on a sample and model B on the full
training snapshot and promotes both through `harmwatch evaluate` / `harmwatch promote`. Tests here run in
file order: the last one demotes the champion (rollback), so earlier ones only read the registry.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from harmwatch.config import load_settings
from harmwatch.errors import ServiceUnavailable
from tests.conftest import free_port
from tests.model.conftest import SMALL_MODEL_FLOORS, cli_env, hw, mlflow_globals_restored


def client_for(env: dict[str, str]):
    from mlflow import MlflowClient

    uri = env["HARMWATCH_MLFLOW_TRACKING_URI"]
    return MlflowClient(tracking_uri=uri, registry_uri=uri)  # not the process-global registry URI


def aliases(env: dict[str, str]) -> dict[str, str]:
    model = client_for(env).get_registered_model(env["HARMWATCH_MODEL_NAME"])
    return {alias: str(version) for alias, version in model.aliases.items()}


def read_artifact(env: dict[str, str], run_id: str, path: str) -> str:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        return Path(client_for(env).download_artifacts(run_id, path, dst_path=tmp)).read_text()


def version_tags(env: dict[str, str], version: str) -> dict[str, str]:
    return client_for(env).get_model_version(env["HARMWATCH_MODEL_NAME"], version).tags


@pytest.mark.server
@pytest.mark.model
def test_first_model_clears_floors_only(lifecycle: dict[str, Any]):
    ev = lifecycle["eval_a"]
    assert ev["decision"] == "promote", ev["failed_gates"]
    assert ev["champion_version"] is None and ev["delta_ci"] is None
    assert lifecycle["promote_a"]["promoted"] is True
    tags = version_tags(lifecycle["env"], lifecycle["train_a"]["model_version"])
    assert tags["harmwatch.evaluated_against"] == "none" and tags["harmwatch.decision"] == "promote"


@pytest.mark.server
@pytest.mark.model
def test_better_challenger_is_promoted_with_evidence(lifecycle: dict[str, Any]):
    env, a, b = lifecycle["env"], lifecycle["train_a"]["model_version"], lifecycle["train_b"]["model_version"]
    ev = lifecycle["eval_b"]
    assert ev["decision"] == "promote", ev["failed_gates"]
    assert ev["champion_version"] == a and ev["challenger_version"] == b
    assert ev["challenger_macro_f1"] > ev["champion_macro_f1"]
    assert ev["delta_ci"][0] > 0, "the full-data model should be better than the 4k-sample model with 95% CI"
    assert lifecycle["promote_b"]["promoted"] is True
    assert aliases(env)["champion"] == b and aliases(env)["previous-champion"] == a
    tags = version_tags(env, b)
    assert tags["harmwatch.decision"] == "promote" and tags["harmwatch.evaluated_against"] == a
    assert float(tags["harmwatch.macro_f1"]) == pytest.approx(ev["challenger_macro_f1"], abs=1e-4)
    assert tags["harmwatch.promoted_from"] == a and tags["harmwatch.forced"] == "false"
    decision = json.loads(read_artifact(env, lifecycle["train_b"]["run_id"], "evaluation/decision.json"))
    assert decision["decision"] == "promote" and decision["champion"]["version"] == a
    assert set(decision["gates"]) >= {
        "macro_f1_floor",
        "class_f1_floor",
        "calibration",
        "golden",
        "smoke",
        "class_regression",
        "macro_f1_delta_ci",
        "identity_fpr",
        "group_bpsn",
        "bias_auc",
        "fairness_regression",
        "group_not_flagged",
        "functionality_floor",
        "hateful_caught",
        "recent_slice",
    }
    assert decision["smoke"]["ok"] is True
    # The behaviour suite, both models: evidence, metrics and a page on the run, and on the version page.
    from harmwatch.behaviour import FUNCTIONALITIES, SUITE_VERSION

    suite = decision["behaviour"]
    assert suite["challenger"]["suite_version"] == SUITE_VERSION == suite["champion"]["suite_version"]
    metrics = client_for(env).get_run(lifecycle["train_b"]["run_id"]).data.metrics
    assert {f"behaviour_fn_{f}" for f in FUNCTIONALITIES} | {"behaviour_hateful"} <= set(metrics)
    assert metrics["behaviour_overall"] == pytest.approx(suite["challenger"]["overall"])
    page = read_artifact(env, lifecycle["train_b"]["run_id"], "evaluation/behaviour.md")
    assert page.startswith(f"**Behaviour suite** `{SUITE_VERSION}`")
    described = client_for(env).get_model_version(env["HARMWATCH_MODEL_NAME"], b).description
    assert (
        f"**Behaviour suite** `{SUITE_VERSION}`" in described
        and "Identity templates (216 posts)" in described
    )
    assert tags["harmwatch.failed_gates"] == "none"
    # The recent slice (the newest batch, held out of both models' training) was judged, or said why not.
    recent = decision["gates"]["recent_slice"]
    assert recent["applied"] is (decision["recent"]["rows"] >= 200), recent
    assert (
        decision["fairness"]["challenger"]["templates"] == 216
        and len(decision["fairness"]["champion"]["groups"]) == 18
    )


@pytest.mark.server
@pytest.mark.model
def test_promote_twice_changes_nothing(lifecycle: dict[str, Any]):
    env = lifecycle["env"]
    before = aliases(env)
    again = hw("promote", env=env)
    assert again["promoted"] is False and "already champion" in again["reason"]
    assert aliases(env) == before


@pytest.mark.server
@pytest.mark.model
def test_worse_challenger_is_never_promoted_and_rollback_restores(lifecycle: dict[str, Any]):
    env, a, b = lifecycle["env"], lifecycle["train_a"]["model_version"], lifecycle["train_b"]["model_version"]
    worse = hw("train", "--sample-rows", "600", "--n-jobs", "1", env=env)
    ev = hw("evaluate", env=env)
    assert ev["decision"] == "reject" and ev["challenger_version"] == worse["model_version"]
    assert "macro_f1_floor" in ev["failed_gates"] and "macro_f1_delta_ci" in ev["failed_gates"]
    assert ev["delta_ci"][1] < 0
    for _ in range(2):
        out = hw("promote", env=env)
        assert out["promoted"] is False and out["decision"] == "reject"
    assert aliases(env)["champion"] == b
    forced_without_reason = hw("promote", "--force", env=env, ok=False)["stderr"].strip()
    assert forced_without_reason.count("\n") == 0 and "--reason" in forced_without_reason
    assert aliases(env)["champion"] == b

    back = hw("rollback", "--reason", "drill", env=env)
    assert back == {**back, "rolled_back": True, "champion_version": a, "demoted_version": b}
    assert aliases(env)["champion"] == a
    assert hw("rollback", env=env)["rolled_back"] is False
    assert aliases(env)["champion"] == a
    assert version_tags(env, b)["harmwatch.decision"] == "rolled_back"
    assert hw("promote", env=env)["promoted"] is False  # the rejected challenger stays out
    assert aliases(env)["champion"] == a


@pytest.mark.server
@pytest.mark.model
def test_approval_mode_reviews_forcing_and_a_champion_set_by_hand_are_recorded(
    csv_home, mlflow_server, lifecycle, monkeypatch
):
    env = cli_env(csv_home, mlflow_server.uri, "harmful-content-approval")
    name = env["HARMWATCH_MODEL_NAME"]
    # floors relaxed for a 1,500-row model: this test is about the approval flow, not quality
    relaxed = ["--min-macro-f1", "0.5", "--min-class-f1", "0.3", "--max-ece", "0.2", *SMALL_MODEL_FLOORS]
    relaxed += ["--min-golden-pass=0", "--min-golden-must-flag=0", "--min-golden-benign=0"]
    relaxed += ["--max-regression", "0.05"]  # two 1,500-row models: the flow is under test, not their gap
    via = ["--via", "Airflow harmful_content_retrain run manual__1"]
    first = hw("train", "--sample-rows", "1500", "--n-jobs", "1", env=env)["model_version"]
    ev = hw("evaluate", *relaxed, "--approval", "--date", "2026-01-04", env=env)
    assert ev["decision"] == "pending_approval", ev["failed_gates"]
    assert ev["review"].startswith("## Decision: pending_approval") and "| macro-F1 |" in ev["review"]
    page = client_for(env).get_model_version(name, first).description
    assert page.startswith("## Decision: pending_approval") and "# Model card:" in page, "readable in the UI"
    pending = hw("promote", env=env)
    assert pending["promoted"] is False and "waiting for a reviewer" in pending["reason"]
    assert "champion" not in aliases(env)

    # A reviewer rejects: recorded on the version; promote no longer acts on it.
    reject = ["--review", "rejected", "--reviewer", "carol", "--review-note", "too few posts"]
    rejected = hw("promote", "--date", "2026-01-04", *reject, *via, env=env)
    assert rejected["promoted"] is False and rejected["rejected_by"] == "carol"
    tags = version_tags(env, first)
    assert (tags["harmwatch.decision"], tags["harmwatch.decision_before_review"]) == (
        "reject",
        "pending_approval",
    )
    assert (tags["harmwatch.reviewed_by"], tags["harmwatch.review_note"]) == ("carol", "too few posts")
    assert hw("promote", env=env)["promoted"] is False and "champion" not in aliases(env)

    # Forcing overrides it, with who and why.
    forced = hw("promote", "--force", "--reason", "on-call needs a model", "--actor", "dave", *via, env=env)
    assert forced["promoted"] is True and forced["forced"] is True and forced["promoted_by"] == "dave"
    tags = version_tags(env, first)
    assert tags["harmwatch.force_reason"] == "on-call needs a model" and tags["harmwatch.forced"] == "true"
    assert tags["harmwatch.promoted_by"] == "dave" and tags["harmwatch.promoted_via"] == via[1]
    assert tags["harmwatch.overridden_gates"] == "none", "relaxed gates: only the reviewer was overridden"
    page = client_for(env).get_model_version(name, first).description
    assert page.startswith("> **Champion**") and "forced (no gate had failed) (on-call needs a model;" in page

    # The next challenger waits, a reviewer approves: promoted in the reviewer's name.
    # Same inputs would reuse the version (train is idempotent): --retrain registers a new one.
    second = hw("train", "--sample-rows", "1500", "--n-jobs", "1", "--retrain", env=env)["model_version"]
    assert second != first
    assert hw("evaluate", *relaxed, "--approval", env=env)["decision"] == "pending_approval"
    approve = ["--review", "approved", "--reviewer", "bob", "--review-note", "gates pass", "--actor", "alice"]
    approved = hw("promote", "--date", "2026-01-05", *approve, *via, env=env)
    assert approved["promoted"] is True and approved["promoted_by"] == "bob"
    assert aliases(env) == {**aliases(env), "champion": second, "previous-champion": first}
    tags = version_tags(env, second)
    assert (tags["harmwatch.review"], tags["harmwatch.reviewed_by"], tags["harmwatch.promoted_by"]) == (
        "approved",
        "bob",
        "bob",
    )
    assert tags["harmwatch.promotion_reason"] == "approved by bob: gates pass"
    record = json.loads(client_for(env).get_registered_model(name).tags["harmwatch.champion_record"])
    assert (record["version"], record["previous"], record["by"], record["done"]) == (
        second,
        first,
        "bob",
        True,
    )

    # A person moves champion back by hand in the MLflow UI (here: the admin, through the same API).
    with monkeypatch.context() as admin:
        admin.setenv("MLFLOW_TRACKING_USERNAME", mlflow_server.admin[0])
        admin.setenv("MLFLOW_TRACKING_PASSWORD", mlflow_server.admin[1])
        client_for(env).set_registered_model_alias(name, "champion", first)
    noticed = hw("promote", "--date", "2026-01-06", env=env)["champion_set_outside_harmwatch"]
    assert noticed == {**noticed, "champion_version": first, "set_outside_harmwatch": True}
    assert aliases(env)["champion"] == first and aliases(env)["previous-champion"] == second
    tags = version_tags(env, first)
    assert (
        tags["harmwatch.promoted_by"] == "set outside harmwatch" and tags["harmwatch.promoted_from"] == second
    )
    assert "noticed by harmwatch promote on 2026-01-06" in tags["harmwatch.promotion_reason"]
    assert hw("promote", env=env)["champion_set_outside_harmwatch"] is None, "recorded once"

    # A decision taken against a champion that has since changed (here: alias removed by hand) is stale.
    client_for(env).delete_registered_model_alias(name, "champion")
    stale = hw("promote", *approve, env=env)
    assert stale["promoted"] is False and "evaluate again" in stale["reason"]
    assert "champion" not in aliases(env)


def test_unreachable_mlflow_is_one_line_service_unavailable(hw_env, monkeypatch):
    from harmwatch.registry import configure_mlflow

    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with mlflow_globals_restored(), pytest.raises(ServiceUnavailable) as err:
        configure_mlflow(load_settings(mlflow_tracking_uri=uri, mlflow_attempts=2, mlflow_backoff=0.05))
    assert str(err.value).startswith(f"MLflow at {uri} unreachable:") and "\n" not in str(err.value)


@pytest.mark.server
def test_missing_alias_is_none_and_a_clear_error(mlflow_server, hw_env):
    from harmwatch.errors import HarmwatchError
    from harmwatch.registry import configure_mlflow, get_alias_version, require_alias_version

    settings = load_settings(mlflow_tracking_uri=mlflow_server.uri, model_name="harmful-content-nothing")
    with mlflow_globals_restored():
        client = configure_mlflow(settings)
    assert get_alias_version(client, settings.model_name, "champion") is None
    with pytest.raises(HarmwatchError, match="no version of model 'harmful-content-nothing' has alias"):
        require_alias_version(client, settings, "champion")
    assert client.get_experiment_by_name("harmwatch") is not None

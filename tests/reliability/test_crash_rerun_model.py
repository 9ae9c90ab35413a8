"""Crash and rerun for the model steps: build-dataset, train, evaluate, promote and rollback SIGKILLed
part-way (HARMWATCH_FAULT_KILL_AT=<checkpoint>#<n>, see harmwatch.faults), then rerun. The rerun gives the
result of an uninterrupted run: the same snapshots, one model version per training, the same decision,
and aliases that end where an uninterrupted promote/rollback puts them, each moved once.

One real MLflow server (SQLite backend, 127.0.0.1) and one small lake (6,000 real posts) serve the module;
the tests run in file order and build on each other's registry state (model ``crash``), so the whole file
fits three small models (1,500-row samples) and evaluates twice.
"""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

import pytest

from harmwatch.storage import open_store
from tests.conftest import run_cli, start_mlflow, stop_process
from tests.model.conftest import cli_env, write_validated_lake

pytestmark = [pytest.mark.server, pytest.mark.model, pytest.mark.slow]

MODEL = "crash"
TRAIN = ["--sample-rows", "1500", "--reference-rows", "300"]
# A 1,500-row model is far below the production floors; the gates under test here are the crash points.
EVALUATE = [
    "--min-macro-f1",
    "0.3",
    "--min-class-f1",
    "0.05",
    "--min-golden-pass",
    "0",
    "--min-golden-must-flag=0",
    "--min-golden-benign=0",
    "--max-group-fpr=1",
    "--min-group-bpsn=0",
    "--min-group-not-flagged=0",
    "--min-functionality=0",
    "--min-hateful-caught=0",
    "--min-bias-score=0",
    "--max-group-fpr-increase=1",
    "--max-bias-score-drop=1",
    "--max-recent-regression=1",
    "--max-ece",
    "1",
    "--n-boot",
    "200",
]
SUMMARY_KEYS = [
    "macro_f1",
    "f1",
    "ece",
    "harmful_pr_auc",
    "golden_passed",
    "train_version",
    "eval_version",
    "rows_train",
    "rows_eval",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_mlflow(tmp_path_factory.mktemp("mlflow-crash"))
    try:
        yield srv
    finally:
        stop_process(srv.proc, timeout=5)  # SIGTERM, then SIGKILL: its state is not needed afterwards


@pytest.fixture(scope="module")
def validated(tmp_path_factory, source_csv) -> Path:
    """A lake holding validated tables only (the input of build-dataset)."""
    lake = tmp_path_factory.mktemp("validated") / "lake"
    write_validated_lake(source_csv, str(lake), days=2, limit=6000)
    return lake


def lake_copy(validated: Path, where: Path) -> Path:
    lake = where / "lake"
    shutil.copytree(validated, lake)
    return lake


def env_for(home: Path, server, lake: Path, model: str = MODEL) -> dict[str, str]:
    return {**cli_env(home, server.uri, model), "HARMWATCH_LAKE_URI": str(lake)}


def run(*args: str, env: dict[str, str], kill_at: str | None = None):
    return run_cli(*args, env={**env, **({"HARMWATCH_FAULT_KILL_AT": kill_at} if kill_at else {})})


def ok(proc) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def killed(proc) -> None:
    assert proc.returncode == -signal.SIGKILL, f"not killed ({proc.returncode}): {proc.stderr[-2000:]}"


def dataset_state(lake: Path) -> dict[str, Any]:
    """Everything build-dataset leaves for the next steps: committed manifests (with file hashes), the
    LATEST pointer, and the list of files (so a killed run's leftovers would show)."""
    store = open_store(str(lake))
    state: dict[str, Any] = {"files": sorted(o.key for o in store.list("datasets") + store.list("review"))}
    for prefix in ("datasets", "review"):
        state[prefix] = {m["prefix"]: m for m in store.committed(prefix)}
    state["latest"] = (
        store.read_json("datasets/train/LATEST.json") if store.exists("datasets/train/LATEST.json") else None
    )
    return state


@pytest.fixture(scope="module")
def built(tmp_path_factory, validated, server) -> dict[str, Any]:
    """The uninterrupted build-dataset: the lake every model test trains from."""
    home = tmp_path_factory.mktemp("built")
    lake = lake_copy(validated, home)
    summary = ok(run("build-dataset", env=env_for(home, server, lake)))
    return {"lake": lake, "summary": summary, "state": dataset_state(lake)}


def client_for(server):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=server.uri, registry_uri=server.uri)


def versions(server, model: str = MODEL) -> list[Any]:
    return sorted(client_for(server).search_model_versions(f"name = '{model}'"), key=lambda v: int(v.version))


def aliases(server, model: str = MODEL) -> dict[str, str]:
    return {a: str(v) for a, v in client_for(server).get_registered_model(model).aliases.items()}


def artifact_text(server, run_id: str, path: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        return Path(client_for(server).download_artifacts(run_id, path, tmp)).read_text()


# -- build-dataset -----------------------------------------------------------------------------------------
# Writes of a first build: eval.parquet, its manifest, reporters, manifest, train.parquet, manifest,
# queue.parquet, queue.csv, manifest, LATEST. Kill after 5 (eval and reporters committed, training data
# written but not committed) and 9 (all committed but the LATEST pointer the next step starts from).
@pytest.mark.parametrize("nth", [5, 9])
def test_build_dataset_killed_then_rerun(nth, tmp_path, validated, server, built):
    lake = lake_copy(validated, tmp_path)
    env = env_for(tmp_path, server, lake)
    killed(run("build-dataset", env=env, kill_at=f"write#{nth}"))
    assert any((lake / "datasets").rglob("*.parquet")), "the kill came after some output was written"
    # Nothing half-built is visible to the next step: train finds no committed training snapshot.
    blocked = run("train", env=env)
    assert blocked.returncode == 3 and "no training snapshot" in blocked.stderr
    rerun = ok(run("build-dataset", env=env))
    # eval_reused says whether the killed run had committed the evaluation snapshot already
    assert {**rerun, "eval_reused": None} == {**built["summary"], "eval_reused": None}
    assert dataset_state(lake) == built["state"]


# -- train ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_env(tmp_path_factory, server, built) -> dict[str, str]:
    return env_for(tmp_path_factory.mktemp("model"), server, built["lake"])


@pytest.fixture(scope="module")
def trained(model_env, server) -> dict[str, Any]:
    """Train killed right after opening its run (before the fit); the rerun trains uninterrupted and is
    the reference the other crash reruns are compared with (training is deterministic given the seed)."""
    killed(run("train", *TRAIN, "--date", "2026-02-01", env=model_env, kill_at="run"))
    client = client_for(server)
    dead = client.search_runs([client.get_experiment_by_name("harmwatch").experiment_id])
    assert [r.info.status for r in dead] == ["RUNNING"] and versions(server) == []
    summary = ok(run("train", *TRAIN, "--date", "2026-02-01", env=model_env))
    assert summary["reused"] is False and summary["model_version"] == "1"
    killed_run = client.get_run(dead[0].info.run_id)
    assert killed_run.info.status == "FAILED" and "harmwatch.abandoned" in killed_run.data.tags
    return summary


def same_result(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert {k: got[k] for k in SUMMARY_KEYS} == {k: want[k] for k in SUMMARY_KEYS}


def assert_complete(server, summary: dict[str, Any]) -> None:
    client = client_for(server)
    mv = client.get_model_version(MODEL, summary["model_version"])
    assert mv.tags["harmwatch.train_complete"] == "true" and mv.run_id == summary["run_id"]
    assert mv.description.startswith(f"# Model card: {MODEL} version {summary['model_version']}")
    assert client.get_run(summary["run_id"]).info.status == "FINISHED"
    assert "## Intended use" in artifact_text(server, summary["run_id"], "model_card.md")
    assert aliases(server)["challenger"] == summary["model_version"]


def test_train_killed_before_fit_then_rerun(trained, server):
    assert [v.version for v in versions(server)] == ["1"]
    assert_complete(server, trained)


def test_train_killed_after_logging_then_rerun(model_env, server, trained):
    """Killed with the model logged but not registered: the rerun registers that model, no second fit."""
    killed(run("train", *TRAIN, "--date", "2026-02-02", env=model_env, kill_at="logged"))
    assert len(versions(server)) == 1 and aliases(server)["challenger"] == "1"
    summary = ok(run("train", *TRAIN, "--date", "2026-02-02", env=model_env))
    assert summary["reused"] is True and summary["model_version"] == "2"
    same_result(summary, trained)
    assert [v.version for v in versions(server)] == ["1", "2"]
    assert_complete(server, summary)


def test_train_killed_after_registration_then_rerun(model_env, server, trained):
    """The known gap: killed after the version was registered. The rerun completes that version (card,
    description, tags, run status) and points challenger at it instead of registering a second one."""
    killed(run("train", *TRAIN, "--date", "2026-02-03", env=model_env, kill_at="registered"))
    half = versions(server)[-1]
    assert half.version == "3" and "harmwatch.train_complete" not in half.tags
    assert aliases(server)["challenger"] == "2"  # challenger not moved to a half-finished version
    assert client_for(server).get_run(half.run_id).info.status == "RUNNING"
    summary = ok(run("train", *TRAIN, "--date", "2026-02-03", env=model_env))
    assert summary["reused"] is True and summary["model_version"] == "3" and summary["run_id"] == half.run_id
    same_result(summary, trained)
    assert_complete(server, summary)
    again = ok(run("train", *TRAIN, "--date", "2026-02-03", env=model_env))  # after success: a no-op
    assert again == summary
    assert [v.version for v in versions(server)] == ["1", "2", "3"]


def test_train_killed_after_alias_then_rerun(model_env, server, trained):
    """Killed right after moving challenger (to version 2, the version of its inputs): the rerun finds the
    alias in place and moves nothing (with the same fault armed, it exits 0: no alias checkpoint passed)."""
    killed(run("train", *TRAIN, "--date", "2026-02-02", env=model_env, kill_at="alias"))
    assert aliases(server)["challenger"] == "2"
    summary = ok(run("train", *TRAIN, "--date", "2026-02-02", env=model_env, kill_at="alias"))
    assert summary["model_version"] == "2" and summary["reused"] is True and len(versions(server)) == 3


# -- evaluate ------------------------------------------------------------------------------------------------
def test_evaluate_killed_then_rerun(model_env, server, trained):
    """Killed after writing its evidence but before the decision tags: promote refuses to act; the rerun
    records the decision the interrupted attempt had computed."""
    killed(run("evaluate", *EVALUATE, env=model_env, kill_at="decision"))
    challenger = client_for(server).get_model_version(MODEL, "2")
    assert "harmwatch.decision" not in challenger.tags
    interrupted = json.loads(artifact_text(server, challenger.run_id, "evaluation/decision.json"))
    refused = run("promote", env=model_env)
    assert refused.returncode == 2 and "no evaluation decision" in refused.stderr
    assert "champion" not in aliases(server)
    summary = ok(run("evaluate", *EVALUATE, env=model_env))
    tags = client_for(server).get_model_version(MODEL, "2").tags
    assert summary["decision"] == tags["harmwatch.decision"] == interrupted["decision"] == "promote"
    assert tags["harmwatch.evaluated_against"] == "none"
    final = json.loads(artifact_text(server, challenger.run_id, "evaluation/decision.json"))
    assert final["gates"] == interrupted["gates"]
    assert final["challenger"]["metrics"] == interrupted["challenger"]["metrics"]


# -- promote and rollback -------------------------------------------------------------------------------
def test_first_promote_killed_after_audit_then_rerun(model_env, server):
    killed(run("promote", env=model_env, kill_at="audit"))
    assert "champion" not in aliases(server)
    assert client_for(server).get_model_version(MODEL, "2").tags["harmwatch.promoted_from"] == "none"
    out = ok(run("promote", env=model_env))
    assert out["promoted"] is True and aliases(server) == {"challenger": "2", "champion": "2"}


def test_promote_killed_between_alias_moves_then_rerun(model_env, server):
    """Version 3 becomes challenger again (its inputs' version, reused) with a promote decision against
    champion 2. The decision tags are written here as evaluate writes them (an evaluate run costs a minute
    on this machine, and evaluate's own crash test is above). Promote is killed after moving
    previous-champion, before champion: champion is unchanged; the rerun finishes the move; a third run
    changes nothing."""
    assert ok(run("train", *TRAIN, "--date", "2026-02-03", env=model_env))["model_version"] == "3"
    for key, value in {"harmwatch.decision": "promote", "harmwatch.evaluated_against": "2"}.items():
        client_for(server).set_model_version_tag(MODEL, "3", key, value)
    killed(run("promote", "--date", "2026-02-03", env=model_env, kill_at="alias#1"))
    assert aliases(server) == {"challenger": "3", "champion": "2", "previous-champion": "2"}
    out = ok(run("promote", "--date", "2026-02-03", env=model_env))
    assert out["promoted"] is True and out["previous_champion_version"] == "2"
    assert aliases(server) == {"challenger": "3", "champion": "3", "previous-champion": "2"}
    tags = client_for(server).get_model_version(MODEL, "3").tags
    assert tags["harmwatch.promoted_from"] == "2" and tags["harmwatch.promoted_on"] == "2026-02-03"
    again = ok(run("promote", "--date", "2026-02-03", env=model_env))
    assert again["promoted"] is False and "already champion" in again["reason"]
    assert aliases(server) == {"challenger": "3", "champion": "3", "previous-champion": "2"}
    assert len(versions(server)) == 3


def test_rollback_killed_before_alias_then_rerun(model_env, server):
    """Killed after tagging the demoted version, before moving champion back: the rerun moves it once."""
    from harmwatch.model.promotion import plan_promotion as plan

    killed(run("rollback", "--reason", "crash test", env=model_env, kill_at="audit"))
    assert aliases(server)["champion"] == "3"
    assert client_for(server).get_model_version(MODEL, "3").tags["harmwatch.decision"] == "rolled_back"
    out = ok(run("rollback", "--reason", "crash test", env=model_env))
    assert out["rolled_back"] is True and aliases(server)["champion"] == "2"
    tags = client_for(server).get_model_version(MODEL, "3").tags
    assert tags["harmwatch.decision_before_rollback"] == "promote"
    assert ok(run("rollback", env=model_env))["rolled_back"] is False
    assert aliases(server) == {"challenger": "3", "champion": "2", "previous-champion": "2"}
    # The demoted version's tags keep promote from bringing it back on its old decision.
    assert plan("3", tags["harmwatch.decision"], tags["harmwatch.evaluated_against"], "2", False)[0] is False

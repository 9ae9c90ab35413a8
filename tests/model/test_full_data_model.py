"""Tests of the full-data model (version B of the lifecycle fixture, trained once by `harmwatch train` and
loaded by its models:/ URI): quality on the frozen evaluation snapshot, the size of its reaction to an
insult, minimum functionality on the golden set at evaluate's own floors, and what its training run
recorded. What any good fit shows (invariance, the targeted group) is checked on the small model in
test_behaviour.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from harmwatch.config import CLASSES
from harmwatch.data.dataset import text_key
from harmwatch.model.decision import Thresholds, golden_floor
from harmwatch.model.golden import golden_frame
from harmwatch.model.metrics import classification_metrics, golden_check
from harmwatch.model.textmodel import SKOPS_TRUSTED_TYPES
from harmwatch.storage import open_store
from tests.model.conftest import mlflow_globals_restored
from tests.model.test_lifecycle import client_for, read_artifact

pytestmark = [pytest.mark.model, pytest.mark.server]

INSULT = " You are a worthless idiot and everyone hates you."


@pytest.fixture(scope="module")
def snapshots(lifecycle: dict[str, Any]) -> dict[str, pd.DataFrame]:
    store = open_store(str(Path(lifecycle["env"]["HARMWATCH_HOME"]) / "lake"))
    b = lifecycle["train_b"]
    return {
        "train": store.read_parquet(f"datasets/train/v={b['train_version']}/train.parquet"),
        "eval": store.read_parquet(f"datasets/eval/v={b['eval_version']}/eval.parquet"),
    }


@pytest.fixture(scope="module")
def probe(snapshots: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """60 evaluation posts per class: the benign ones get an insult appended."""
    sample = snapshots["eval"].groupby("label", group_keys=False).sample(60, random_state=0)
    return sample.reset_index(drop=True)


def test_quality_on_the_frozen_evaluation_snapshot(full_model, snapshots, lifecycle):
    ev = snapshots["eval"]
    metrics = classification_metrics(ev["label"], full_model.predict(ev[["text"]]))
    rounded = {k: round(v, 4) for k, v in metrics.items()}
    print("\nfrozen eval snapshot:", len(ev), "posts;", json.dumps(rounded), end=" ")
    assert metrics["macro_f1"] == pytest.approx(lifecycle["train_b"]["macro_f1"], abs=1e-4)  # registry == run
    # published: 0.874 (TF-IDF + LR), 0.865 (BERT). The identity-blind harm head trades a little macro-F1
    # on this keyword-gathered data for not flagging posts merely for naming a group (docs/model.md,
    # "Training for moderation"): the floor stays above the published figures.
    assert metrics["macro_f1"] >= 0.875
    assert metrics["f1_not_cyberbullying"] >= 0.69 and metrics["f1_other_cyberbullying"] >= 0.75
    assert min(metrics[f"f1_{c}"] for c in ("age", "ethnicity", "religion")) >= 0.95
    assert metrics["ece"] <= 0.03 and metrics["harmful_pr_auc"] >= 0.98


def test_evaluation_texts_never_appear_in_training(snapshots):
    train_keys = set(text_key(snapshots["train"]["text"]))
    eval_keys = set(text_key(snapshots["eval"]["text"]))
    assert len(eval_keys) == len(snapshots["eval"]) and not train_keys & eval_keys


def test_adding_an_insult_raises_the_harmful_score(full_model, probe):
    benign = pd.concat(
        [
            golden_frame().query("expect == 'no_flag'")[["text"]],
            probe.loc[probe["label"] == "not_cyberbullying", ["text"]],
        ],
        ignore_index=True,
    )
    before = full_model.predict(benign)["harmful_score"].to_numpy()
    after = full_model.predict(pd.DataFrame({"text": benign["text"] + INSULT}))["harmful_score"].to_numpy()
    assert (after > before).mean() >= 0.9 and np.median(after - before) > 0.1


def test_minimum_functionality_on_the_golden_set(full_model):
    golden = golden_frame()
    result = golden_check(golden, full_model.predict(golden[["text"]]))
    by_kind = result.groupby("kind")["passed"].mean()
    print("\ngolden set:", int(result["passed"].sum()), "/", len(result), by_kind.round(2).to_dict())
    floors = {k: golden_floor(k, Thresholds()) for k in by_kind.index}  # evaluate's own floors
    assert all(by_kind[k] >= floors[k] for k in floors), (by_kind.to_dict(), floors)
    assert result["passed"].mean() >= 0.6


def test_training_run_records_evidence_and_drift_reference(lifecycle, snapshots):
    env, b = lifecycle["env"], lifecycle["train_b"]
    client = client_for(env)
    run = client.get_run(b["run_id"])
    assert run.data.params["train_version"] == b["train_version"]
    assert run.data.tags["harmwatch.train_sha256"]
    assert run.data.tags["harmwatch.eval_version"] == b["eval_version"]
    assert {
        "macro_f1",
        "f1_not_cyberbullying",
        "precision_age",
        "recall_gender",
        "harmful_pr_auc",
        "ece",
    } <= set(run.data.metrics)
    artifacts = {a.path for a in client.list_artifacts(b["run_id"], "plots")}
    assert artifacts == {"plots/confusion_matrix.png", "plots/pr_curves.png", "plots/reliability_diagram.png"}
    card = read_artifact(env, b["run_id"], "model_card.md")
    assert "## Known failure modes" in card and "## Intended use" in card
    assert "| `not_cyberbullying` |" in card
    # The augmentation sources are versioned inputs: in the parameters, the record and the card.
    from harmwatch.behaviour import SUITE_VERSION
    from harmwatch.model.fitting import recipe_sources

    record = json.loads(read_artifact(env, b["run_id"], "train_record.json"))
    assert record["recipe"] == run.data.params["recipe"] == "moderate"
    assert record["augmentation"] == recipe_sources() and recipe_sources()
    for source in recipe_sources():
        assert f"{source['name']}@{source['version']}" in run.data.params["augmentation_sources"]
        assert f"`{source['name']}` version `{source['version']}`: {source['rows']} rows" in card
    assert f"## Behaviour suite\nHand-written functional cases (suite `{SUITE_VERSION}`" in card
    with mlflow_globals_restored():
        import mlflow

        mlflow.set_tracking_uri(env["HARMWATCH_MLFLOW_TRACKING_URI"])
        mlflow.set_registry_uri(env["HARMWATCH_MLFLOW_TRACKING_URI"])
        info = mlflow.models.get_model_info(f"models:/{env['HARMWATCH_MODEL_NAME']}/{b['model_version']}")
    assert info.flavors["sklearn"]["serialization_format"] == "skops"
    assert info.flavors["sklearn"]["skops_trusted_types"] == SKOPS_TRUSTED_TYPES
    assert info.signature.inputs.input_names() == ["text"]
    contract = ["label", "harmful_score", *[f"score_{c}" for c in CLASSES]]
    assert info.signature.outputs.input_names() == contract
    assert info.saved_input_example_info["type"] == "dataframe"

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(b["run_id"], "drift_reference/reference.parquet", tmp)
        ref = pd.read_parquet(path)
    assert list(ref.columns) == ["text", "label", "pred_label", "harmful_score"]
    assert 19_990 <= len(ref) <= 20_000 and set(ref["pred_label"]) <= set(CLASSES)
    assert ref["harmful_score"].between(0, 1).all()
    train_shares = snapshots["train"]["label"].value_counts(normalize=True)
    shares = ref["label"].value_counts(normalize=True) - train_shares
    assert shares.abs().max() < 0.005  # stratified
    assert (ref["pred_label"] == ref["label"]).mean() > 0.9


def test_no_suite_case_or_template_is_in_a_training_snapshot_or_an_augmentation_source(
    snapshots, tweeteval_dir
):
    from harmwatch.behaviour import overlaps
    from harmwatch.model.augmentation import augmentation_frame

    assert overlaps(snapshots["train"]["text"], contained=True) == [], "the suite leaked into training"
    assert overlaps(snapshots["eval"]["text"], contained=True) == []
    for source in (None, tweeteval_dir):
        frame = augmentation_frame(source)
        assert len(frame) and overlaps(frame["text"], contained=True) == [], set(frame["source"])


def judge_first_model(pipeline: Any, snapshots: dict[str, pd.DataFrame]) -> Any:
    """evaluate's decision for ``pipeline`` as a first model (floors and ceilings only), in process."""
    from harmwatch.behaviour import suite_frame
    from harmwatch.model.decision import evaluate_challenger
    from harmwatch.model.fairness import templates

    golden, frame, cases = golden_frame(), templates(), suite_frame()

    def score(texts: pd.DataFrame) -> pd.DataFrame:
        return pipeline.predict(texts[["text"]]).reset_index(drop=True)

    model = {"version": "x", "run_id": "r", "eval": score(snapshots["eval"]), "golden": score(golden)}
    model |= {"templates": score(frame), "behaviour": score(cases)}
    smoke = {"ok": True, "detail": "in process"}
    return evaluate_challenger(
        snapshots["eval"], golden, model, None, smoke, Thresholds(), False, 42, "e", None, "built-in",
        templates=frame, behaviour=cases,
    )  # fmt: skip


def test_todays_recipe_fails_the_new_gates(snapshots):
    """The recipe before the gates (``baseline``), fitted on the same snapshot as model B, is rejected for
    what it does to identity groups and to whole kinds of posts (docs/model.md has its figures)."""
    from harmwatch.model.fitting import fit_model

    old, _ = fit_model(snapshots["train"], seed=42, n_jobs=1, recipe="baseline")
    before = judge_first_model(old, snapshots)
    assert before.decision == "reject"
    assert {"identity_fpr", "group_bpsn", "group_not_flagged", "functionality_floor"} <= set(before.failed)
    assert before.evidence["gates"]["group_not_flagged"]["value"]["groups_below"]


@pytest.fixture(scope="module")
def default_judged(full_model: Any, snapshots: dict[str, pd.DataFrame]) -> Any:
    """Model B judged as a first model, once: the two tests below read the same decision (scoring the
    evaluation snapshot, the golden set, the templates and the suite again would give the same one)."""
    return judge_first_model(full_model, snapshots)


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="no recipe reaches the behaviour suite's functionality floor yet (docs/model.md, 'Training for "
    "moderation'): the day it does, this test passes and strict xfail fails until the mark is removed",
)
def test_the_default_recipe_passes_every_gate(default_judged):
    """Model B, trained by ``harmwatch train`` with the default recipe, passes every gate as a first model."""
    now = default_judged
    assert now.decision == "promote", {g: now.evidence["gates"][g]["value"] for g in now.failed}


def test_the_default_recipe_fails_only_the_functionality_floor(default_judged):
    """What the xfail above holds, said exactly: every identity gate, the hateful-recall floor and every
    quality floor pass; only whole functionalities (counter-speech, negation, spelling) stay below 0.50."""
    now = default_judged
    assert set(now.failed) == {"functionality_floor"}, {
        g: now.evidence["gates"][g]["value"] for g in now.failed
    }

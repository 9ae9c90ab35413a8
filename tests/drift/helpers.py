"""Test helpers: a stand-in champion (a pyfunc with the output contract of docs/architecture.md) and a
validated lake.

Built with plain ``mlflow`` and the store's commit protocol, i.e. from the public contracts (registered
model ``harmful-content`` with alias ``champion``, run artifact ``drift_reference/reference.parquet``,
``validated/<kind>/run=<id>/`` with a manifest), not from other steps' code.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd

from harmwatch.config import BENIGN_CLASS, CLASSES, MODEL_NAME, Settings
from harmwatch.storage import Store


def stand_in_model(train: pd.DataFrame):
    """TF-IDF + logistic regression: a quick champion for tests."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(TfidfVectorizer(min_df=2, sublinear_tf=True), LogisticRegression(max_iter=300))
    return pipe.fit(train["text"], train["label"])


def predict_frame(model, texts: pd.Series) -> pd.DataFrame:
    """The pyfunc output contract: label, harmful_score, score_<class>."""
    proba = model.predict_proba(texts.astype(str))
    classes = list(model.classes_)
    out = pd.DataFrame({f"score_{c}": proba[:, classes.index(c)] if c in classes else 0.0 for c in CLASSES})
    out.insert(0, "harmful_score", 1.0 - out[f"score_{BENIGN_CLASS}"])
    out.insert(0, "label", np.asarray(classes)[proba.argmax(axis=1)])
    return out


def with_predictions(model, frame: pd.DataFrame) -> pd.DataFrame:
    pred = predict_frame(model, frame["text"])
    return frame.assign(pred_label=pred["label"].to_numpy(), harmful_score=pred["harmful_score"].to_numpy())


class StandInChampion(mlflow.pyfunc.PythonModel):
    def __init__(self, model) -> None:
        self.model = model

    def predict(self, context, model_input, params=None):
        return predict_frame(self.model, model_input["text"])


def register_champion(settings: Settings, model, reference: pd.DataFrame) -> tuple[str, str]:
    """Log the stand-in as a pyfunc with a reference sample, register it, point ``champion`` at it."""
    import cloudpickle
    from mlflow import MlflowClient

    import tests.drift.helpers as me

    cloudpickle.register_pickle_by_value(me)  # the step's process need not import the tests
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(settings.mlflow_registry_uri)
    Path(settings.mlflow_tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(settings.mlflow_tracking_uri, settings.mlflow_registry_uri)
    exp = client.create_experiment("test-train", artifact_location=settings.mlflow_artifact_uri)
    with mlflow.start_run(experiment_id=exp) as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.pyfunc.log_model(name="model", python_model=StandInChampion(model))
        reference.to_parquet(Path(tmp) / "reference.parquet", index=False)
        mlflow.log_artifact(str(Path(tmp) / "reference.parquet"), "drift_reference")
    mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", MODEL_NAME)
    client.set_registered_model_alias(MODEL_NAME, "champion", mv.version)
    return run.info.run_id, str(mv.version)


def run_step(module, *argv: str) -> dict:
    """Run a step in this process, as ``harmwatch <step> ARGV`` would (settings from the environment).

    Cheaper than a fresh process for a second run in a test; the first run of each test goes through
    the real command."""
    import argparse

    from harmwatch.config import load_settings

    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return module.run(load_settings(), parser.parse_args(list(argv)))


def write_validated(lake: Store, kind: str, run_id: str, frame: pd.DataFrame) -> None:
    """One committed validated run, as ``harmwatch validate`` leaves it (docs/lake.md)."""
    prefix = f"validated/{kind}/run={run_id}"
    lake.write_parquet(f"{prefix}/part-0000.parquet", frame)
    dts = sorted(frame["batch_dt"].unique().tolist())
    lake.commit(
        prefix, ["part-0000.parquet"], {"kind": kind, "run_id": run_id, "batch_dts": dts, "status": "ok"}
    )


def labelled_rows(posts: pd.DataFrame, day: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "post_id": posts["post_id"].to_numpy(),
            "text": posts["text"].to_numpy(),
            "label": posts["label"].to_numpy(),
            "labelled_at": f"{day}T12:00:00Z",
            "labeller_id": "mod-1",
            "batch_dt": day,
        }
    )

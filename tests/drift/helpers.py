"""Test helpers: a stand-in champion (a model with the output contract of docs/architecture.md) and a
validated lake.

Built with plain ``mlflow`` and the store's commit protocol, i.e. from the public contracts (registered
model ``harmful-content`` with alias ``champion``, saved as ``harmwatch train`` saves a model: the sklearn
flavour with skops and its digest on the version; run artifact ``drift_reference/reference.parquet``;
``validated/<kind>/run=<id>/`` with a manifest), not from other steps' code.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from harmwatch.config import MODEL_NAME, Settings
from harmwatch.storage import Store


def stand_in_model(train: pd.DataFrame):
    """TF-IDF + logistic regression: a quick champion for tests, in the registered model's class (its
    ``predict`` returns the output contract), so it saves and loads as a trained model does."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from harmwatch.model.textmodel import HarmfulContentPipeline

    words = ColumnTransformer([("word", TfidfVectorizer(min_df=2, sublinear_tf=True), "text")])
    pipe = HarmfulContentPipeline([("features", words), ("clf", LogisticRegression(max_iter=300))])
    return pipe.fit(train[["text"]].astype(str), train["label"])


def predict_frame(model, texts: pd.Series) -> pd.DataFrame:
    """The output contract: label, harmful_score, score_<class>."""
    return model.predict(pd.DataFrame({"text": texts.astype(str).to_numpy()}))


def with_predictions(model, frame: pd.DataFrame) -> pd.DataFrame:
    pred = predict_frame(model, frame["text"])
    return frame.assign(pred_label=pred["label"].to_numpy(), harmful_score=pred["harmful_score"].to_numpy())


def register_champion(settings: Settings, model, reference: pd.DataFrame) -> tuple[str, str]:
    """Log the stand-in as ``harmwatch train`` logs a model (skops, its digest on the version) with a
    reference sample, register it, point ``champion`` at it."""
    import mlflow.sklearn
    from mlflow import MlflowClient

    from harmwatch.model.trusted import DIGEST_TAG, TRUSTED_TYPES
    from harmwatch.registry import saved_model_digest

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(settings.mlflow_registry_uri)
    Path(settings.mlflow_tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(settings.mlflow_tracking_uri, settings.mlflow_registry_uri)
    exp = client.create_experiment("test-train", artifact_location=settings.mlflow_artifact_uri)
    with mlflow.start_run(experiment_id=exp) as run, tempfile.TemporaryDirectory() as tmp:
        logged = mlflow.sklearn.log_model(
            model,
            name="model",
            serialization_format="skops",
            skops_trusted_types=TRUSTED_TYPES,
            pip_requirements=["scikit-learn"],  # listed: inferring them loads the model in a subprocess
        )
        digest = saved_model_digest(logged.model_uri)
        reference.to_parquet(Path(tmp) / "reference.parquet", index=False)
        mlflow.log_artifact(str(Path(tmp) / "reference.parquet"), "drift_reference")
    mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", MODEL_NAME, tags={DIGEST_TAG: digest})
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

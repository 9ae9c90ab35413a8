"""Train a challenger from a training snapshot and register it in MLflow with alias ``challenger``.

The model is the scikit-learn pipeline of :mod:`harmwatch.textmodel` (word + character TF-IDF with linear
learners, stacked with structural counts by gradient boosting), saved with skops, never pickle. The run
records what a reviewer needs to trust or reject it: parameters, dataset versions and fingerprints,
metrics on the frozen evaluation snapshot, plots, a model card, the signature and an input example, and a
stratified sample of the training data scored by the model (``drift_reference/reference.parquet``) that
the drift step compares production batches against.
"""

from __future__ import annotations

import argparse
import logging
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from harmwatch.config import Settings
from harmwatch.errors import DataError
from harmwatch.storage import Store, open_store

log = logging.getLogger(__name__)
METHOD = ("Links removed; word 1-2-gram and character 5-gram TF-IDF; SGD (modified Huber) and "
          "Complement Naive Bayes on them, stacked with five structural counts by a gradient-boosted "
          "classifier trained on 2-fold out-of-fold scores (probabilities from log-loss).")


def resolve_snapshots(store: Store, version: str | None) -> tuple[pd.DataFrame, dict, pd.DataFrame, dict]:
    """(train frame, manifest, eval frame, manifest); default: the last committed training snapshot."""
    from harmwatch.build_dataset import EVAL, LATEST, TRAIN

    if version is None:
        if not store.exists(LATEST):
            raise DataError(f"no training snapshot at {store.url(TRAIN)}; run harmwatch build-dataset first")
        version = store.read_json(LATEST)["version"]
    manifest = store.manifest(f"{TRAIN}/v={version}")
    if manifest is None:
        raise DataError(f"training snapshot {version!r} is not committed at {store.url(TRAIN)}")
    eval_manifest = store.manifest(f"{EVAL}/v={manifest['eval_version']}")
    if eval_manifest is None:
        raise DataError(f"evaluation snapshot {manifest['eval_version']!r} missing at {store.url(EVAL)}")
    return (store.read_parquet(f"{manifest['prefix']}/train.parquet"), manifest,
            store.read_parquet(f"{eval_manifest['prefix']}/eval.parquet"), eval_manifest)


def stratified_sample(frame: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    """At most ``n`` rows keeping the label mix (fixed seed); the whole frame when it is small enough."""
    if n is None or len(frame) <= n:
        return frame
    sample = frame.groupby("label", group_keys=False).sample(frac=n / len(frame), random_state=seed)
    return sample.sort_index().head(n)


def fit_model(train: pd.DataFrame, seed: int, n_jobs: int | None) -> tuple[Any, Any]:
    """Fit the pipeline; returns it (ready to serve) and the training feature matrix for reuse."""
    from harmwatch.textmodel import build_pipeline, for_serving

    counts = train["label"].value_counts()
    if len(counts) < 2 or counts.min() < 3:
        raise DataError(f"training data needs >= 2 classes with >= 3 texts each; got {counts.to_dict()}")
    pipeline = build_pipeline(seed=seed, n_jobs=n_jobs)
    features = pipeline[:-1].fit_transform(train[["text"]])  # the slice shares (and fits) the steps
    pipeline.named_steps["clf"].fit(features, train["label"].to_numpy())
    return for_serving(pipeline), features


def drift_reference(train: pd.DataFrame, pipeline: Any, features: Any, max_rows: int,
                    seed: int) -> pd.DataFrame:
    """Stratified sample of the training snapshot with the model's label and harmful score.

    In-sample scores (the model saw these rows): the reference describes the training distribution, and
    reusing the fitted feature matrix costs no second pass over the text.
    """
    from harmwatch.textmodel import contract_frame

    sample = stratified_sample(train.reset_index(drop=True), max_rows, seed)
    clf = pipeline.named_steps["clf"]
    scored = contract_frame(clf.predict_proba(features[sample.index.to_numpy()]), clf.classes_)
    return pd.DataFrame({"text": sample["text"].to_numpy(), "label": sample["label"].to_numpy(),
                         "pred_label": scored["label"].to_numpy(),
                         "harmful_score": scored["harmful_score"].to_numpy()})


def _requirements() -> list[str]:
    from importlib.metadata import version

    # Listed, not inferred: inference would load the model in a subprocess. The pipeline's own classes
    # live in the harmwatch package, which the job image provides.
    return [f"{p}=={version(p)}" for p in ("scikit-learn", "skops", "scipy", "numpy", "pandas")]


def card_excerpt(card: str, run_id: str, limit: int = 4000) -> str:
    """The model card as a registry description, cut to fit the registry's column with a pointer."""
    if len(card) <= limit:
        return card
    return card[:limit].rsplit("\n", 1)[0] + f"\n\n... (full card: artifact model_card.md of run {run_id})\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", help="logical date YYYY-MM-DD (default: the snapshot's), recorded as a tag")
    parser.add_argument("--train-version", help="training snapshot (default: the last one built)")
    parser.add_argument("--sample-rows", type=int, help="train on a stratified sample of this many rows")
    parser.add_argument("--n-jobs", type=int, default=2, help="threads while fitting (default 2)")
    parser.add_argument("--reference-rows", type=int, default=20_000, help="rows in the drift reference")


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    import mlflow
    from mlflow.models import infer_signature

    from harmwatch.golden import golden_frame
    from harmwatch.modelcard import (
        classification_metrics,
        golden_check,
        render_model_card,
        save_plots,
    )
    from harmwatch.registry import configure_mlflow, set_version_tags
    from harmwatch.textmodel import META_FEATURES, SKOPS_TRUSTED_TYPES

    store = open_store(settings.lake_uri)
    train_all, tm, ev, em = resolve_snapshots(store, args.train_version)
    train = stratified_sample(train_all, args.sample_rows, settings.seed)
    client = configure_mlflow(settings)  # fail fast, before the expensive part

    started = time.perf_counter()
    pipeline, features = fit_model(train, settings.seed, args.n_jobs)
    fit_seconds = time.perf_counter() - started
    scored = pipeline.predict(ev[["text"]])
    metrics = classification_metrics(ev["label"], scored)
    golden = golden_frame()
    golden_result = golden_check(golden, pipeline.predict(golden[["text"]]))
    reference = drift_reference(train, pipeline, features, args.reference_rows, settings.seed)

    versions = {"train_version": tm["version"], "eval_version": em["version"]}
    fingerprints = {f"{k}_sha256": m["files"][0]["sha256"] for k, m in (("train", tm), ("eval", em))}
    described = {**versions, **fingerprints, "date": args.date or tm.get("date")}
    tags = {f"harmwatch.{k}": v for k, v in described.items()}
    name = settings.model_name
    logging_started = time.perf_counter()
    with mlflow.start_run(run_name=f"train-{tm['version']}-{em['version']}", tags=tags) as active:
        run_id = active.info.run_id
        mlflow.log_params({**versions, **fingerprints, "rows_train": len(train), "rows_eval": len(ev),
                           "sample_rows": args.sample_rows, "seed": settings.seed, "weak_labels":
                           tm.get("weak_labels_accepted", 0), "meta_features": ",".join(META_FEATURES),
                           **{k: v for k, v in pipeline.named_steps["clf"].get_params().items()}})
        finite = {k: v for k, v in metrics.items() if math.isfinite(v)}
        mlflow.log_metrics(finite | {"fit_seconds": fit_seconds})
        with tempfile.TemporaryDirectory() as tmp:
            save_plots(ev["label"], scored, Path(tmp) / "plots")
            mlflow.log_artifacts(str(Path(tmp) / "plots"), "plots")
            reference.to_parquet(Path(tmp) / "reference.parquet", index=False)
            mlflow.log_artifact(str(Path(tmp) / "reference.parquet"), "drift_reference")
        example = golden.loc[golden["kind"] == "benign", ["text"]].head(3).reset_index(drop=True)
        info = mlflow.sklearn.log_model(
            pipeline, name="model", serialization_format="skops", skops_trusted_types=SKOPS_TRUSTED_TYPES,
            signature=infer_signature(example, pipeline.predict(example)), input_example=example,
            registered_model_name=name, pip_requirements=_requirements(),
        )
        version = str(info.registered_model_version)
        misses = golden_result[~golden_result["passed"]]
        card = render_model_card(
            name=name, version=version, run_id=run_id, metrics=metrics, method=METHOD,
            data={**versions, "rows_train": len(train), "rows_eval": len(ev),
                  "weak_labels": tm.get("weak_labels_accepted", 0),
                  "landing_files": len(tm.get("landing_files", []))},
            golden_failures=[f'{r.kind}: "{r.text}" -> {r.pred}' for r in misses.itertuples()],
        )
        mlflow.log_text(card, "model_card.md")
        mlflow.log_table(golden_result, "golden/train_time.json")
    # Registry stores cap descriptions (VARCHAR(5000) on PostgreSQL): the full card is the run's artifact.
    client.update_model_version(name, version, description=card_excerpt(card, run_id))
    set_version_tags(client, name, version, {**tags, "harmwatch.run_id": run_id,
                                             "harmwatch.macro_f1_at_train": round(metrics["macro_f1"], 4)})
    client.set_registered_model_alias(name, "challenger", version)
    log.info("fit %.1fs, evaluation + golden + reference %.1fs, MLflow logging %.1fs", fit_seconds,
             logging_started - started - fit_seconds, time.perf_counter() - logging_started)
    log.info("registered %s version %s as challenger (macro-F1 %.4f)", name, version, metrics["macro_f1"])
    return {"run_id": run_id, "model_version": version, "macro_f1": round(metrics["macro_f1"], 4),
            **versions, "rows_train": len(train), "rows_eval": len(ev), "fit_seconds": round(fit_seconds, 2),
            "f1": {c.removeprefix("f1_"): round(v, 4) for c, v in metrics.items() if c.startswith("f1_")},
            "ece": round(metrics["ece"], 4), "harmful_pr_auc": round(metrics["harmful_pr_auc"], 4),
            "golden_passed": int(golden_result["passed"].sum())}

"""Train a challenger from a training snapshot and register it in MLflow with alias ``challenger``.

The model is the scikit-learn pipeline of :mod:`harmwatch.model.textmodel`, saved with skops, never pickle;
:func:`harmwatch.model.fitting.fit_and_measure` fits it by a recipe (``--recipe``; the default adds the
augmentation sources of :mod:`harmwatch.model.augmentation` to the snapshot's rows) and measures it. The
run records what a reviewer needs to trust or reject it: parameters, dataset versions and fingerprints,
the recipe and every augmentation source with its version (run parameters, ``train_record.json`` and the
model card), metrics on the frozen evaluation snapshot, the behaviour suite's results
(:mod:`harmwatch.behaviour`, in the model card), plots, the signature and an input example, and a
stratified sample of the training data scored by the model (``drift_reference/reference.parquet``) that
the drift step compares production batches against.

Idempotent: the run and the version carry a key (model name, snapshots and their hashes, parameters, the
recipe and its sources' versions, the model code, the logical date). A rerun with the same key registers
nothing new: it completes a version whose training was killed after registering it, registers a model
that was completely logged but not yet registered, marks runs killed before that FAILED and trains again,
and otherwise reuses the version, pointing ``challenger`` at it (``--retrain`` forces a new version); see
:mod:`harmwatch.model.registration`.

``--only-if-new`` (the DAG passes it) trains nothing when the champion was trained on this very training
snapshot: a drift-triggered run on a day whose labels are already in the champion has nothing new to learn.
The summary then says so (``trained: false`` and the reason), and the DAG skips evaluate and promote.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from harmwatch.config import Settings
from harmwatch.data import catalog
from harmwatch.errors import DataError
from harmwatch.faults import checkpoint
from harmwatch.model.fitting import DEFAULT_RECIPE, RECIPES, recipe_sources
from harmwatch.model.registration import (
    KEY_TAG,
    RECORD,
    finish_version,
    previous_training,
    register,
    resume,
    train_key,
)
from harmwatch.storage import Store, open_store

log = logging.getLogger(__name__)


def read_training(store: Store, manifest: dict, settings: Settings | None) -> pd.DataFrame:
    """The training snapshot, or its budgeted sample when it has more rows than ``train_row_budget``.

    The sample is chosen from the label and ``batch_dt`` columns alone and the snapshot is then read in
    batches keeping only the chosen rows, so memory is bounded by the budget, not by the snapshot.
    """
    key = f"{manifest['prefix']}/{catalog.TRAIN_FILE}"
    budget = settings.train_row_budget if settings is not None else 0
    if not budget or int(manifest.get("rows", 0)) <= budget:
        return store.read_parquet(key)
    from harmwatch.data.tables import read_selected
    from harmwatch.model.fitting import budget_mask

    def select(head: pd.DataFrame) -> Any:
        days = head["batch_dt"].astype(str) if "batch_dt" in head else None
        return budget_mask(
            head["label"].astype(str), days, budget, settings.seed, settings.train_half_life_days
        )

    frame = read_selected(store, key, select, ["label", "batch_dt"])
    log.info("row budget: %d of %d training rows kept", len(frame), manifest.get("rows", 0))
    return frame


def resolve_snapshots(
    store: Store, version: str | None, settings: Settings | None = None
) -> tuple[pd.DataFrame, dict, pd.DataFrame, dict]:
    """(train frame, manifest, eval frame, manifest); default: the last committed training snapshot.

    With ``settings``, the training frame is held to the settings' row budget (:func:`read_training`)."""
    if version is None:
        if not store.exists(catalog.TRAIN_LATEST):
            raise DataError(
                f"no training snapshot at {store.url(catalog.TRAIN_SNAPSHOTS)}; "
                "run harmwatch build-dataset first"
            )
        version = store.read_json(catalog.TRAIN_LATEST)["version"]
    manifest = store.manifest(catalog.train_snapshot(version))
    if manifest is None:
        raise DataError(
            f"training snapshot {version!r} is not committed at {store.url(catalog.TRAIN_SNAPSHOTS)}"
        )
    eval_manifest = store.manifest(catalog.eval_snapshot(manifest["eval_version"]))
    if eval_manifest is None:
        raise DataError(
            f"evaluation snapshot {manifest['eval_version']!r} missing at {store.url(catalog.EVAL_SNAPSHOTS)}"
        )
    return (
        read_training(store, manifest, settings),
        manifest,
        store.read_parquet(f"{eval_manifest['prefix']}/{catalog.EVAL_FILE}"),
        eval_manifest,
    )


def _requirements() -> list[str]:
    from importlib.metadata import version

    # Listed, not inferred: inference would load the model in a subprocess. The pipeline's own classes
    # live in the harmwatch package, which the job image provides.
    return [f"{p}=={version(p)}" for p in ("scikit-learn", "skops", "scipy", "numpy", "pandas")]


def _run_tags(train_manifest: dict, eval_manifest: dict, date: str | None) -> tuple[dict, dict, dict]:
    """The snapshots' versions, their files' digests, and the tags they make on the run and the version."""
    versions = {"train_version": train_manifest["version"], "eval_version": eval_manifest["version"]}
    manifests = (("train", train_manifest), ("eval", eval_manifest))
    fingerprints = {f"{kind}_sha256": manifest["files"][0]["sha256"] for kind, manifest in manifests}
    # Lineage: the landing zones the snapshot's rows came from (a trigger may point ingest elsewhere).
    zones = " ".join(train_manifest.get("landing_zones") or ["unrecorded"])
    lineage = {"date": date, "landing_zones": zones}
    tags = {f"harmwatch.{k}": v for k, v in {**versions, **fingerprints, **lineage}.items()}
    return versions, fingerprints, tags


def _run_params(
    settings: Settings, args: argparse.Namespace, eval_rows: int, weak: int, sources: list[dict[str, Any]]
) -> dict[str, Any]:
    """The run's parameters besides the snapshots: sizes, budget, seed, weak labels, meta-features, the
    recipe and its augmentation sources (``name@version``, the version a sha256 of the content)."""
    from harmwatch.model.textmodel import META_FEATURES

    recipe = recipe_of(args)

    return {
        "rows_eval": eval_rows,
        "sample_rows": args.sample_rows,
        "row_budget": settings.train_row_budget,
        "seed": settings.seed,
        "weak_labels": weak,
        "meta_features": ",".join(META_FEATURES),
        "recipe": recipe,
        "augmentation_sources": " ".join(f"{s['name']}@{s['version']}" for s in sources) or "none",
        "augmentation_rows": sum(int(s["rows"]) for s in sources),
    }


def behaviour_of(pipeline: Any) -> dict[str, Any]:
    """The behaviour suite's report of a fitted pipeline, for its model card (evaluate gates on it)."""
    from harmwatch.behaviour import behaviour_report, suite_frame

    cases = suite_frame()
    return behaviour_report(cases, pipeline.predict(cases[["text"]]).reset_index(drop=True))


def _log_model_and_evidence(fitted: Any, eval_labels: pd.Series, record: dict[str, Any]) -> str:
    """Log the drift reference, the golden results, the model and the plots (rendered in a forked process
    while the model is logged); the model's digest goes into ``record``'s tags. Returns the logged
    model's id."""
    import mlflow
    from mlflow.models import infer_signature

    from harmwatch.model.modelcard import finish_plots, start_plots
    from harmwatch.model.textmodel import SKOPS_TRUSTED_TYPES
    from harmwatch.model.trusted import DIGEST_TAG
    from harmwatch.registry import saved_model_digest

    tmp = Path(tempfile.mkdtemp(prefix="harmwatch-train-"))
    plotter = start_plots(eval_labels, fitted.scored, tmp / "plots")
    try:
        fitted.reference.to_parquet(tmp / "reference.parquet", index=False)
        mlflow.log_artifact(str(tmp / "reference.parquet"), "drift_reference")
        mlflow.log_table(fitted.golden_result, "golden/train_time.json")
        golden = fitted.golden
        example = golden.loc[golden["kind"] == "benign", ["text"]].head(3).reset_index(drop=True)
        logged = mlflow.sklearn.log_model(
            fitted.pipeline,
            name="model",
            serialization_format="skops",
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
            signature=infer_signature(example, fitted.pipeline.predict(example)),
            input_example=example,
            pip_requirements=_requirements(),
        )
        # What evaluate, score and the other steps check before they deserialise this model.
        record["tags"][DIGEST_TAG] = saved_model_digest(logged.model_uri)
        finish_plots(plotter, tmp / "plots")
        mlflow.log_artifacts(str(tmp / "plots"), "plots")
        return logged.model_id
    finally:
        if plotter.is_alive():
            plotter.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def recipe_of(args: argparse.Namespace) -> str:
    """The recipe asked for (``--recipe``; callers that build their own arguments get the default)."""
    return getattr(args, "recipe", DEFAULT_RECIPE)


def with_inputs_and_behaviour(
    record: dict[str, Any], pipeline: Any, recipe: str, sources: list[dict[str, Any]]
) -> None:
    """Add to the training record what the snapshot's manifest does not hold: the recipe and every
    augmentation source with its version (record and model card), and the behaviour suite's results
    (model card)."""
    record["recipe"], record["augmentation"] = recipe, sources
    record["card"]["augmentation"] = sources
    record["card"]["behaviour"] = behaviour_of(pipeline)


def train_and_register(
    settings: Settings,
    args: argparse.Namespace,
    client: Any,
    train_all: pd.DataFrame,
    train_manifest: dict,
    eval_frame: pd.DataFrame,
    eval_manifest: dict,
    key: str,
    date: str | None,
) -> tuple[Any, str, dict[str, Any]]:
    """Open the run (tagged with ``key``), fit, log the evidence and the model, register, finish."""
    import mlflow

    from harmwatch.model.fitting import fit_and_measure, training_record

    versions, fingerprints, tags = _run_tags(train_manifest, eval_manifest, date)
    weak = train_manifest.get("weak_labels_accepted", 0)
    recipe, sources = recipe_of(args), recipe_sources(recipe_of(args))
    run_name = f"train-{train_manifest['version']}-{eval_manifest['version']}"
    with mlflow.start_run(run_name=run_name, tags={**tags, KEY_TAG: key}) as active:
        run_id = active.info.run_id
        params = _run_params(settings, args, len(eval_frame), weak, sources)
        mlflow.log_params({**versions, **fingerprints, **params})
        checkpoint("run")  # a run exists, its model does not: a rerun marks it FAILED and trains again
        started = time.perf_counter()
        fitted = fit_and_measure(
            train_all,
            eval_frame,
            sample_rows=args.sample_rows,
            seed=settings.seed,
            n_jobs=args.n_jobs,
            reference_rows=args.reference_rows,
            recipe=recipe,
        )
        files = len(train_manifest.get("landing_files", []))
        record = training_record(fitted, tags, versions, len(eval_frame), weak, files)
        with_inputs_and_behaviour(record, fitted.pipeline, recipe, sources)
        logging_started = time.perf_counter()
        mlflow.log_params(
            {"rows_train": fitted.train_rows, **dict(fitted.pipeline.named_steps["clf"].get_params().items())}
        )
        model_id = _log_model_and_evidence(fitted, eval_frame["label"], record)
        # After the model, in one batch for the run and the model: metrics logged before it cost a
        # history request per metric while MLflow links them to the model (24 requests per train).
        finite = {k: v for k, v in fitted.metrics.items() if math.isfinite(v)}
        mlflow.log_metrics(finite | {"fit_seconds": fitted.fit_seconds}, model_id=model_id)
        mlflow.log_text(json.dumps(record, indent=1), RECORD)  # last: marks the logged model complete
        checkpoint("logged")
        version = register(client, settings.model_name, run_id, tags)
        checkpoint("registered")
        finish_version(client, settings.model_name, version, client.get_run(run_id), record)
        checkpoint("finished")
    log.info(
        "fit %.1fs, evaluation + golden + reference %.1fs, MLflow logging %.1fs",
        fitted.fit_seconds,
        logging_started - started - fitted.fit_seconds,
        time.perf_counter() - logging_started,
    )
    return client.get_run(run_id), version, record


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", help="logical date YYYY-MM-DD (default: the snapshot's), recorded as a tag")
    parser.add_argument("--train-version", help="training snapshot (default: the last one built)")
    parser.add_argument("--sample-rows", type=int, help="train on a stratified sample of this many rows")
    parser.add_argument("--n-jobs", type=int, default=2, help="threads while fitting (default 2)")
    parser.add_argument("--reference-rows", type=int, default=20_000, help="rows in the drift reference")
    parser.add_argument(
        "--recipe",
        choices=list(RECIPES),
        default=DEFAULT_RECIPE,
        help=f"how the model is trained (default {DEFAULT_RECIPE}: augmentation and the identity-blind harm "
        "head; baseline: the recipe before them, to reproduce an old champion)",
    )
    parser.add_argument(
        "--only-if-new",
        action="store_true",
        help="train nothing (summary trained=false, with the reason) when the champion was trained on "
        "this same training snapshot",
    )
    parser.add_argument(
        "--retrain",
        action="store_true",
        help="fit and register a new version even if these inputs (snapshots, parameters, "
        "code, date) were trained before; by default that version is reused",
    )


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    from harmwatch.registry import configure_mlflow, get_alias_version, mlflow_calls

    train_all, train_manifest, eval_frame, eval_manifest = resolve_snapshots(
        open_store(settings.lake_uri, settings), args.train_version, settings
    )
    name, date = settings.model_name, args.date or train_manifest.get("date")
    budget = (
        settings.train_row_budget if int(train_manifest.get("rows", 0)) > settings.train_row_budget > 0 else 0
    )
    key = train_key(
        name,
        train_manifest,
        eval_manifest,
        args,
        settings.seed,
        date,
        budget,
        recipe_sources(recipe_of(args)),
    )
    with mlflow_calls(settings):
        client = configure_mlflow(settings)  # fail fast, before the expensive part
        if args.only_if_new:
            unchanged = nothing_new(get_alias_version(client, name, "champion"), train_manifest)
            if unchanged is not None:
                log.info("%s", unchanged["reason"])
                return unchanged
        previous = None if args.retrain else previous_training(client, name, key)
        if previous is None:
            run_info, version, record = train_and_register(
                settings, args, client, train_all, train_manifest, eval_frame, eval_manifest, key, date
            )
        else:
            run_info, version, record = resume(client, name, previous)
        current = get_alias_version(client, name, "challenger")
        if current is None or str(current.version) != version:
            client.set_registered_model_alias(name, "challenger", version)
            checkpoint("alias")
    log.info(
        "%s %s version %s as challenger (macro-F1 %.4f)",
        "registered" if previous is None else "kept",
        name,
        version,
        record["summary"]["macro_f1"],
    )
    return {
        "run_id": run_info.info.run_id,
        "model_version": version,
        **record["summary"],
        "recipe": record.get("recipe"),
        "augmentation_sources": [f"{s['name']}@{s['version']}" for s in record.get("augmentation", [])],
        "reused": previous is not None,
        "trained": True,
    }


def nothing_new(champion: Any, train_manifest: dict) -> dict[str, Any] | None:
    """The summary of a training that is not needed (the champion has this snapshot), else None."""
    if champion is None or champion.tags.get("harmwatch.train_version") != train_manifest["version"]:
        return None
    return {
        "trained": False,
        "reason": f"nothing new to learn: champion version {champion.version} was trained on training "
        f"snapshot {train_manifest['version']} (built {train_manifest.get('date')})",
        "new_rows": 0,
        "train_version": train_manifest["version"],
        "champion_version": str(champion.version),
        "model_version": None,
    }

"""How a training becomes one complete model version, whatever crashed on the way (train's registry side).

A training carries an idempotency key (:func:`train_key`) on its run. A rerun with the same key finds the
earlier training (:func:`previous_training`) and finishes it (:func:`resume`) instead of registering a
second version: it registers a run that logged its complete model but was killed before registering,
completes a version whose card and tags are missing, and marks runs killed before their model was logged
as FAILED. :func:`finish_version` writes the card, the registry descriptions, the tags and, last, the
``complete`` marker.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from harmwatch.faults import checkpoint

log = logging.getLogger(__name__)
KEY_TAG = "harmwatch.train_key"  # idempotency key, on the run (at its start)
COMPLETE_TAG = "harmwatch.train_complete"  # set last on the version: card, description and tags are there
# The run's tags that also go on the version: the snapshots evaluate reads (and the model's digest,
# :func:`on_version`). The run keeps the rest (key, fingerprints, date); the MLflow versions table shows
# every version tag, so they stay few.
VERSION_TAGS = ("harmwatch.train_version", "harmwatch.eval_version")
RECORD = "train_record.json"  # what a rerun needs to finish or report a version without training again
CODE_MODULES = (
    "harmwatch.model.textmodel",
    "harmwatch.model.fitting",
    "harmwatch.model.augmentation",
    "harmwatch.model.augmentation_sources.templates",
    "harmwatch.steps.train",
)


def train_key(
    name: str,
    train_manifest: dict,
    eval_manifest: dict,
    args: argparse.Namespace,
    seed: int,
    date: str | None,
    budget: int = 0,
    sources: list[dict[str, Any]] | None = None,
) -> str:
    """Idempotency key of a training: same model name, snapshots, parameters, recipe and the versions of
    its augmentation sources (``sources``), code and logical date.

    A rerun with the same key (e.g. after the step was killed) reuses the version registered under it
    instead of registering a second one.
    """
    from importlib.util import find_spec

    code = hashlib.sha256()
    for module in CODE_MODULES:
        origin = find_spec(module).origin  # type: ignore[union-attr]
        code.update(Path(origin).read_bytes() if origin else module.encode())
    payload = {
        "model": name,
        "train_version": train_manifest["version"],
        "train_sha256": train_manifest["files"][0]["sha256"],
        "eval_version": eval_manifest["version"],
        "eval_sha256": eval_manifest["files"][0]["sha256"],
        "sample_rows": args.sample_rows,
        "row_budget": budget,
        "reference_rows": args.reference_rows,
        "recipe": getattr(args, "recipe", None),
        "seed": seed,
        "date": date,
        "code": code.hexdigest(),
        "augmentation": sorted(f"{s['name']}@{s['version']}" for s in sources or []),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def previous_training(client: Any, name: str, key: str) -> tuple[Any, Any] | None:
    """An earlier training with ``key`` that can be reused: (run, model version), or (run, None) for a run
    that logged its complete model and record but was killed (or lost MLflow) before registering it.

    Runs with this key whose model was never completely logged were killed (or failed) part-way: a run
    left RUNNING is marked FAILED with a tag saying why, and none of them is reused.
    """
    from harmwatch.registry import EXPERIMENT

    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{KEY_TAG}` = '{key}'",
        order_by=["attributes.start_time ASC"],
    )
    found = None
    for previous in runs:
        run_id = previous.info.run_id
        versions = [
            v
            for v in client.search_model_versions(f"run_id = '{run_id}'")
            if v.name == name and v.status == "READY"
        ]
        complete = (
            previous.info.status in ("RUNNING", "FAILED")
            and found is None
            and not versions
            and RECORD in {a.path for a in client.list_artifacts(run_id)}
        )
        if versions:
            found = found or (previous, min(versions, key=lambda v: int(v.version)))
        elif complete:
            found = (previous, None)  # the record is logged after the model: both are complete
        elif previous.info.status == "RUNNING":
            client.set_tag(run_id, "harmwatch.abandoned", "killed before its model was completely logged")
            client.set_terminated(run_id, "FAILED")
            log.warning(
                "run %s (same training key) was killed before its model was logged: marked FAILED", run_id
            )
    return found


def on_version(tags: dict[str, Any]) -> dict[str, Any]:
    """The training's tags that go on its model version: the snapshots and the digest the steps check
    before they load the model."""
    from harmwatch.model.trusted import DIGEST_TAG

    return {k: v for k, v in tags.items() if k in (*VERSION_TAGS, DIGEST_TAG)}


def register(client: Any, name: str, run_id: str, tags: dict[str, str]) -> str:
    """Register the run's model; one request creates the version with the snapshots' tags. A rerun finds
    it from the run (:func:`previous_training`: the run's key, then the versions of that run)."""
    import mlflow

    registered = mlflow.register_model(f"runs:/{run_id}/model", name, tags=on_version(tags))
    return str(registered.version)


def finish_version(client: Any, name: str, version: str, run: Any, record: dict[str, Any]) -> None:
    """Model card, the version's and the registered model's descriptions, tags and the ``complete``
    marker; ends the run. Idempotent: a rerun repeats it for a version whose training was killed after
    registration."""
    from harmwatch.model.modelcard import card_excerpt, render_model_card
    from harmwatch.model.summary import model_description
    from harmwatch.model.textmodel import METHOD
    from harmwatch.registry import set_version_tags

    run_id = run.info.run_id
    card = render_model_card(name=name, version=version, run_id=run_id, method=METHOD, **record["card"])
    client.log_text(run_id, card, "model_card.md")
    # Registry stores cap descriptions (VARCHAR(5000) on PostgreSQL): the full card is the run's artifact.
    client.update_model_version(name, version, description=card_excerpt(card, run_id))
    client.update_registered_model(name, description=model_description(METHOD))
    set_version_tags(client, name, version, {**on_version(record["tags"]), COMPLETE_TAG: "true"})
    if run.info.status != "FINISHED":
        client.set_terminated(run_id, "FINISHED")


def resume(client: Any, name: str, previous: tuple[Any, Any]) -> tuple[Any, str, dict[str, Any]]:
    """Finish or reuse an earlier training with the same key: (run, version, record)."""
    run_info, mv = previous
    run_id = run_info.info.run_id
    with tempfile.TemporaryDirectory() as tmp:
        record = json.loads(Path(client.download_artifacts(run_id, RECORD, tmp)).read_text())
    if mv is None:
        log.warning(
            "run %s logged its model but was killed before registering it: registering it instead "
            "of training again",
            run_id,
        )
        version = register(client, name, run_id, record["tags"])
        checkpoint("registered")
    else:
        version = str(mv.version)
    if mv is None or mv.tags.get(COMPLETE_TAG) != "true" or run_info.info.status != "FINISHED":
        log.warning(
            "completing version %s of %s (run %s), whose training did not finish", version, name, run_id
        )
        finish_version(client, name, version, run_info, record)
    else:
        log.info("version %s of %s was already trained with these inputs: reused", version, name)
    return client.get_run(run_id), version, record

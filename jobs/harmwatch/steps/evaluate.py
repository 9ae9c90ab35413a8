"""Decide whether the challenger may replace the champion, and record the decision and its evidence.

Both versions are loaded from the registry by alias and scored on the same frozen evaluation snapshot (the
anchor), the golden set, the paired identity templates (:mod:`harmwatch.model.fairness`), the behaviour
suite (:mod:`harmwatch.behaviour`) and the recent slice that build-dataset held out of the challenger's
training snapshot (the newest moderator-labelled posts); :func:`harmwatch.model.decision.evaluate_challenger`
applies the gates. Meanwhile a fresh interpreter loads the challenger by its ``models:/`` URI and scores
the golden set (the smoke test). The decision (``promote``, ``reject`` or ``pending_approval``) goes on the
challenger version as tags and into the artifact ``evaluation/decision.json`` of its run; the challenger's
scores are kept too, so a later evaluation against it (as champion) need not score it again. A readable
summary of the decision (:mod:`harmwatch.model.summary`: both models' numbers, the failed gates, the
per-class table, the identity templates and the behaviour suite, links) becomes the version's description
above its model card, and the ``review`` of the step's summary, which the retrain DAG's approval task shows
the reviewer. The behaviour suite's results, per functionality and per group, are also the run's
``behaviour_*`` metrics and its artifacts ``evaluation/behaviour.json`` and ``evaluation/behaviour.md``
(both models side by side). A champion set by hand since the last move is noticed and recorded first
(:func:`harmwatch.registry.reconcile_champion`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from harmwatch.behaviour import suite_frame
from harmwatch.config import CLASSES, Settings
from harmwatch.data import catalog
from harmwatch.errors import HarmwatchError, ServiceUnavailable
from harmwatch.faults import checkpoint
from harmwatch.model.decision import behaviour_metrics, evaluate_challenger
from harmwatch.model.fairness import templates
from harmwatch.model.gates import GATES, Thresholds
from harmwatch.model.golden import golden_frame
from harmwatch.model.summary import (
    behaviour_markdown,
    decision_markdown,
    registry_links,
    version_description,
)
from harmwatch.storage import open_store

DECISION_ARTIFACT = "evaluation/decision.json"
FIXED = ("eval", "golden", "templates", "behaviour")  # scored sets that do not change between evaluations
CONTRACT = ["label", "harmful_score", *[f"score_{c}" for c in CLASSES]]


def start_smoke(model_uri: str, golden: Path | None = None) -> subprocess.Popen:
    """Load ``model_uri`` and score the golden set in a fresh interpreter (runs while we work).

    ``golden`` is a CSV replacing the built-in set, as with ``--golden``.
    """
    extra = [str(golden)] if golden is not None else []
    return subprocess.Popen(
        [sys.executable, "-m", "harmwatch.steps.evaluate", model_uri, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish_smoke(proc: subprocess.Popen, expected: pd.DataFrame, timeout: float = 300) -> dict[str, Any]:
    """The fresh process must return the contract and the same labels as this process."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return {"ok": False, "detail": f"no answer within {timeout:.0f}s"}
    if proc.returncode != 0:
        last = (err.strip().splitlines() or ["failed"])[-1][:300]
        if "ServiceUnavailable" in last and "unreachable" in last:  # an outage, not a broken model
            raise ServiceUnavailable(last.split(": ", 1)[-1])
        return {"ok": False, "detail": last}
    got = json.loads(out.strip().splitlines()[-1])
    if got["columns"] != CONTRACT:
        return {"ok": False, "detail": f"output columns {got['columns']} != contract"}
    if got["labels"] != expected["label"].tolist():
        return {"ok": False, "detail": "labels differ from the in-process model"}
    return {"ok": True, "detail": f"scored {len(got['labels'])} golden posts in a fresh process"}


def _smoke_main(argv: list[str]) -> int:
    from harmwatch.config import configure_libraries, load_settings
    from harmwatch.registry import configure_mlflow, load_registered

    settings = load_settings()
    configure_libraries(settings)
    configure_mlflow(settings)
    golden = golden_frame(Path(argv[1]) if len(argv) > 1 else None)
    out = load_registered(argv[0]).predict(golden[["text"]])
    ok_scores = bool(out["harmful_score"].between(0, 1).all())
    print(json.dumps({"columns": list(out.columns), "labels": out["label"].tolist(), "scores_ok": ok_scores}))
    return 0 if ok_scores else 1


def _score(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    return model.predict(frame[["text"]]).reset_index(drop=True)


def _scores_artifact(eval_version: str) -> str:
    return f"evaluation/scores-{eval_version}.parquet"


def log_scores(
    client: Any,
    run_id: str,
    eval_version: str,
    inputs: dict[str, pd.DataFrame],
    scores: dict[str, pd.DataFrame],
) -> None:
    """Keep this version's scores on the fixed sets (anchor, golden, templates): when it is champion, the
    next evaluation reuses them."""
    rows = pd.concat([inputs[p][["text"]].assign(part=p) for p in FIXED], ignore_index=True)
    frame = pd.concat([rows, pd.concat([scores[p] for p in FIXED], ignore_index=True)], axis=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(_scores_artifact(eval_version)).name
        frame.to_parquet(path, index=False)
        client.log_artifact(run_id, str(path), "evaluation")


def cached_scores(
    client: Any, run_id: str, eval_version: str, inputs: dict[str, pd.DataFrame]
) -> dict[str, pd.DataFrame] | None:
    """The champion's own scores on the fixed sets, those its evaluation stored for these very texts (a
    set added or changed since, such as a new behaviour suite, is left out and scored again)."""
    try:
        with tempfile.TemporaryDirectory() as tmp:
            frame = pd.read_parquet(client.download_artifacts(run_id, _scores_artifact(eval_version), tmp))
    except Exception:
        return None
    parts = {p: frame[frame["part"] == p].reset_index(drop=True) for p in FIXED}
    same = [p for p in FIXED if parts[p]["text"].equals(inputs[p]["text"].reset_index(drop=True))]
    return {p: parts[p][CONTRACT] for p in same} or None


def read_recent_slice(store: Any, train_version: str | None) -> tuple[pd.DataFrame | None, str | None]:
    """The recent slice held out of the challenger's training snapshot, or (None, why there is none)."""
    manifest = store.manifest(catalog.train_snapshot(str(train_version))) if train_version else None
    version = (manifest or {}).get("recent_version")
    if not version:
        note = (manifest or {}).get("recent_note") or "the training snapshot holds no recent slice"
        return None, note
    return store.read_parquet(f"{catalog.recent_slice(version)}/{catalog.RECENT_FILE}"), None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One option per row of the gate table (``--min-macro-f1`` ...), with its default and help."""
    for gate in GATES:
        default = None if gate.follows else gate.default
        shown = f"--{gate.follows.replace('_', '-')}" if gate.follows else "%(default)s"
        parser.add_argument(
            gate.option,
            type=type(gate.default),
            default=default,
            help=f"{gate.help.replace('%', '%%')} ({gate.direction}, {gate.unit}; default {shown})",
        )
    parser.add_argument("--date", help="logical date YYYY-MM-DD, recorded with the decision")
    parser.add_argument(
        "--golden", type=Path, help="CSV (text, expect, kind, note) replacing the built-in golden set"
    )
    parser.add_argument(
        "--approval",
        action="store_true",
        help="never promote automatically: a passing challenger becomes pending_approval",
    )


def thresholds_of(args: argparse.Namespace) -> Thresholds:
    """The thresholds the options give; one left unset takes the value of the one it follows."""
    values = {gate.name: getattr(args, gate.name) for gate in GATES}
    for gate in GATES:
        if values[gate.name] is None and gate.follows:
            values[gate.name] = values[gate.follows]
    return Thresholds(**values)


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    from harmwatch.registry import (
        configure_mlflow,
        mlflow_calls,
        reconcile_champion,
        require_alias_version,
        version_uri,
    )

    t = thresholds_of(args)
    golden_file = Path(args.golden) if args.golden else None
    if golden_file is not None and not golden_file.is_file():
        raise HarmwatchError(f"golden set not found at {golden_file}")
    golden = golden_frame(golden_file)
    with mlflow_calls(settings):
        client = configure_mlflow(settings)
        noticed = reconcile_champion(client, settings, "evaluate", args.date)
        challenger = require_alias_version(client, settings, "challenger")
        smoke_proc = start_smoke(version_uri(settings.model_name, challenger.version), golden_file)
        try:
            summary = _evaluate(settings, client, challenger, smoke_proc, golden, golden_file, t, args)
            return {**summary, "champion_set_outside_harmwatch": noticed}
        finally:
            if smoke_proc.poll() is None:  # failed before its answer was read
                smoke_proc.kill()
                smoke_proc.wait()


def _inputs(
    settings: Settings, challenger: Any, eval_version: str | None, golden: pd.DataFrame
) -> tuple[dict[str, pd.DataFrame], str | None]:
    """The sets both models are scored on: the frozen snapshot, the golden set, the identity templates and
    the recent slice when there is one (else why there is none)."""
    store = open_store(settings.lake_uri, settings)
    eval_key = f"{catalog.eval_snapshot(str(eval_version))}/{catalog.EVAL_FILE}"
    if not eval_version or not store.exists(eval_key):
        raise HarmwatchError(
            f"evaluation snapshot {eval_version!r} of challenger version "
            f"{challenger.version} not found at {store.url(eval_key)}"
        )
    inputs = {
        "eval": store.read_parquet(eval_key),
        "golden": golden,
        "templates": templates(),
        "behaviour": suite_frame(),
    }
    recent, recent_skipped = read_recent_slice(store, challenger.tags.get("harmwatch.train_version"))
    if recent is not None:
        inputs["recent"] = recent
    return inputs, recent_skipped


def _scores(
    client: Any, name: str, challenger: Any, champion: Any, eval_version: str, inputs: dict[str, pd.DataFrame]
) -> tuple[dict[str, pd.DataFrame], dict[str, Any] | None]:
    """The challenger's scores on every set (kept on its run), and the champion's: from its own run where
    they are cached for these very texts, scored otherwise."""
    from harmwatch.registry import load_registered, version_uri

    ch_model = load_registered(version_uri(name, challenger.version))
    ch = {part: _score(ch_model, frame) for part, frame in inputs.items()}
    log_scores(client, challenger.run_id, eval_version, inputs, ch)
    checkpoint("scores")
    if champion is None:
        return ch, None
    scores = cached_scores(client, champion.run_id, eval_version, inputs) or {}
    if len(scores) < len(inputs):  # the recent slice is new every run; anything not cached is scored
        champ_model = load_registered(version_uri(name, champion.version))
        scores.update({p: _score(champ_model, f) for p, f in inputs.items() if p not in scores})
    return ch, {"version": champion.version, "run_id": champion.run_id, **scores}


def _evaluate(
    settings: Settings,
    client: Any,
    challenger: Any,
    smoke_proc: subprocess.Popen,
    golden: pd.DataFrame,
    golden_file: Path | None,
    thresholds: Thresholds,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Read the snapshot, score both models, apply the gates, then write the evidence and (last) the tags."""
    from harmwatch.registry import get_alias_version, set_version_tags

    name = settings.model_name
    champion = get_alias_version(client, name, "champion")
    eval_version = challenger.tags.get("harmwatch.eval_version")
    inputs, recent_skipped = _inputs(settings, challenger, eval_version, golden)
    ch, champ = _scores(client, name, challenger, champion, eval_version, inputs)
    ch_golden = ch["golden"]
    smoke = finish_smoke(smoke_proc, ch_golden)
    result = evaluate_challenger(
        inputs["eval"],
        golden,
        {"version": challenger.version, "run_id": challenger.run_id, **ch},
        champ,
        smoke,
        thresholds,
        args.approval,
        settings.seed,
        eval_version,
        args.date,
        str(golden_file or "built-in (harmwatch.model.golden)"),
        templates=inputs["templates"],
        recent=inputs.get("recent"),
        recent_skipped=recent_skipped,
        behaviour=inputs["behaviour"],
    )
    log_behaviour(client, challenger.run_id, result.evidence["behaviour"])
    # The evidence goes first, the tags promote acts on last (decision first among them): a kill in between
    # leaves this version without a decision, or with its previous one and the champion it was taken against
    # (promote refuses a stale one), and a rerun writes both again.
    client.log_text(challenger.run_id, json.dumps(result.evidence, indent=2, default=str), DECISION_ARTIFACT)
    text = decision_markdown(result.evidence, name, _links(settings, client, challenger, champion, args))
    client.update_model_version(name, challenger.version, version_description(text, challenger.description))
    checkpoint("decision")
    set_version_tags(client, name, challenger.version, result.tags)
    checkpoint("decided")
    return {**result.summary, "review": text}


def log_behaviour(client: Any, run_id: str, behaviour: dict[str, Any]) -> None:
    """The behaviour suite's results on the challenger's run: ``behaviour_*`` metrics (per functionality
    and per group) and both models' reports as JSON and Markdown."""
    from mlflow.entities import Metric
    from mlflow.utils.time import get_current_time_millis

    stamp = get_current_time_millis()  # when MLflow records it, as its own log_metric does
    metrics = behaviour_metrics(behaviour["challenger"])
    client.log_batch(run_id, metrics=[Metric(k, v, stamp, 0) for k, v in metrics.items()])
    client.log_text(run_id, json.dumps(behaviour, indent=1), "evaluation/behaviour.json")
    client.log_text(run_id, behaviour_markdown(behaviour), "evaluation/behaviour.md")


def _links(settings: Settings, client: Any, challenger: Any, champion: Any, args: Any) -> dict:
    """Where a person finds the versions, the evaluation run and the reports (see the review module)."""
    run = client.get_run(challenger.run_id)
    champion_version = str(champion.version) if champion is not None else None
    links = registry_links(
        settings.mlflow_ui_url,
        settings.model_name,
        str(challenger.version),
        champion_version,
        run.info.experiment_id,
        challenger.run_id,
    )
    reports = open_store(settings.reports_uri, settings)
    links["validation"] = reports.url(catalog.VALIDATION_REPORTS)
    if args.date:
        links["drift"] = reports.url(catalog.drift_report(args.date))
    return links


if __name__ == "__main__":
    sys.exit(_smoke_main(sys.argv[1:]))

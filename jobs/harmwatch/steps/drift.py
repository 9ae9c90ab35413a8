"""Drift: an Evidently report comparing a reference with the current posts, and a calibrated verdict.

File mode (``--reference PATH --current PATH``, CSV or Parquet with a ``text`` column, optionally
``label``, ``pred_label``/``harmful_score``): compares the two files. Pipeline mode (no files): the
reference is the champion's ``drift_reference/reference.parquet`` (a sample of its training snapshot,
logged by ``harmwatch train``); the current posts are the validated labelled and reported posts of the
newest ``batch_dt`` in the lake (or of ``--date`` and the ``--window-days`` before it). Either side can
be given alone; the other then comes from the pipeline.

Signals (decision rule in :mod:`harmwatch.monitoring.drift_decision`): text descriptors, text content
(domain classifier), prediction drift (the champion's predicted class mix and ``harmful_score``; skipped,
and said so in the summary, when no model is available), label drift where both sides have labels, and
report volume against recent days (``volume_anomaly``, kept apart from ``drift_detected``: a spike in
reports is a moderation event, not a shift in what people post).

Outputs: ``drift.html`` (Evidently page, safe against hostile posts) and ``drift.json`` in ``--out``
(default: the reports store, :func:`harmwatch.data.catalog.drift_report`). In pipeline mode both are also
logged into the champion's MLflow run under ``drift/dt=<day>/`` with the scores as metrics (step = day
number since 1970-01-01).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from harmwatch.config import Settings
from harmwatch.data import catalog
from harmwatch.data.tables import newest_day, read_predictions
from harmwatch.errors import DataError, HarmwatchError, ServiceUnavailable
from harmwatch.htmlreport import render_drift_html
from harmwatch.monitoring import drift_inputs as inputs
from harmwatch.monitoring.drift_decision import MIN_ROWS, assess, results
from harmwatch.storage import Store, open_store

log = logging.getLogger(__name__)
REFERENCE_ARTIFACT = "drift_reference/reference.parquet"


def day_number(day: str) -> int:
    return (date.fromisoformat(day) - date(1970, 1, 1)).days


def predict(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``pred_label`` and ``harmful_score`` from a pyfunc model (contract in docs/architecture.md),
    scored by one forked worker per CPU (scoring both sides is most of this step's work)."""
    from harmwatch.model.scoring import available_cpus, score_frame

    out = score_frame(model, pd.DataFrame({"text": frame["text"].tolist()}), 10_000, available_cpus())
    return frame.assign(pred_label=list(out["label"].astype(str)), harmful_score=list(out["harmful_score"]))


def add_predictions(
    settings: Settings, model_uri: str | None, ref: pd.DataFrame, cur: pd.DataFrame, champion_version: Any
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Fill predictions where missing, from ``--model-uri`` or the champion; else skip, saying why."""
    have = [all(c in f for c in ("pred_label", "harmful_score")) for f in (ref, cur)]
    if all(have) and not model_uri:
        return ref, cur, {"prediction_source": "input files"}
    if not model_uri and champion_version is None:
        return (
            ref.drop(columns=["pred_label", "harmful_score"], errors="ignore"),
            cur.drop(columns=["pred_label", "harmful_score"], errors="ignore"),
            {"prediction_skipped": "no --model-uri and no champion in the registry"},
        )
    from harmwatch import registry

    registry.configure_mlflow(settings)
    if model_uri:
        model, source = registry.load_registered(model_uri), model_uri
    else:
        model = registry.load_registered(registry.version_uri(settings.model_name, champion_version.version))
        source = "champion"
    redo = [not h or bool(model_uri) for h in have]
    if all(redo):  # one scoring pass over both sides keeps the workers busy
        both = predict(model, pd.concat([ref[["text"]], cur[["text"]]], ignore_index=True))
        cols = ["pred_label", "harmful_score"]
        ref = ref.assign(**{c: both[c].iloc[: len(ref)].to_list() for c in cols})
        cur = cur.assign(**{c: both[c].iloc[len(ref) :].to_list() for c in cols})
    else:
        ref = predict(model, ref) if redo[0] else ref
        cur = predict(model, cur) if redo[1] else cur
    return ref, cur, {"prediction_source": source}


def stored_scores(lake: Any, cur: pd.DataFrame, champion: Any) -> pd.DataFrame | None:
    """The champion's stored predictions for every post of ``cur`` (in its order), else None."""
    if "post_id" not in cur or cur.empty:
        return None
    days = set(cur["batch_dt"].dropna().astype(str)) if "batch_dt" in cur else None
    stored = read_predictions(lake, days, str(champion.version)).set_index("post_id")
    ids = cur["post_id"].astype(str)
    if not ids.isin(stored.index).all():
        return None
    return stored.loc[ids.to_numpy()].reset_index()


def download_reference(client: Any, run_id: str) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download_artifacts(run_id, REFERENCE_ARTIFACT, tmp)
        except Exception as exc:
            raise DataError(
                f"champion run {run_id} has no {REFERENCE_ARTIFACT} artifact "
                f"({str(exc).splitlines()[0][:160]})"
            ) from None
        return pd.read_parquet(path)


def log_to_mlflow(client: Any, run_id: str, day: str, html: str, record: dict[str, Any]) -> None:
    """HTML and JSON as artifacts of the champion's run, scores as a time series (step = day number)."""
    from mlflow.entities import Metric

    ts = int(pd.Timestamp(day, tz="UTC").timestamp() * 1000)
    step = day_number(day)
    values = {"drift_score": record["drift_score"], "drift_detected": float(record["drift_detected"])}
    values.update({f"drift_{k}": float(v["drift_detected"]) for k, v in record["signals"].items()})
    values.update({f"drift_col_{k}": v["score"] for k, v in record["columns"].items()})
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "drift.html").write_text(html, encoding="utf-8")
        Path(tmp, "drift.json").write_text(json.dumps(record, default=str), encoding="utf-8")
        client.log_artifacts(run_id, tmp, f"drift/dt={day}")
    client.log_batch(run_id, metrics=[Metric(k, float(v), ts, step) for k, v in values.items()])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reference", help="reference CSV/Parquet (default: the champion's reference sample)"
    )
    parser.add_argument(
        "--current", help="current CSV/Parquet (default: newest validated batches in the lake)"
    )
    parser.add_argument("--out", help="output folder or URI (default: the reports store, drift/dt=<day>/)")
    parser.add_argument(
        "--date", help="logical date YYYY-MM-DD of the current batch (default: newest in lake)"
    )
    parser.add_argument(
        "--window-days", type=int, default=1, help="days of batches ending at --date (default 1)"
    )
    parser.add_argument(
        "--history-days", type=int, default=14, help="previous days for the report-volume check"
    )
    parser.add_argument("--model-uri", help="MLflow model URI for prediction drift (default: the champion)")
    parser.add_argument("--lake", help="lake URI (default: settings.lake_uri)")
    parser.add_argument("--reports", help="reports URI (default: settings.reports_uri)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log into the champion's run")


def skipped(reason: str, facts: dict[str, Any]) -> dict[str, Any]:
    """Pipeline mode with nothing to compare: exit 0, verdict unknown (null), and say why."""
    log.warning("drift skipped: %s", reason)
    anomaly = bool((facts.get("report_volume") or {}).get("anomaly"))
    return {
        "drift_detected": None,
        "drift_score": None,
        "report_html": None,
        "skipped": reason,
        "volume_anomaly": anomaly,
        **facts,
    }


def _champion(settings: Settings, args: argparse.Namespace, facts: dict[str, Any]) -> tuple[Any, Any]:
    """The registry client and the champion; in file mode (``--reference``) a registry outage is noted in
    ``facts`` instead of failing, as that mode works without one."""
    from harmwatch import registry

    try:
        return registry.champion(settings)
    except ServiceUnavailable as exc:
        if not args.reference:
            raise
        facts["registry_unavailable"] = str(exc)
        return None, None


def _predictions(
    settings: Settings,
    args: argparse.Namespace,
    lake: Store,
    ref: pd.DataFrame,
    cur: pd.DataFrame,
    champion: Any,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Both frames with the model's predictions: the current batch's from the lake when ``harmwatch
    predict`` scored it with this champion already, the rest scored here."""
    stored = (
        None if args.current or args.model_uri or champion is None else stored_scores(lake, cur, champion)
    )
    if stored is not None:
        cur = cur.assign(
            pred_label=stored["label"].to_numpy(), harmful_score=stored["harmful_score"].to_numpy()
        )
    ref, cur, pred_facts = add_predictions(settings, args.model_uri, ref, cur, champion)
    if stored is not None:
        pred_facts = {"prediction_source": "lake predictions"}
    return ref, cur, pred_facts


def _report_place(settings: Settings, args: argparse.Namespace, day: str | None) -> tuple[Store, str]:
    """Where the report goes: ``--out``, else the reports store under the day's (or the files') folder."""
    if args.out:
        return open_store(args.out, settings), ""
    digest = hashlib.sha256(f"{args.reference}|{args.current}".encode()).hexdigest()[:12]
    folder = catalog.drift_report(day) if day else catalog.drift_files_report(digest)
    return open_store(args.reports or settings.reports_uri, settings), f"{folder}/"


def _summary(
    record: dict[str, Any], out: Store, prefix: str, logged: str | None, facts: dict[str, Any]
) -> dict[str, Any]:
    """The step's one-line summary: the verdict, each signal, where the report is, and the facts."""
    signals = {
        k: {"drift_detected": v["drift_detected"], "scores": v["scores"]}
        for k, v in record["signals"].items()
    }
    return {
        "drift_detected": record["drift_detected"],
        "drift_score": record["drift_score"],
        "report_html": out.url(f"{prefix}drift.html"),
        "report_json": out.url(f"{prefix}drift.json"),
        "signals": signals,
        "volume_anomaly": record["volume_anomaly"],
        "report_volume": record["report_volume"],
        "mlflow_run_id": logged,
        **{k: v for k, v in facts.items() if k != "current_sources"},
    }


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:

    lake = open_store(args.lake or settings.lake_uri, settings)
    try:
        day = date.fromisoformat(args.date).isoformat() if args.date else None
    except ValueError:
        raise HarmwatchError(f"--date {args.date!r} is not a YYYY-MM-DD date") from None
    day = day or (None if args.current else newest_day(lake))
    facts: dict[str, Any] = {}
    client, champion = _champion(settings, args, facts)
    facts["champion_version"] = str(champion.version) if champion is not None else None
    # -- read
    if args.reference:
        facts["reference"], reference = args.reference, inputs.read_table(args.reference, settings)
    elif champion is not None:
        facts["reference"] = f"runs:/{champion.run_id}/{REFERENCE_ARTIFACT}"
        reference = download_reference(client, champion.run_id)
    else:
        return skipped("no champion in the registry, so no reference sample (give --reference)", facts)
    current = inputs.load_current(
        settings, args.current, lake, day, args.window_days, args.history_days, facts
    )
    if current is None:
        return skipped(f"no validated batches in the lake {lake.uri}", facts)
    ref, cur = inputs.prepare(reference), inputs.prepare(current)
    if not args.current and len(cur) < MIN_ROWS:  # a quiet day is not an error in a scheduled run
        facts.update(day=day, rows_current=len(cur))
        return skipped(f"only {len(cur)} posts in the lake for {facts['current']} (need {MIN_ROWS})", facts)
    ref = inputs.exclude_current(ref, cur)
    ref, cur, pred_facts = _predictions(settings, args, lake, ref, cur, champion)
    facts.update(pred_facts, rows_reference=len(ref), rows_current=len(cur), day=day)
    volume = facts.pop("report_volume", None)
    shown = {k: v for k, v in facts.items() if k != "current_sources"} | {
        "report volume": inputs.volume_line(volume)
    }
    # -- decide
    verdict, snapshot = assess(ref, cur)
    record = results(verdict, snapshot, shown)
    record.update(report_volume=volume, volume_anomaly=bool(volume and volume["anomaly"]))
    html = render_drift_html(snapshot, verdict, shown)
    # -- write
    out, prefix = _report_place(settings, args, day)
    out.write_text(f"{prefix}drift.html", html)
    out.write_text(f"{prefix}drift.json", json.dumps(record, default=str, sort_keys=True))
    logged = None
    if champion is not None and not args.reference and day and not args.no_mlflow:
        log_to_mlflow(client, champion.run_id, day, html, record)
        logged = champion.run_id
    return _summary(record, out, prefix, logged, facts)

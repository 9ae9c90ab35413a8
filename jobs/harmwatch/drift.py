"""Drift: an Evidently report comparing a reference with the current posts, and a calibrated verdict.

File mode (``--reference PATH --current PATH``, CSV or Parquet with a ``text`` column, optionally
``label``, ``pred_label``/``harmful_score``): compares the two files. Pipeline mode (no files): the
reference is the champion's ``drift_reference/reference.parquet`` (a sample of its training snapshot,
logged by ``harmwatch train``); the current posts are the validated labelled and reported posts of the
newest ``batch_dt`` in the lake (or of ``--date`` and the ``--window-days`` before it). Either side can
be given alone; the other then comes from the pipeline.

Signals (decision rule in :mod:`harmwatch.drift_report`): text descriptors, text content (domain
classifier), prediction drift (the champion's predicted class mix and ``harmful_score``; skipped, and
said so in the summary, when no model is available), label drift where both sides have labels, and
report volume against recent days (``volume_anomaly``, kept apart from ``drift_detected``: a spike in
reports is a moderation event, not a shift in what people post).

Outputs: ``drift.html`` (Evidently page, safe against hostile posts) and ``drift.json`` in ``--out``
(default ``reports_uri/drift/dt=<day>/``). In pipeline mode both are also logged into the champion's
MLflow run under ``drift/dt=<day>/`` with the scores as metrics (step = day number since 1970-01-01).
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

from harmwatch import drift_inputs as inputs
from harmwatch.config import Settings
from harmwatch.descriptors import describe_pair
from harmwatch.drift_report import compare, render_html
from harmwatch.errors import DataError, HarmwatchError, ServiceUnavailable
from harmwatch.storage import open_store

log = logging.getLogger(__name__)
MIN_ROWS = 20
REFERENCE_ARTIFACT = "drift_reference/reference.parquet"


def prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep posts with text; labels and predicted labels as strings, scores as floats."""
    out = frame[frame["text"].notna()].copy()
    out["text"] = out["text"].astype(str)
    for col in ("label", "pred_label", "post_id"):
        if col in out:
            out[col] = out[col].astype("object").where(out[col].notna(), None)
            out[col] = out[col].map(lambda v: None if v is None else str(v))
    if "harmful_score" in out:
        out["harmful_score"] = pd.to_numeric(out["harmful_score"], errors="coerce")
    return out.reset_index(drop=True)


def with_descriptors(ref: pd.DataFrame, cur: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    rd, cd = describe_pair(ref["text"], cur["text"])
    return pd.concat([ref, rd], axis=1), pd.concat([cur, cd], axis=1)


def exclude_current(ref: pd.DataFrame, cur: pd.DataFrame) -> pd.DataFrame:
    """The reference never contains the posts being judged (a model may have trained on them)."""
    if "post_id" in ref and "post_id" in cur:
        return ref[~ref["post_id"].isin(set(cur["post_id"].dropna()))].reset_index(drop=True)
    return ref


def day_number(day: str) -> int:
    return (date.fromisoformat(day) - date(1970, 1, 1)).days


def evaluate(ref: pd.DataFrame, cur: pd.DataFrame, facts: dict[str, Any]) -> tuple[dict[str, Any], str, Any]:
    """Descriptors, Evidently, verdict and page for two prepared frames: (results, html, verdict)."""
    if len(ref) < MIN_ROWS or len(cur) < MIN_ROWS:
        raise DataError(
            f"too few posts to compare: reference {len(ref)}, current {len(cur)} (need {MIN_ROWS})"
        )
    ref, cur = with_descriptors(ref, cur)
    verdict, snapshot = compare(ref, cur)
    results = {
        "drift_detected": verdict.drift_detected,
        "drift_score": verdict.drift_score,
        "signals": verdict.signals,
        "columns": verdict.columns,
        **facts,
        "evidently": snapshot.dict(),
    }
    return results, render_html(snapshot, verdict, facts), verdict


# -- model and registry ---------------------------------------------------------------------------


def champion(settings: Settings) -> tuple[Any, str | None, str | None]:
    """(MLflow client, champion run id, version) or (None, None, None) when there is no champion.

    A local SQLite registry that does not exist yet means "no champion" (and is not created)."""
    uri = settings.mlflow_registry_uri
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///") :]).is_file():
        return None, None, None
    from harmwatch import registry

    try:
        client = registry.configure_mlflow(settings)
        mv = registry.get_alias_version(client, settings.model_name, "champion")
    except HarmwatchError:
        raise
    except Exception as exc:
        raise ServiceUnavailable(f"MLflow registry {uri}: {str(exc).splitlines()[0][:200]}") from None
    return (client, mv.run_id, str(mv.version)) if mv is not None else (client, None, None)


def predict(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``pred_label`` and ``harmful_score`` from a pyfunc model (contract in DESIGN.md).

    Scored by one forked worker per CPU (``harmwatch.score.score_frame``): the text vectorisers are
    single-threaded, and scoring both sides is most of this step's work.
    """
    from harmwatch.score import available_cpus, score_frame

    out = score_frame(model, pd.DataFrame({"text": frame["text"].tolist()}), 10_000, available_cpus())
    return frame.assign(pred_label=list(out["label"].astype(str)), harmful_score=list(out["harmful_score"]))


def add_predictions(
    settings: Settings, args: argparse.Namespace, ref: pd.DataFrame, cur: pd.DataFrame, has_champion: bool
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Fill predictions where missing, from ``--model-uri`` or the champion; else skip, saying why."""
    have = [all(c in f for c in ("pred_label", "harmful_score")) for f in (ref, cur)]
    if all(have) and not args.model_uri:
        return ref, cur, {"prediction_source": "input files"}
    if not args.model_uri and not has_champion:
        return (
            ref.drop(columns=["pred_label", "harmful_score"], errors="ignore"),
            cur.drop(columns=["pred_label", "harmful_score"], errors="ignore"),
            {"prediction_skipped": "no --model-uri and no champion in the registry"},
        )
    from harmwatch import registry

    if args.model_uri:
        import mlflow.pyfunc

        registry.configure_mlflow(settings)
        model, source = mlflow.pyfunc.load_model(args.model_uri), args.model_uri
    else:
        model, source = registry.load_model_by_alias(settings, alias="champion"), "champion"
    redo = [not h or bool(args.model_uri) for h in have]
    if all(redo):  # one scoring pass over both sides keeps the workers busy
        both = predict(model, pd.concat([ref[["text"]], cur[["text"]]], ignore_index=True))
        cols = ["pred_label", "harmful_score"]
        ref = ref.assign(**{c: both[c].iloc[: len(ref)].to_list() for c in cols})
        cur = cur.assign(**{c: both[c].iloc[len(ref) :].to_list() for c in cols})
    else:
        ref = predict(model, ref) if redo[0] else ref
        cur = predict(model, cur) if redo[1] else cur
    return ref, cur, {"prediction_source": source}


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


def log_to_mlflow(client: Any, run_id: str, day: str, html: str, results: dict[str, Any]) -> None:
    """HTML and JSON as artifacts of the champion's run, scores as a time series (step = day number)."""
    from mlflow.entities import Metric

    ts = int(pd.Timestamp(day, tz="UTC").timestamp() * 1000)
    step = day_number(day)
    values = {"drift_score": results["drift_score"], "drift_detected": float(results["drift_detected"])}
    values.update({f"drift_{k}": float(v["drift_detected"]) for k, v in results["signals"].items()})
    values.update({f"drift_col_{k}": v["score"] for k, v in results["columns"].items()})
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "drift.html").write_text(html, encoding="utf-8")
        Path(tmp, "drift.json").write_text(json.dumps(results, default=str), encoding="utf-8")
        client.log_artifacts(run_id, tmp, f"drift/dt={day}")
    client.log_batch(run_id, metrics=[Metric(k, float(v), ts, step) for k, v in values.items()])


# -- command --------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reference", help="reference CSV/Parquet (default: the champion's reference sample)"
    )
    parser.add_argument(
        "--current", help="current CSV/Parquet (default: newest validated batches in the lake)"
    )
    parser.add_argument("--out", help="output folder or URI (default: reports_uri/drift/dt=<day>/)")
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


def _day(args: argparse.Namespace, lake) -> str | None:
    if args.date:
        try:
            return date.fromisoformat(args.date).isoformat()
        except ValueError:
            raise HarmwatchError(f"--date {args.date!r} is not a YYYY-MM-DD date") from None
    return None if args.current else inputs.newest_day(lake)


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


def load_reference(
    args: argparse.Namespace, client: Any, run_id: str | None, facts: dict
) -> pd.DataFrame | None:
    """``--reference``, else the champion's reference sample; None when there is no champion."""
    if args.reference:
        facts["reference"] = args.reference
        return inputs.read_table(args.reference)
    if run_id is None:
        return None
    facts["reference"] = f"runs:/{run_id}/{REFERENCE_ARTIFACT}"
    return download_reference(client, run_id)


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    lake = open_store(args.lake or settings.lake_uri)
    day = _day(args, lake)
    facts: dict[str, Any] = {}
    try:
        client, run_id, version = champion(settings)
    except ServiceUnavailable as exc:
        if not args.reference:
            raise
        client, run_id, version = None, None, None  # file mode works without a registry
        facts["registry_unavailable"] = str(exc)
    facts["champion_version"] = version
    reference = load_reference(args, client, run_id, facts)
    if reference is None:
        return skipped("no champion in the registry, so no reference sample (give --reference)", facts)
    current = inputs.load_current(args, lake, day, facts)
    if current is None:
        return skipped(f"no validated batches in the lake {lake.uri}", facts)
    ref, cur = prepare(reference), prepare(current)
    if not args.current and len(cur) < MIN_ROWS:  # a quiet day is not an error in a scheduled run
        facts.update(day=day, rows_current=len(cur))
        return skipped(f"only {len(cur)} posts in the lake for {facts['current']} (need {MIN_ROWS})", facts)
    ref = exclude_current(ref, cur)
    ref, cur, pred_facts = add_predictions(settings, args, ref, cur, run_id is not None)
    facts.update(pred_facts, rows_reference=len(ref), rows_current=len(cur), day=day)
    volume = facts.pop("report_volume", None)
    shown = {k: v for k, v in facts.items() if k != "current_sources"} | {
        "report volume": inputs.volume_line(volume)
    }
    results, html, _ = evaluate(ref, cur, shown)
    results.update(report_volume=volume, volume_anomaly=bool(volume and volume["anomaly"]))
    if args.out:
        out, prefix = open_store(args.out), ""
    else:
        tag = (
            f"dt={day}"
            if day
            else "files/" + hashlib.sha256(f"{args.reference}|{args.current}".encode()).hexdigest()[:12]
        )
        out, prefix = open_store(args.reports or settings.reports_uri), f"drift/{tag}/"
    out.write_text(f"{prefix}drift.html", html)
    out.write_text(f"{prefix}drift.json", json.dumps(results, default=str, sort_keys=True))
    logged = None
    if run_id and not args.reference and day and not args.no_mlflow:
        log_to_mlflow(client, run_id, day, html, results)
        logged = run_id
    signals = {
        k: {"drift_detected": v["drift_detected"], "scores": v["scores"]}
        for k, v in results["signals"].items()
    }
    return {
        "drift_detected": results["drift_detected"],
        "drift_score": results["drift_score"],
        "report_html": out.url(f"{prefix}drift.html"),
        "report_json": out.url(f"{prefix}drift.json"),
        "signals": signals,
        "volume_anomaly": results["volume_anomaly"],
        "report_volume": volume,
        "mlflow_run_id": logged,
        **{k: v for k, v in facts.items() if k not in ("current_sources",)},
    }

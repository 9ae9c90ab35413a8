"""Moderation metrics per batch (``batch_dt``), as an MLflow time series and a Prometheus text file.

Reads every validated labelled and report row; :mod:`harmwatch.monitoring.moderation` defines the metrics
(prevalence, proactive rate, valid-appeal proxy, unreliable-report share, report volume, coordinated
reports) and the brigade alarm. The proactive rate needs the champion's flags on the harmful posts, scored
here. An alarm is part of the summary (``alarms``) and of the Prometheus file; the step itself succeeds,
so the numbers are always published (the moderation DAG fails its ``brigade_alarm`` task instead).

Outputs (:mod:`harmwatch.data.catalog`): the newest batch's Prometheus file for node-exporter's textfile
collector, and per day ``moderation.json``, ``reporter_reliability.csv`` (pseudonymised ids) and the
``.prom``; MLflow run ``moderation-metrics`` of experiment ``harmwatch-monitoring`` gets one step per day
(step = days since 1970-01-01, timestamp = the batch date). Reruns log the same values.
"""

from __future__ import annotations

import argparse
import math
import re
from datetime import date
from typing import Any

import pandas as pd

from harmwatch.config import BENIGN_CLASS, Settings
from harmwatch.data import catalog
from harmwatch.data.exports import spreadsheet_csv
from harmwatch.data.reporter_history import ReporterHistory
from harmwatch.data.tables import read_predictions, read_validated
from harmwatch.errors import HarmwatchError
from harmwatch.monitoring.moderation import (
    HELP,
    QUEUE_HELP,
    alarms,
    batch_metrics,
    brigade_signals,
    latest_labels,
    prometheus_text,
    queue_metrics,
    queue_prometheus_text,
)
from harmwatch.storage import Store, open_store

EXPERIMENT, RUN_NAME = "harmwatch-monitoring", "moderation-metrics"
LABELLED_COLUMNS = ["post_id", "text", "label", "labelled_at", "batch_dt"]
REPORT_COLUMNS = ["report_id", "post_id", "text", "reporter_id", "reason", "reported_at", "batch_dt"]


def log_series(settings: Settings, rows: list[dict[str, Any]]) -> str:
    """Log every day's metrics (step = day number, timestamp = batch date) into the monitoring run."""
    from mlflow.entities import Metric

    from harmwatch import registry

    client = registry.configure_mlflow(settings)
    exp = client.get_experiment_by_name(EXPERIMENT)
    exp_id = exp.experiment_id if exp else client.create_experiment(EXPERIMENT)
    found = client.search_runs([exp_id], f"tags.mlflow.runName = '{RUN_NAME}'", max_results=1)
    run_id = found[0].info.run_id if found else client.create_run(exp_id, run_name=RUN_NAME).info.run_id
    batch = []
    for m in rows:
        ts = int(pd.Timestamp(m["batch_dt"], tz="UTC").timestamp() * 1000)
        step = (date.fromisoformat(m["batch_dt"]) - date(1970, 1, 1)).days
        batch += [
            Metric(k, float(m[k]), ts, step)
            for k in (*HELP, *QUEUE_HELP)
            if m.get(k) is not None and not (isinstance(m[k], float) and math.isnan(m[k]))
        ]
    for i in range(0, len(batch), 900):  # MLflow caps a batch at 1000 metrics
        client.log_batch(run_id, metrics=batch[i : i + 900])
    return run_id


def champion_flags(
    settings: Settings, lake: Store, labelled: pd.DataFrame
) -> tuple[pd.Series | None, str | None, str | None]:
    """post_id -> the champion predicts a harmful class, the champion's version and where the flags came
    from: the champion's stored predictions (``harmwatch predict``) where it scored the post, the champion
    scored here for the rest. (None, None, None) without a champion."""
    from harmwatch import registry

    _client, champion = registry.champion(settings)
    if champion is None:
        return None, None, None
    version = str(champion.version)
    posts = latest_labels(labelled)
    posts = posts[posts["label"] != BENIGN_CLASS]  # only harmful posts need a flag
    if posts.empty:
        return pd.Series(dtype=bool), version, None
    stored = read_predictions(lake, set(posts["batch_dt"].dropna().astype(str)), version).set_index("post_id")
    known = posts["post_id"].isin(stored.index)
    flags = pd.Series(
        (stored.loc[posts.loc[known, "post_id"], "label"] != BENIGN_CLASS).to_numpy(),
        index=posts.loc[known, "post_id"].to_numpy(),
    )
    if known.all():
        return flags, version, "lake predictions"
    model = registry.load_registered(registry.version_uri(settings.model_name, version))
    rest = posts[~known]
    pred = model.predict(rest[["text"]].reset_index(drop=True))
    scored = pd.Series((pred["label"] != BENIGN_CLASS).to_numpy(), index=rest["post_id"].to_numpy())
    return pd.concat([flags, scored]), version, "lake predictions + champion" if known.any() else "champion"


def review_state(lake: Store, day: str) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(the newest state of every review item up to ``day``, every decision exported up to it)."""
    runs = [m for m in lake.committed(catalog.REVIEW_PULLS) if m.get("date", "") <= day]
    if not runs:
        return None

    def progress(manifest: dict) -> tuple[str, int]:  # final decisions only grow, so they order a day's runs
        counts = manifest.get("status_counts", {})
        return manifest["date"], counts.get("labelled", 0) + counts.get("skipped", 0)

    newest = max(runs, key=progress)
    status = lake.read_parquet(f"{newest['prefix']}/{catalog.STATUS_FILE}")
    decisions = pd.concat([lake.read_parquet(f"{m['prefix']}/{catalog.DECISIONS_FILE}") for m in runs])
    return status, decisions


def newer_than_published(out: Store, day: str) -> bool:
    if not out.exists(catalog.METRICS_LATEST_PROM):
        return True
    text = out.read_bytes(catalog.METRICS_LATEST_PROM).decode("utf-8", "replace")
    found = re.search(r'batch_dt="(\d{4}-\d{2}-\d{2})"', text)
    return found is None or day >= found.group(1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--date", help="logical date YYYY-MM-DD: metrics of batches up to it (default: newest)"
    )
    parser.add_argument("--min-judged", type=int, default=3, help="judged reports before a reporter is rated")
    parser.add_argument("--lake", help="lake URI (default: settings.lake_uri)")
    parser.add_argument("--reports", help="reports URI (default: settings.reports_uri)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log the time series to MLflow")
    parser.add_argument(
        "--history-days", type=int, default=14, help="previous days for the report-volume check (default 14)"
    )
    parser.add_argument(
        "--max-coordinated-share",
        type=float,
        default=0.02,
        help="share of a batch's reports from co-reporting cohorts that raises the alarm (default 0.02)",
    )


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    lake = open_store(args.lake or settings.lake_uri, settings)
    out = open_store(args.reports or settings.reports_uri, settings)
    labelled = read_validated(lake, "labelled").reindex(columns=LABELLED_COLUMNS)
    reports = read_validated(lake, "reports").reindex(columns=REPORT_COLUMNS)
    days = sorted(set(labelled["batch_dt"].dropna()) | set(reports["batch_dt"].dropna()))
    if args.date:
        try:
            date.fromisoformat(args.date)
        except ValueError:
            raise HarmwatchError(f"--date {args.date!r} is not a YYYY-MM-DD date") from None
        days = [d for d in days if d <= args.date]
    if not days:
        return {"batch_dt": None, "days": 0, "skipped": f"no validated batches in the lake {lake.uri}"}
    until = days[-1]
    flagged, version, source = champion_flags(settings, lake, labelled[labelled["batch_dt"] <= until])
    rows = []
    history = ReporterHistory(labelled, reports)
    for d in days:
        m = batch_metrics(d, labelled, reports, flagged, args.min_judged, history)
        m.update(brigade_signals(d, reports[reports["batch_dt"] <= d], args.history_days, history))
        rows.append({**m, "alarms": alarms(m, args.max_coordinated_share)})
    latest = rows[-1]
    review = review_state(lake, until)
    queue = queue_metrics(*review, until) if review else None
    latest.update(queue or {})
    prom = prometheus_text(latest, {"model_version": version or "none"})
    prom += queue_prometheus_text(queue, until) if queue else ""
    rel = history.reliability(until)
    prefix = catalog.metrics_day(until)
    out.write_text(f"{prefix}/harmwatch_moderation.prom", prom)
    out.write_text(f"{prefix}/reporter_reliability.csv", spreadsheet_csv(rel))
    out.write_json(f"{prefix}/moderation.json", {"champion_version": version, "batches": rows})
    if newer_than_published(out, until):  # a backfill must not replace newer numbers
        out.write_text(catalog.METRICS_LATEST_PROM, prom)
    run_id = None if args.no_mlflow else log_series(settings, rows)
    keep = (
        "prevalence",
        "proactive_rate",
        "valid_appeal_proxy",
        "unreliable_report_share",
        "posts_labelled",
        "report_volume_robust_z",
        "coordinated_report_share",
        "reporter_cohorts",
        "alarms",
    )
    return {
        "batch_dt": until,
        "days": len(rows),
        **{k: latest[k] for k in keep},
        "champion_version": version,
        "prometheus_file": out.url(catalog.METRICS_LATEST_PROM),
        "metrics_json": out.url(f"{prefix}/moderation.json"),
        "mlflow_run_id": run_id,
        "proactive_skipped": None if flagged is not None else "no champion in the registry",
        "proactive_source": source,
        "review_queue": queue,
    }

"""Moderation metrics per batch (``batch_dt``), as an MLflow time series and a Prometheus text file.

Definitions, for the batch of day D (labels and reports are the validated rows of the lake):

``prevalence``
    Share of the posts moderators labelled in batch D that are harmful (label other than
    ``not_cyberbullying``), with a 95 % Wilson interval. It estimates prevalence among *reviewed*
    posts; it equals platform prevalence only as far as review picks posts at random.
``proactive_rate``
    Of the harmful posts moderators found in batch D, the share found *proactively*: the champion
    flags the post (its predicted ``label`` is harmful) and no user report of that post has a
    ``reported_at`` at or before the post's ``labelled_at``. A harmful post users reported first was
    found reactively, whatever the model says. (The model is today's champion, the best available
    stand-in for the model that scored the post when it arrived.) Needs a champion; else ``null``.
``valid_appeal_proxy``
    Of the distinct posts reported in batch D that a moderator has labelled (by D), the share labelled
    ``not_cyberbullying``: had the platform acted on the report alone, the author's appeal would win.
``reporter reliability``
    Per reporter, over all their reports up to D on posts a moderator labelled: the share on posts
    that are harmful, smoothed as ``(agree + 1) / (judged + 2)`` so one lucky report is not a perfect
    record. Per-reporter rows go to a CSV (ids are already pseudonymised); Prometheus gets the
    distribution (a histogram) and the share of batch D's reports that come from reporters below 0.5
    with at least ``--min-judged`` judged reports, never one series per reporter (cardinality).

Outputs: ``reports_uri/metrics/harmwatch_moderation.prom`` (the newest batch, for node-exporter's
textfile collector), ``reports_uri/metrics/dt=D/`` (``moderation.json``, ``reporter_reliability.csv``,
the ``.prom``), and MLflow run ``moderation-metrics`` of experiment ``harmwatch-monitoring`` with one
step per day (step = days since 1970-01-01, timestamp = the batch date). Reruns log the same values.
"""

from __future__ import annotations

import argparse
import math
import re
from datetime import date
from typing import Any

import pandas as pd

from harmwatch.config import BENIGN_CLASS, Settings
from harmwatch.drift_inputs import read_validated
from harmwatch.errors import HarmwatchError
from harmwatch.storage import Store, open_store

EXPERIMENT, RUN_NAME = "harmwatch-monitoring", "moderation-metrics"
LATEST_PROM = "metrics/harmwatch_moderation.prom"
BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
HELP = {
    "prevalence": "Share of moderator-labelled posts of the batch that are harmful.",
    "prevalence_ci_low": "Lower bound of the 95% Wilson interval of prevalence.",
    "prevalence_ci_high": "Upper bound of the 95% Wilson interval of prevalence.",
    "proactive_rate": "Harmful posts found that the champion flagged and no user reported before labelling.",
    "valid_appeal_proxy": "Reported posts of the batch that moderators labelled not_cyberbullying.",
    "unreliable_report_share": "Reports of the batch from reporters with reliability below 0.5.",
    "posts_labelled": "Posts labelled by moderators in the batch.",
    "harmful_found": "Harmful posts found by moderators in the batch.",
    "reported_posts": "Distinct posts reported by users in the batch.",
    "reporters_active": "Distinct reporters in the batch.",
}


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return ((centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n))


def _ts(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True, errors="coerce", format="ISO8601")


def latest_labels(labelled: pd.DataFrame) -> pd.DataFrame:
    """One row per post: its newest moderator label (runs are read in folder order, not time order)."""
    ordered = labelled.sort_values(["batch_dt", "labelled_at"], kind="stable")
    return ordered.drop_duplicates("post_id", keep="last")


def reporter_reliability(labels: pd.Series, reports: pd.DataFrame) -> pd.DataFrame:
    """One row per reporter: reports, judged (post has a moderator label), agree (post harmful), score."""
    rep = reports.drop_duplicates(["reporter_id", "post_id"]).assign(label=lambda f: f["post_id"].map(labels))
    judged = rep[rep["label"].notna()]
    out = pd.DataFrame({"reports": rep.groupby("reporter_id").size()})
    out["judged"] = judged.groupby("reporter_id").size().reindex(out.index, fill_value=0)
    agree = judged[judged["label"] != BENIGN_CLASS].groupby("reporter_id").size()
    out["agree"] = agree.reindex(out.index, fill_value=0)
    out["reliability"] = (out["agree"] + 1) / (out["judged"] + 2)
    return out.reset_index().sort_values("reporter_id", ignore_index=True)


def batch_metrics(
    day: str, labelled: pd.DataFrame, reports: pd.DataFrame, flagged: pd.Series | None, min_judged: int
) -> dict[str, Any]:
    """Metrics of batch ``day`` from all validated rows up to ``day`` (see the module docstring).

    ``labelled``: post_id, label, labelled_at, batch_dt (latest label per post wins); ``reports``:
    report_id, post_id, reporter_id, reported_at, batch_dt; ``flagged``: post_id -> champion flags it.
    """
    lab = latest_labels(labelled[labelled["batch_dt"] <= day])
    rep = reports[reports["batch_dt"] <= day]
    batch = lab[lab["batch_dt"] == day]
    harmful = batch[batch["label"] != BENIGN_CLASS]
    low, high = wilson(len(harmful), len(batch))
    out: dict[str, Any] = {
        "batch_dt": day,
        "posts_labelled": len(batch),
        "harmful_found": len(harmful),
        "prevalence": len(harmful) / len(batch) if len(batch) else None,
        "prevalence_ci_low": low,
        "prevalence_ci_high": high,
    }
    if flagged is None or harmful.empty:
        out["proactive_rate"] = None
    else:
        first = _ts(rep["reported_at"]).groupby(rep["post_id"]).min()
        reported_first = (
            first.reindex(harmful["post_id"]).to_numpy() <= _ts(harmful["labelled_at"]).to_numpy()
        )
        model_flag = harmful["post_id"].isin(flagged.index[flagged.astype(bool)]).to_numpy()
        out["proactive_rate"] = float((model_flag & ~reported_first).mean())
    labels = lab.set_index("post_id")["label"]
    today = rep[rep["batch_dt"] == day]
    judged = labels.reindex(today["post_id"].drop_duplicates()).dropna()
    out.update(
        reported_posts=int(today["post_id"].nunique()),
        reported_posts_judged=len(judged),
        valid_appeal_proxy=float((judged == BENIGN_CLASS).mean()) if len(judged) else None,
        reporters_active=int(today["reporter_id"].nunique()),
    )
    rel = reporter_reliability(labels, rep)
    known = rel[rel["judged"] >= min_judged]
    unreliable = set(known.loc[known["reliability"] < 0.5, "reporter_id"])
    out["unreliable_report_share"] = (
        float(today["reporter_id"].isin(unreliable).mean()) if len(today) else None
    )
    out["reporters_judged"] = len(known)
    out["reliability_hist"] = {str(b): int((known["reliability"] <= b).sum()) for b in BUCKETS}
    out["reliability_sum"] = float(known["reliability"].sum())
    return out


def _label_value(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_text(m: dict[str, Any], labels: dict[str, Any]) -> str:
    """Prometheus text format: HELP/TYPE, escaped labels, no timestamps (node-exporter refuses them)."""
    lab = ",".join(f'{k}="{_label_value(v)}"' for k, v in {"batch_dt": m["batch_dt"], **labels}.items())
    lines: list[str] = []
    for key, help_text in HELP.items():
        if m.get(key) is None or (isinstance(m[key], float) and math.isnan(m[key])):
            continue
        name = f"harmwatch_{key}"
        lines += [
            f"# HELP {name} {help_text}",
            f"# TYPE {name} gauge",
            f"{name}{{{lab}}} {float(m[key]):.6g}",
        ]
    name = "harmwatch_reporter_reliability"
    lines += [
        f"# HELP {name} Smoothed share of a reporter's judged reports on harmful posts.",
        f"# TYPE {name} histogram",
    ]
    lines += [f'{name}_bucket{{{lab},le="{b}"}} {n}' for b, n in m["reliability_hist"].items()]
    lines += [
        f'{name}_bucket{{{lab},le="+Inf"}} {m["reporters_judged"]}',
        f"{name}_sum{{{lab}}} {m['reliability_sum']:.6g}",
        f"{name}_count{{{lab}}} {m['reporters_judged']}",
    ]
    name = "harmwatch_moderation_batch_timestamp_seconds"
    ts = int(pd.Timestamp(m["batch_dt"], tz="UTC").timestamp())
    lines += [
        f"# HELP {name} Start of the batch day (UTC) these metrics describe.",
        f"# TYPE {name} gauge",
        f"{name}{{{lab}}} {ts}",
    ]
    return "\n".join(lines) + "\n"


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
            for k in HELP
            if m.get(k) is not None and not (isinstance(m[k], float) and math.isnan(m[k]))
        ]
    for i in range(0, len(batch), 900):  # MLflow caps a batch at 1000 metrics
        client.log_batch(run_id, metrics=batch[i : i + 900])
    return run_id


def champion_flags(settings: Settings, labelled: pd.DataFrame) -> tuple[pd.Series | None, str | None]:
    """post_id -> the champion predicts a harmful class; (None, version None) without a champion."""
    from harmwatch.drift import champion

    _client, run_id, version = champion(settings)
    if run_id is None:
        return None, None
    from harmwatch import registry

    posts = latest_labels(labelled)
    posts = posts[posts["label"] != BENIGN_CLASS]  # only harmful posts need a flag
    if posts.empty:
        return pd.Series(dtype=bool), version
    pred = registry.load_model_by_alias(settings, alias="champion").predict(
        posts[["text"]].reset_index(drop=True)
    )
    return pd.Series((pred["label"] != BENIGN_CLASS).to_numpy(), index=posts["post_id"].to_numpy()), version


def _newer_than_published(out: Store, day: str) -> bool:
    if not out.exists(LATEST_PROM):
        return True
    found = re.search(
        r'batch_dt="(\d{4}-\d{2}-\d{2})"', out.read_bytes(LATEST_PROM).decode("utf-8", "replace")
    )
    return found is None or day >= found.group(1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--date", help="logical date YYYY-MM-DD: metrics of batches up to it (default: newest)"
    )
    parser.add_argument("--min-judged", type=int, default=3, help="judged reports before a reporter is rated")
    parser.add_argument("--lake", help="lake URI (default: settings.lake_uri)")
    parser.add_argument("--reports", help="reports URI (default: settings.reports_uri)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log the time series to MLflow")


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    lake = open_store(args.lake or settings.lake_uri)
    out = open_store(args.reports or settings.reports_uri)
    labelled, reports = read_validated(lake, "labelled"), read_validated(lake, "reports")
    days = sorted(
        set(labelled.get("batch_dt", pd.Series(dtype=str)).dropna())
        | set(reports.get("batch_dt", pd.Series(dtype=str)).dropna())
    )
    if args.date:
        try:
            date.fromisoformat(args.date)
        except ValueError:
            raise HarmwatchError(f"--date {args.date!r} is not a YYYY-MM-DD date") from None
        days = [d for d in days if d <= args.date]
    if not days:
        return {"batch_dt": None, "days": 0, "skipped": f"no validated batches in the lake {lake.uri}"}
    for frame, cols in (
        (labelled, ["post_id", "text", "label", "labelled_at", "batch_dt"]),
        (reports, ["report_id", "post_id", "reporter_id", "reported_at", "batch_dt"]),
    ):
        for col in cols:
            if col not in frame:
                frame[col] = pd.Series(dtype=object)
    flagged, version = champion_flags(settings, labelled[labelled["batch_dt"] <= days[-1]])
    rows = [batch_metrics(d, labelled, reports, flagged, args.min_judged) for d in days]
    latest = rows[-1]
    prom = prometheus_text(latest, {"model_version": version or "none"})
    until = latest["batch_dt"]
    rel = reporter_reliability(
        latest_labels(labelled[labelled["batch_dt"] <= until]).set_index("post_id")["label"],
        reports[reports["batch_dt"] <= until],
    )
    prefix = f"metrics/dt={latest['batch_dt']}"
    out.write_text(f"{prefix}/harmwatch_moderation.prom", prom)
    out.write_text(f"{prefix}/reporter_reliability.csv", rel.to_csv(index=False))
    out.write_json(f"{prefix}/moderation.json", {"champion_version": version, "batches": rows})
    if _newer_than_published(out, latest["batch_dt"]):  # a backfill must not replace newer numbers
        out.write_text(LATEST_PROM, prom)
    run_id = None if args.no_mlflow else log_series(settings, rows)
    keep = ("prevalence", "proactive_rate", "valid_appeal_proxy", "unreliable_report_share", "posts_labelled")
    return {
        "batch_dt": latest["batch_dt"],
        "days": len(rows),
        **{k: latest[k] for k in keep},
        "champion_version": version,
        "prometheus_file": out.url(LATEST_PROM),
        "metrics_json": out.url(f"{prefix}/moderation.json"),
        "mlflow_run_id": run_id,
        "proactive_skipped": None if flagged is not None else "no champion in the registry",
    }

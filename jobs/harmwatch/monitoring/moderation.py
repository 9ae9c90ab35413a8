"""Moderation metrics, metrics' pure core: per-batch definitions and the Prometheus text format.

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
``unreliable_report_share``
    Share of batch D's reports that come from reporters whose reliability (the one build-dataset's
    weak-label policy uses, by its own SQL, :mod:`harmwatch.data.reporter_history`, over everything up
    to D) is below 0.5, among reporters with at least ``min_judged`` reports on moderator-labelled
    posts. Prometheus gets the reliability distribution as a histogram, never one series per reporter
    (cardinality).
``report_volume_robust_z``
    How unusual batch D's number of reports is against the days before it:
    :func:`harmwatch.monitoring.drift_inputs.volume_anomaly`, the check the drift step makes.
``coordinated_report_share``
    Share of batch D's reports made by members of a co-reporting cohort of at least three reporters
    (build-dataset's own, :mod:`harmwatch.data.reporter_history`, over every report up to D): accounts
    that report the same posts far more often than chance allows.

The **brigade alarm** (:func:`alarms`) is raised when the report volume is anomalous or the coordinated
share exceeds its limit; the metrics step returns it, the moderation DAG fails a task on it, and the
Prometheus file carries ``harmwatch_moderation_alarm`` for the chart's alert rules.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from harmwatch.config import BENIGN_CLASS
from harmwatch.data.reporter_history import ReporterHistory
from harmwatch.monitoring.drift_inputs import volume_anomaly

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
    "report_volume_robust_z": "Robust z-score of the batch's report count against the previous days.",
    "coordinated_report_share": "Reports of the batch by members of co-reporting cohorts (3+ reporters).",
    "reporter_cohorts": "Co-reporting cohorts of 3+ reporters active in the batch.",
}
ALARMS = ("report_volume", "reporter_cohort")
MIN_COHORT = 3


def wilson(successes: int, trials: int, z_score: float = 1.959964) -> tuple[float, float]:
    if trials == 0:
        return (math.nan, math.nan)
    p = successes / trials
    centre, half = (
        p + z_score * z_score / (2 * trials),
        z_score * math.sqrt(p * (1 - p) / trials + z_score * z_score / (4 * trials * trials)),
    )
    return (
        (centre - half) / (1 + z_score * z_score / trials),
        (centre + half) / (1 + z_score * z_score / trials),
    )


def _ts(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True, errors="coerce", format="ISO8601")


def latest_labels(labelled: pd.DataFrame) -> pd.DataFrame:
    """One row per post: its newest moderator label (runs are read in folder order, not time order)."""
    ordered = labelled.sort_values(["batch_dt", "labelled_at"], kind="stable")
    return ordered.drop_duplicates("post_id", keep="last")


def batch_metrics(
    day: str,
    labelled: pd.DataFrame,
    reports: pd.DataFrame,
    flagged: pd.Series | None,
    min_judged: int,
    history: ReporterHistory | None = None,
) -> dict[str, Any]:
    """Metrics of batch ``day`` from all validated rows up to ``day`` (see the module docstring).

    ``labelled``: post_id, text, label, labelled_at, batch_dt (latest label per post wins); ``reports``:
    report_id, post_id, text, reporter_id, reason, reported_at, batch_dt; ``flagged``: post_id -> champion
    flags it. Reporter reliability is the table build-dataset keeps, over the rows up to ``day``
    (``history``: those rows loaded once, for a run over many days; else loaded here).
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
    rel = (history or ReporterHistory(labelled, reports)).reliability(day)
    known = rel[rel["reports_on_labelled"] >= min_judged]
    unreliable = set(known.loc[known["reliability"] < 0.5, "reporter_id"])
    out["unreliable_report_share"] = (
        float(today["reporter_id"].isin(unreliable).mean()) if len(today) else None
    )
    out["reporters_judged"] = len(known)
    out["reliability_hist"] = {str(b): int((known["reliability"] <= b).sum()) for b in BUCKETS}
    out["reliability_sum"] = float(known["reliability"].sum())
    return out


def brigade_signals(
    day: str, reports: pd.DataFrame, history_days: int, history: ReporterHistory | None = None
) -> dict[str, Any]:
    """Report volume of batch ``day`` against the previous days, and its share from co-reporting cohorts.

    ``reports``: every validated report up to ``day`` (report_id, post_id, text, reporter_id, batch_dt);
    ``history``: the validated rows loaded once (else ``reports`` are loaded here).
    """
    counts = reports.drop_duplicates("report_id").groupby("batch_dt").size()
    volume = volume_anomaly({str(k): int(v) for k, v in counts.items()}, day, history_days)
    today = reports[reports["batch_dt"] == day]
    if len(today):
        cohorts = (history or ReporterHistory(reports.iloc[:0], reports)).cohorts(day)
    else:
        cohorts = pd.DataFrame()
    big = cohorts[cohorts["cohort_size"] >= MIN_COHORT] if len(cohorts) else cohorts
    members = (
        today["reporter_id"].isin(set(big["reporter_id"]))
        if len(big)
        else pd.Series(False, index=today.index)
    )
    active = big[big["reporter_id"].isin(set(today["reporter_id"]))] if len(big) else big
    return {
        "report_volume": volume,
        "report_volume_robust_z": volume.get("robust_z"),
        "coordinated_report_share": float(members.mean()) if len(today) else None,
        "reporter_cohorts": int(active["cohort"].nunique()) if len(active) else 0,
        "largest_reporter_cohort": int(active["cohort_size"].max()) if len(active) else 0,
    }


def alarms(metrics: dict[str, Any], max_coordinated_share: float) -> list[str]:
    """One line per brigade alarm raised by batch ``metrics`` (empty: no alarm)."""
    out = []
    volume = metrics.get("report_volume") or {}
    if volume.get("anomaly"):
        out.append(
            f"report_volume: {volume['reports']} reports on {metrics['batch_dt']}, "
            f"robust z {volume['robust_z']} against a median of {volume['median']:g} "
            f"over {volume['history_days']} previous days"
        )
    share = metrics.get("coordinated_report_share")
    if share is not None and share > max_coordinated_share:
        out.append(
            f"reporter_cohort: {share:.1%} of the reports on {metrics['batch_dt']} come from "
            f"{metrics['reporter_cohorts']} co-reporting cohort(s) "
            f"(largest {metrics['largest_reporter_cohort']} reporters; limit {max_coordinated_share:.1%})"
        )
    return out


def _label_value(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_text(metrics: dict[str, Any], labels: dict[str, Any]) -> str:
    """Prometheus text format: HELP/TYPE, escaped labels, no timestamps (node-exporter refuses them)."""
    lab = ",".join(f'{k}="{_label_value(v)}"' for k, v in {"batch_dt": metrics["batch_dt"], **labels}.items())
    lines: list[str] = []
    for key, help_text in HELP.items():
        if metrics.get(key) is None or (isinstance(metrics[key], float) and math.isnan(metrics[key])):
            continue
        name = f"harmwatch_{key}"
        lines += [
            f"# HELP {name} {help_text}",
            f"# TYPE {name} gauge",
            f"{name}{{{lab}}} {float(metrics[key]):.6g}",
        ]
    name = "harmwatch_reporter_reliability"
    lines += [
        f"# HELP {name} Smoothed share of a reporter's judged reports on harmful posts.",
        f"# TYPE {name} histogram",
    ]
    lines += [f'{name}_bucket{{{lab},le="{b}"}} {n}' for b, n in metrics["reliability_hist"].items()]
    lines += [
        f'{name}_bucket{{{lab},le="+Inf"}} {metrics["reporters_judged"]}',
        f"{name}_sum{{{lab}}} {metrics['reliability_sum']:.6g}",
        f"{name}_count{{{lab}}} {metrics['reporters_judged']}",
    ]
    name = "harmwatch_moderation_alarm"
    raised = {line.split(":", 1)[0] for line in metrics.get("alarms", [])}
    lines += [
        f"# HELP {name} 1 while a brigade alarm of this kind is raised for the batch.",
        f"# TYPE {name} gauge",
    ]
    lines += [f'{name}{{{lab},alarm="{kind}"}} {int(kind in raised)}' for kind in ALARMS]
    name = "harmwatch_moderation_batch_timestamp_seconds"
    ts = int(pd.Timestamp(metrics["batch_dt"], tz="UTC").timestamp())
    lines += [
        f"# HELP {name} Start of the batch day (UTC) these metrics describe.",
        f"# TYPE {name} gauge",
        f"{name}{{{lab}}} {ts}",
    ]
    return "\n".join(lines) + "\n"


# -- the review queue ---------------------------------------------------------------------------------

QUEUE_HELP = {
    "review_open": "Review items in Label Studio still waiting (pending or in adjudication).",
    "review_queue_age_days_median": "Median days an open review item has waited since it was queued.",
    "review_queue_age_days_max": "Days the oldest open review item has waited since it was queued.",
    "review_labelled_today": "Review items whose label came back on the batch day.",
    "review_labelled_per_day_7d": "Mean review labels per day over the last 7 days.",
    "review_agreement": "Share of double-labelled review items on which both moderators agreed.",
    "review_kappa": "Cohen's kappa of the two moderators on double-labelled review items.",
}


def cohen_kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Cohen's kappa of two raters from their (first, second) answers; None without pairs or variety."""
    if not pairs:
        return None
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    first = pd.Series([a for a, _ in pairs]).value_counts(normalize=True)
    second = pd.Series([b for _, b in pairs]).value_counts(normalize=True)
    expected = float((first * second.reindex(first.index).fillna(0)).sum())
    return None if expected >= 1 else (observed - expected) / (1 - expected)


def queue_metrics(status: pd.DataFrame, decisions: pd.DataFrame, day: str) -> dict[str, Any]:
    """Queue age, throughput and agreement of the review loop on ``day``.

    ``status``: the newest review-pull state of every item in Label Studio (``status``, ``queued_on``,
    ``pair``); ``decisions``: every exported decision (``status``, ``batch_dt`` = the pull's day).
    Ages are in logical days (``day`` minus the day the item was queued), so a backfill measures the
    queue as it was.
    """
    open_items = status[status["status"].isin(["pending", "adjudication"])]
    queued = pd.to_datetime(open_items["queued_on"], errors="coerce")
    ages = (pd.Timestamp(day) - queued).dt.days.dropna()
    labelled = decisions[decisions["status"] == "labelled"]
    days = pd.date_range(end=pd.Timestamp(day), periods=7).strftime("%Y-%m-%d")
    pairs = [tuple(p.split("|", 1)) for p in status["pair"].fillna("") if "|" in p]
    return {
        "review_items": len(status),
        "review_open": len(open_items),
        "review_in_adjudication": int((status["status"] == "adjudication").sum()),
        "review_skipped": int((status["status"] == "skipped").sum()),
        "review_queue_age_days_median": float(ages.median()) if len(ages) else None,
        "review_queue_age_days_max": float(ages.max()) if len(ages) else None,
        "review_labelled_today": int((labelled["batch_dt"] == day).sum()),
        "review_labelled_per_day_7d": float(labelled["batch_dt"].isin(days).sum() / 7),
        "review_double_labelled": len(pairs),
        "review_agreement": sum(a == b for a, b in pairs) / len(pairs) if pairs else None,
        "review_kappa": cohen_kappa(pairs),
    }


def queue_prometheus_text(queue: dict[str, Any], day: str) -> str:
    """The queue metrics as Prometheus gauges (same format rules as :func:`prometheus_text`)."""
    lines: list[str] = []
    for key, help_text in QUEUE_HELP.items():
        if queue.get(key) is None:
            continue
        name = f"harmwatch_{key}"
        lines += [
            f"# HELP {name} {help_text}",
            f"# TYPE {name} gauge",
            f'{name}{{batch_dt="{day}"}} {queue[key]:.6g}',
        ]
    return "\n".join(lines) + "\n" if lines else ""

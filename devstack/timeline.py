"""The platform by day: every figure the lake, the reports and MLflow hold, keyed by day.

:func:`timeline` reads what the pipeline already wrote and turns it into figures by day:

- moderation metrics: ``reports/metrics/dt=<day>/moderation.json`` (``harmwatch metrics``), the row of
  that day's batch as published that day (a day without its own file takes its row from the newest
  file that has it: the demo runs the metrics once, for its last day): prevalence, proactive rate,
  valid-appeal proxy, report volume, the brigade signals and alarms, and the Label Studio queue figures
  when the review loop ran;
- drift: ``reports/drift/dt=<day>/drift.json`` (``harmwatch drift``): the verdict, the score, each
  signal's verdict and each column's score;
- the review queue build-dataset left that day (``lake/review/v=<version>/``): its size, by source,
  and how long its items have waited since their evidence arrived;
- the champion's gate figures: ``evaluation/decision.json`` of every model version in MLflow. A day
  shows the champion after that day's run (the version promoted on it, else the one before) with the
  figures its own evaluation recorded, beside that day's challenger and its decision.

The figures of one record are pure functions (tested on tiny dicts and frames); the readers below them
only find the records. :mod:`devstack.dashboard` shows the result.
"""

from __future__ import annotations

import json
import math
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from harmwatch.config import Settings
from harmwatch.data import catalog

DECISION_ARTIFACT = "evaluation/decision.json"
Figures = dict[str, float]


# -- figures of one day, from one record (pure) --------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and not math.isnan(value):
        return float(value)
    return None


def _keep(pairs: dict[str, Any]) -> Figures:
    return {k: n for k, v in pairs.items() if (n := _number(v)) is not None}


MODERATION = (
    "prevalence",
    "prevalence_ci_low",
    "prevalence_ci_high",
    "proactive_rate",
    "valid_appeal_proxy",
    "unreliable_report_share",
    "posts_labelled",
    "harmful_found",
    "reported_posts",
    "reporters_active",
    "report_volume_robust_z",
    "coordinated_report_share",
    "reporter_cohorts",
    "review_open",
    "review_queue_age_days_median",
    "review_queue_age_days_max",
    "review_labelled_today",
    "review_labelled_per_day_7d",
    "review_agreement",
)


def moderation_figures(doc: dict[str, Any], day: str) -> Figures:
    """Batch ``day``'s row of a ``moderation.json`` and its brigade alarms (a count, 0 when calm)."""
    rows = [b for b in doc.get("batches", []) if b.get("batch_dt") == day]
    if not rows:
        return {}
    row = rows[-1]
    return {
        **_keep({k: row.get(k) for k in MODERATION}),
        "brigade_alarms": float(len(row.get("alarms") or [])),
    }


def drift_figures(record: dict[str, Any]) -> Figures:
    """Verdict (1 drift, 0 none), score, each signal's verdict and each column's score of a ``drift.json``."""
    out = _keep({"drift_detected": record.get("drift_detected"), "drift_score": record.get("drift_score")})
    out.update(_keep({f"drift_{k}": v.get("drift_detected") for k, v in record.get("signals", {}).items()}))
    out.update(_keep({f"drift_col_{k}": v.get("score") for k, v in record.get("columns", {}).items()}))
    volume = _number(record.get("volume_anomaly"))
    return out | ({"report_volume_anomaly": volume} if volume is not None else {})


def queue_figures(queue: Any, day: str) -> Figures:
    """Size of the review queue build-dataset left on ``day``, by source, and its items' ages in days at
    the end of that day (since the evidence first arrived, ``first_seen``)."""
    import pandas as pd

    first = pd.to_datetime(queue["first_seen"], utc=True, errors="coerce", format="ISO8601")
    end_of_day = pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=1)  # build-dataset runs after the day
    ages = (end_of_day - first).dt.total_seconds().dropna() / 86400
    sources = queue["source"].value_counts()
    return {
        "queue_rows": float(len(queue)),
        "queue_from_reports": float(sources.get("reports", 0)),
        "queue_from_moderators": float(sources.get("moderators", 0)),
        **_keep({"queue_age_days_median": ages.median(), "queue_age_days_max": ages.max()}),
    }


def gate_figures(decision: dict[str, Any], prefix: str) -> Figures:
    """The gate values a ``decision.json`` recorded for its challenger, as ``<prefix>_<figure>``."""
    gates = decision.get("gates", {})
    value = {k: g.get("value") for k, g in gates.items()}
    golden = value.get("golden") if isinstance(value.get("golden"), dict) else {}
    calibration = value.get("calibration") if isinstance(value.get("calibration"), dict) else {}
    identity = value.get("identity_fpr") if isinstance(value.get("identity_fpr"), dict) else {}
    bias = value.get("bias_auc") if isinstance(value.get("bias_auc"), dict) else {}
    figures = {
        "macro_f1": decision.get("challenger", {}).get("metrics", {}).get("macro_f1"),
        "ece_top_label": calibration.get("top_label"),
        "golden_pass": golden.get("overall"),
        "golden_must_flag": golden.get("must_flag"),
        "golden_benign": golden.get("benign"),
        "identity_fpr": identity.get("overall"),
        "bias_score": bias.get("bias_score"),
        "version": decision.get("challenger", {}).get("version"),
        "floor_macro_f1": decision.get("thresholds", {}).get("min_macro_f1"),
    }
    return {f"{prefix}_{k}": v for k, v in _keep(figures).items()}


def champion_by_day(decisions: dict[str, dict[str, Any]], promoted_on: dict[str, str]) -> dict[str, str]:
    """Day -> the version that is champion after that day's run.

    ``decisions``: version -> its decision.json (``date``, ``decision``); ``promoted_on``: version -> the
    day its promotion recorded (the ``harmwatch.promoted_on`` tag). A version without that tag counts as
    promoted on its decision's day when the decision was ``promote``.
    """
    moves = dict(promoted_on)
    for version, d in decisions.items():
        if version not in moves and d.get("decision") == "promote" and d.get("date"):
            moves[version] = d["date"]
    days = sorted({d["date"] for d in decisions.values() if d.get("date")} | set(moves.values()))
    out, current = {}, None
    for day in days:
        promoted = [v for v, on in moves.items() if on == day]
        current = max(promoted, key=int) if promoted else current
        if current is not None:
            out[day] = current
    return out


def merge(*parts: dict[str, Figures]) -> dict[str, Figures]:
    out: dict[str, Figures] = {}
    for part in parts:
        for day, figures in part.items():
            out.setdefault(day, {}).update(figures)
    return dict(sorted(out.items()))


# -- reading what the pipeline wrote ---------------------------------------------------------------------


def _day_of(key: str) -> str | None:
    """``YYYY-MM-DD`` of a ``.../dt=<day>/...`` key, else None."""
    for part in key.split("/"):
        if part.startswith("dt="):
            try:
                return date.fromisoformat(part[3:]).isoformat()
            except ValueError:
                return None
    return None


def _by_day(store: Any, prefix: str, folder: Any, name: str) -> dict[str, str]:
    """Day -> key of every ``<folder(day)>/<name>`` under ``prefix`` in a store."""
    found = {}
    for obj in store.list(prefix):
        day = _day_of(obj.key)
        if day and obj.key == f"{folder(day)}/{name}":
            found[day] = obj.key
    return found


def read_reports(settings: Settings) -> dict[str, Figures]:
    from harmwatch.storage import open_store

    reports = open_store(settings.reports_uri, settings)
    found = _by_day(reports, catalog.METRICS_REPORTS, catalog.metrics_day, "moderation.json")
    published = {day: reports.read_json(key) for day, key in found.items()}
    metrics = {}
    for on in sorted(published):  # a day's own file wins, else the newest file that has its batch
        for day in {b.get("batch_dt") for b in published[on].get("batches", [])} - {None}:
            if day == on or day not in published:
                metrics[day] = moderation_figures(published[on], day)
    drift = {
        day: drift_figures(reports.read_json(key))
        for day, key in _by_day(reports, catalog.DRIFT_REPORTS, catalog.drift_report, "drift.json").items()
    }
    return merge(metrics, drift)


def read_queues(settings: Settings) -> dict[str, Figures]:
    """The review queue of each day's build-dataset (the newest committed one of a day)."""
    from harmwatch.storage import open_store

    lake = open_store(settings.lake_uri, settings)
    newest = {m["date"]: m for m in lake.committed(catalog.REVIEW_QUEUES) if m.get("date")}
    return {
        day: queue_figures(lake.read_parquet(f"{m['prefix']}/{catalog.REVIEW_FILE}"), day)
        for day, m in newest.items()
    }


def read_decisions(settings: Settings) -> dict[str, Figures]:
    """Each day's challenger and the champion after that day, with the gate figures of their evaluations."""
    from harmwatch import registry

    client = registry.configure_mlflow(settings)
    versions = client.search_model_versions(f"name = '{settings.model_name}'")
    decisions, promoted_on = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for v in versions:
            try:
                path = client.download_artifacts(v.run_id, DECISION_ARTIFACT, f"{tmp}/{v.version}")
            except Exception:  # a version not evaluated yet (or an artifact store gone) has no figures
                continue
            decisions[str(v.version)] = json.loads(Path(path).read_text())
            if (v.tags or {}).get("harmwatch.promoted_on", "unspecified") != "unspecified":
                promoted_on[str(v.version)] = v.tags["harmwatch.promoted_on"]
    challengers = {
        d["date"]: gate_figures(d, "challenger")
        | {"challenger_promote": float(d.get("decision") == "promote")}
        for d in decisions.values()
        if d.get("date")
    }
    champions = {
        day: gate_figures(decisions[version], "champion")
        for day, version in champion_by_day(decisions, promoted_on).items()
    }
    return merge(challengers, champions)


def timeline(settings: Settings, use_mlflow: bool = True) -> dict[str, Figures]:
    """Day -> every figure the lake, the reports and (``use_mlflow``) the registry hold for it."""
    parts = [read_reports(settings), read_queues(settings)]
    if use_mlflow:
        parts.append(read_decisions(settings))
    return merge(*parts)

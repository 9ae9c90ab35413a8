"""The dashboard's figures by day, from tiny records: moderation, drift, the review queue, champions."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from devstack.timeline import (
    champion_by_day,
    drift_figures,
    gate_figures,
    merge,
    moderation_figures,
    queue_figures,
    read_queues,
    read_reports,
)
from harmwatch.config import load_settings
from harmwatch.data import catalog

ALARM = "reporter_cohort: 2.2% of the reports on 2026-01-02 come from 1 co-reporting cohort(s)"


def moderation_doc(*days: str) -> dict:
    return {
        "champion_version": "2",
        "batches": [
            {"batch_dt": d, "prevalence": 0.8 + i / 100, "proactive_rate": None, "alarms": [ALARM] * i}
            for i, d in enumerate(days)
        ],
    }


def test_moderation_figures_take_the_days_row_and_count_its_alarms() -> None:
    doc = moderation_doc("2026-01-01", "2026-01-02")
    assert moderation_figures(doc, "2026-01-02") == {"prevalence": 0.81, "brigade_alarms": 1.0}
    assert moderation_figures(doc, "2026-01-01") == {"prevalence": 0.8, "brigade_alarms": 0.0}
    assert moderation_figures(doc, "2026-01-03") == {}  # no batch that day: no point, not a zero


def test_drift_figures_carry_the_verdict_each_signal_and_each_column() -> None:
    record = {
        "drift_detected": True,
        "drift_score": 0.09,
        "volume_anomaly": False,
        "signals": {"prediction": {"drift_detected": True}, "label": {"drift_detected": False}},
        "columns": {"text": {"score": 0.52}, "harmful_score": {"score": float("nan")}},
    }
    assert drift_figures(record) == {
        "drift_detected": 1.0,
        "drift_score": 0.09,
        "drift_prediction": 1.0,
        "drift_label": 0.0,
        "drift_col_text": 0.52,
        "report_volume_anomaly": 0.0,
    }
    skipped = {"drift_detected": None, "drift_score": None, "skipped": "no champion"}
    assert drift_figures(skipped) == {}


def test_queue_age_is_measured_at_the_end_of_the_day() -> None:
    queue = pd.DataFrame(
        {
            "source": ["reports", "moderators", "moderators"],
            "first_seen": ["2026-01-02T12:00:00Z", "2026-01-01T00:00:00Z", "2026-01-02T18:00:00+00:00"],
        }
    )
    got = queue_figures(queue, "2026-01-02")
    assert got["queue_rows"] == 3 and got["queue_from_reports"] == 1 and got["queue_from_moderators"] == 2
    assert got["queue_age_days_max"] == 2.0 and got["queue_age_days_median"] == 0.5


def decision(version: int, day: str, verdict: str, macro_f1: float) -> dict:
    return {
        "date": day,
        "decision": verdict,
        "thresholds": {"min_macro_f1": 0.85},
        "challenger": {"version": version, "metrics": {"macro_f1": macro_f1}},
        "gates": {
            "golden": {"value": {"overall": 0.7, "must_flag": 0.8, "benign": 0.6}},
            "calibration": {"value": {"top_label": 0.02}},
            "bias_auc": {"value": {"bias_score": 0.59}},
            "smoke": {"value": "scored 50 golden posts"},
        },
    }


def test_gate_figures_are_the_numbers_the_decision_recorded() -> None:
    got = gate_figures(decision(2, "2026-01-02", "promote", 0.878), "champion")
    assert got == {
        "champion_macro_f1": 0.878,
        "champion_ece_top_label": 0.02,
        "champion_golden_pass": 0.7,
        "champion_golden_must_flag": 0.8,
        "champion_golden_benign": 0.6,
        "champion_bias_score": 0.59,
        "champion_version": 2.0,
        "champion_floor_macro_f1": 0.85,
    }


def test_the_champion_of_a_day_is_the_last_version_promoted_by_then() -> None:
    decisions = {
        "1": decision(1, "2026-01-01", "promote", 0.87),
        "2": decision(2, "2026-01-02", "reject", 0.80),
        "3": decision(3, "2026-01-03", "pending_approval", 0.88),
        "4": decision(4, "2026-01-04", "promote", 0.89),
    }
    # v3 was approved on day 5 (its promotion tag); v4's promotion carries no tag
    assert champion_by_day(decisions, {"3": "2026-01-05"}) == {
        "2026-01-01": "1",
        "2026-01-02": "1",
        "2026-01-03": "1",
        "2026-01-04": "4",
        "2026-01-05": "3",
    }
    assert champion_by_day({"2": decision(2, "2026-01-02", "reject", 0.8)}, {}) == {}


def test_merge_joins_the_sources_by_day_in_day_order() -> None:
    got = merge({"2026-01-02": {"a": 1.0}}, {"2026-01-01": {"b": 2.0}, "2026-01-02": {"c": 3.0}})
    assert list(got) == ["2026-01-01", "2026-01-02"] and got["2026-01-02"] == {"a": 1.0, "c": 3.0}


def test_reports_and_queues_are_read_through_the_catalog(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    reports, lake = Path(settings.reports_uri), Path(settings.lake_uri)
    # metrics ran once, on day 2 (as in the demo): day 1 takes its row from day 2's file
    day2 = reports / catalog.metrics_day("2026-01-02")
    day2.mkdir(parents=True)
    (day2 / "moderation.json").write_text(json.dumps(moderation_doc("2026-01-01", "2026-01-02")))
    drift = reports / catalog.drift_report("2026-01-01")
    drift.mkdir(parents=True)
    (drift / "drift.json").write_text(json.dumps({"drift_detected": False, "drift_score": 0.0}))
    (reports / catalog.drift_report("not-a-day")).mkdir(parents=True)  # ignored, not a crash
    got = read_reports(settings)
    assert got == {
        "2026-01-01": {"prevalence": 0.8, "brigade_alarms": 0.0, "drift_detected": 0.0, "drift_score": 0.0},
        "2026-01-02": {"prevalence": 0.81, "brigade_alarms": 1.0},
    }
    folder = lake / catalog.review_queue("v1")
    folder.mkdir(parents=True)
    pd.DataFrame({"source": ["reports"], "first_seen": ["2026-01-01T12:00:00Z"]}).to_parquet(
        folder / catalog.REVIEW_FILE
    )
    (folder / "_MANIFEST.json").write_text(
        json.dumps({"date": "2026-01-01", "prefix": catalog.review_queue("v1")})
    )
    assert read_queues(settings)["2026-01-01"]["queue_rows"] == 1

"""Moderation metrics: exact definitions on a hand-made batch, the Prometheus text format, the command."""

from __future__ import annotations

import json
import re
from datetime import date

import pandas as pd
import pytest

from harmwatch.config import load_settings
from harmwatch.monitoring.moderation import batch_metrics, prometheus_text, wilson
from harmwatch.steps import metrics
from harmwatch.steps.metrics import EXPERIMENT, RUN_NAME
from harmwatch.storage import open_store
from tests.conftest import run_cli
from tests.drift.helpers import register_champion, run_step, stand_in_model, write_validated
from tests.factories import labelled, labelled_rows, report_rows, reports
from tests.reference.decisions import reliability_of

D, PREV = "2026-01-05", "2026-01-04"


def _labelled() -> pd.DataFrame:
    rows = [("a", "age"), ("b", "gender"), ("c", "not_cyberbullying"), ("d", "religion"), ("f", "ethnicity")]
    return labelled([(p, f"text of {p}", lab, f"{D}T12:00:00Z") for p, lab in rows], day=D)


def _reports() -> pd.DataFrame:
    rows = [  # report_id, post_id, reporter, reason, reported_at, batch_dt
        ("1", "a", "r1", "age", f"{D}T09:00:00Z", D),  # before a was labelled: a was found reactively
        ("2", "b", "r2", "gender", f"{D}T13:00:00Z", D),  # after b was labelled: does not make b reactive
        ("3", "c", "r3", "religion", f"{D}T10:00:00Z", D),  # a benign post reported: a valid appeal
        ("4", "e", "r1", "age", f"{D}T10:00:00Z", D),  # never labelled: not judged
        ("5", "f", "r2", "age", f"{PREV}T10:00:00Z", PREV),  # f reported the day before it was labelled
    ]
    return reports(
        [(post, f"text of {post}", who, why) for _, post, who, why, _, _ in rows],
        day=D,
        report_id=[row[0] for row in rows],
        reported_at=[row[4] for row in rows],
        batch_dt=[row[5] for row in rows],
    )


def test_batch_metrics_follow_the_documented_definitions():
    flagged = pd.Series({"a": True, "b": True, "d": False, "f": True})
    m = batch_metrics(D, _labelled(), _reports(), flagged, min_judged=1)
    assert (m["posts_labelled"], m["harmful_found"]) == (5, 4)
    assert m["prevalence"] == pytest.approx(4 / 5)
    assert (m["prevalence_ci_low"], m["prevalence_ci_high"]) == pytest.approx(wilson(4, 5))
    # a: reported first; b: flagged, reported later -> proactive; d: not flagged; f: reported the day before.
    assert m["proactive_rate"] == pytest.approx(1 / 4)
    # Reported on D: a, b, c, e; judged: a, b, c; c is benign.
    assert (m["reported_posts"], m["reported_posts_judged"]) == (4, 3)
    assert m["valid_appeal_proxy"] == pytest.approx(1 / 3)
    # r3's only judged report was on a benign post: (0+1)/(1+2) < 0.5; one of D's 4 reports is r3's.
    assert m["unreliable_report_share"] == pytest.approx(1 / 4)
    assert m["reporters_active"] == 3 and m["reporters_judged"] == 3
    hist = m["reliability_hist"]  # r3: 1/3, r2: 1/2 (f was ethnicity, not age), r1: 2/3
    assert (hist["0.3"], hist["0.4"], hist["0.5"], hist["0.7"], hist["1.0"]) == (0, 1, 2, 3, 3)
    assert batch_metrics(D, _labelled(), _reports(), None, 1)["proactive_rate"] is None


def test_metrics_rate_reporters_with_the_weak_label_policys_reliability():
    """One definition (harmwatch.data.weak_labels): the reason must match the moderator's class, a report on
    a benign post disagrees, one vote per reporter and text, smoothed (agree + 1) / (judged + 2)."""
    reports = pd.concat([_reports(), _reports().iloc[[0]].assign(report_id="dup")])
    rel = reliability_of(_labelled(), reports).set_index("reporter_id")
    assert rel.loc["r1"].to_dict() == {
        "reports_on_labelled": 1,
        "agreements": 1,
        "reliability": pytest.approx(2 / 3),
    }
    assert rel.loc["r2", "reliability"] == pytest.approx(2 / 4)  # b right, f under the wrong reason
    assert rel.loc["r3", "reliability"] == pytest.approx(1 / 3)


SAMPLE = re.compile(r'^([a-z_]+)(\{(?:[a-z_]+="(?:[^"\\\n]|\\.)*",?)*\}) (-?[0-9.e+-]+|\+Inf|NaN)$')


def parse_prometheus(text: str) -> dict[str, list[tuple[str, float]]]:
    """A strict reader of the text exposition format for what we write (no timestamps allowed)."""
    helps, types, samples = set(), {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split()[2])
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            types[name] = kind
        else:
            match = SAMPLE.match(line)
            assert match, f"not a valid sample line: {line!r}"
            name = match.group(1)
            family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
            assert family in helps and family in types, f"{name} before its HELP/TYPE"
            samples.setdefault(name, []).append((match.group(2), float(match.group(3))))
    return samples


def test_prometheus_text_is_valid_exposition_format_with_escaped_labels():
    m = batch_metrics(D, _labelled(), _reports(), pd.Series({"a": True, "b": True}), min_judged=1)
    text = prometheus_text(m, {"model_version": 'v"1\\\n'})
    samples = parse_prometheus(text)
    assert samples["harmwatch_prevalence"] == [(f'{{batch_dt="{D}",model_version="v\\"1\\\\\\n"}}', 0.8)]
    buckets = [v for _, v in samples["harmwatch_reporter_reliability_bucket"]]
    assert buckets == sorted(buckets) and buckets[-1] == samples["harmwatch_reporter_reliability_count"][0][1]
    ts = samples["harmwatch_moderation_batch_timestamp_seconds"][0][1]
    assert ts == pd.Timestamp(D, tz="UTC").timestamp()
    assert "harmwatch_proactive_rate" in samples
    empty = batch_metrics(D, _labelled(), _reports().iloc[:0], None, 1)
    assert "harmwatch_proactive_rate" not in parse_prometheus(prometheus_text(empty, {}))  # null: left out


def build_lake(settings, source: pd.DataFrame) -> list[str]:
    lake = open_store(settings.lake_uri)
    days = [f"2026-01-0{d}" for d in range(1, 5)]
    for i, day in enumerate(days):
        batch = source.iloc[i * 100 : (i + 1) * 100]
        write_validated(lake, "labelled", f"lab{i}", labelled_rows(batch, day))
        picks = batch.iloc[::4]
        write_validated(
            lake,
            "reports",
            f"rep{i}",
            report_rows(
                picks.assign(
                    report_id=[f"{day}-{k}" for k in range(len(picks))],
                    reporter_id=[f"r_{k % 5}" for k in range(len(picks))],
                    reason="age",
                    reported_at=f"{day}T08:00:00Z",
                ),
                day,
            ),
        )
    return days


@pytest.fixture
def source(source_csv) -> pd.DataFrame:
    raw = pd.read_csv(source_csv).rename(columns={"tweet_text": "text", "cyberbullying_type": "label"})
    raw = raw.sample(2400, random_state=2).reset_index(drop=True)
    raw["post_id"] = [f"m{i}" for i in range(len(raw))]
    return raw


@pytest.mark.slow
def test_metrics_command_writes_prometheus_and_json_and_backfill_keeps_newest(hw_env, source):
    settings = load_settings()
    assert run_step(metrics, "--no-mlflow")["skipped"].startswith("no validated batches")  # empty lake
    days = build_lake(settings, source)
    r = run_cli("metrics", "--no-mlflow")
    assert r.returncode == 0, r.stderr[-2000:]
    s = json.loads(r.stdout.strip().splitlines()[-1])
    assert s["batch_dt"] == days[-1] and s["days"] == 4 and s["posts_labelled"] == 100
    assert s["proactive_rate"] is None and s["proactive_skipped"] == "no champion in the registry"
    reports = open_store(settings.reports_uri)
    prom = reports.read_bytes("metrics/harmwatch_moderation.prom").decode()
    assert f'batch_dt="{days[-1]}"' in prom and parse_prometheus(prom)["harmwatch_prevalence"]
    rows = reports.read_json(f"metrics/dt={days[-1]}/moderation.json")["batches"]
    assert [b["batch_dt"] for b in rows] == days
    assert reports.exists(f"metrics/dt={days[-1]}/reporter_reliability.csv")
    r = run_cli("metrics", "--no-mlflow", "--date", days[1])  # a backfill
    assert r.returncode == 0 and json.loads(r.stdout.strip().splitlines()[-1])["days"] == 2
    assert reports.exists(f"metrics/dt={days[1]}/harmwatch_moderation.prom")
    assert f'batch_dt="{days[-1]}"' in reports.read_bytes("metrics/harmwatch_moderation.prom").decode()


@pytest.mark.model
def test_metrics_with_champion_log_an_idempotent_mlflow_time_series(hw_env, source):
    from mlflow import MlflowClient

    settings = load_settings()
    model = stand_in_model(source.iloc[400:])
    _, version = register_champion(
        settings, model, source.iloc[400:600].assign(pred_label="age", harmful_score=0.5)
    )
    days = build_lake(settings, source)
    r = run_cli("metrics")
    assert r.returncode == 0, r.stderr[-2000:]
    s = json.loads(r.stdout.strip().splitlines()[-1])
    assert run_step(metrics, "--date", days[-1])["mlflow_run_id"] == s["mlflow_run_id"]  # a rerun
    assert s["champion_version"] == version and 0.0 <= s["proactive_rate"] <= 1.0
    client = MlflowClient(settings.mlflow_tracking_uri, settings.mlflow_registry_uri)
    [run] = client.search_runs(
        [client.get_experiment_by_name(EXPERIMENT).experiment_id], f"tags.mlflow.runName = '{RUN_NAME}'"
    )
    assert s["mlflow_run_id"] == run.info.run_id
    history = client.get_metric_history(run.info.run_id, "prevalence")
    assert sorted(p.step for p in history) == [(date.fromisoformat(d) - date(1970, 1, 1)).days for d in days]
    assert all(
        p.timestamp == pd.Timestamp(d, tz="UTC").timestamp() * 1000
        for p, d in zip(sorted(history, key=lambda p: p.step), days, strict=True)
    )
    prom = open_store(settings.reports_uri).read_bytes("metrics/harmwatch_moderation.prom").decode()
    assert f'model_version="{version}"' in prom


def _daily_reports(days: int, per_day: int, crew_day: str | None = None) -> pd.DataFrame:
    """Reports over ``days`` days from a crowd of 200 (two a post, random); on ``crew_day`` a crew of five
    also reports 40 posts together."""
    import numpy as np

    rng = np.random.default_rng(1)
    rows = []
    for d in range(1, days + 1):
        day = f"2026-01-{d:02d}"
        for i in range(per_day):
            for who in rng.choice(200, size=2, replace=False):
                rows.append((f"{day}-{i}", f"u{who}", day))
        if day == crew_day:
            rows += [(f"{day}-crew{i}", f"crew{k}", day) for i in range(40) for k in range(5)]
    frame = pd.DataFrame(rows, columns=["post_id", "reporter_id", "batch_dt"])
    return frame.assign(
        report_id=[f"r{i}" for i in range(len(frame))], text="post " + frame["post_id"], reason="age"
    )


def test_brigade_signals_and_alarms():
    from harmwatch.monitoring.moderation import alarms, brigade_signals

    calm = brigade_signals("2026-01-08", _daily_reports(8, 100), history_days=14)
    assert calm["coordinated_report_share"] == 0 and calm["reporter_cohorts"] == 0
    assert calm["report_volume"]["anomaly"] is False and calm["report_volume_robust_z"] == 0.0
    assert alarms({"batch_dt": "2026-01-08", **calm}, 0.02) == []
    crewed = brigade_signals("2026-01-08", _daily_reports(8, 100, crew_day="2026-01-08"), history_days=14)
    assert crewed["reporter_cohorts"] == 1 and crewed["largest_reporter_cohort"] == 5
    assert crewed["coordinated_report_share"] == pytest.approx(200 / 400)
    assert crewed["report_volume"]["anomaly"] is True  # 400 reports against a steady 200
    raised = alarms({"batch_dt": "2026-01-08", **crewed}, 0.02)
    assert [line.split(":")[0] for line in raised] == ["report_volume", "reporter_cohort"]
    assert "50.0% of the reports on 2026-01-08 come from 1 co-reporting cohort(s) (largest 5" in raised[1]
    m = batch_metrics("2026-01-05", _labelled(), _reports(), None, 1)
    m.update(crewed, batch_dt="2026-01-05", alarms=raised)
    samples = parse_prometheus(prometheus_text(m, {}))["harmwatch_moderation_alarm"]
    assert {labels: v for labels, v in samples} == {
        '{batch_dt="2026-01-05",alarm="report_volume"}': 1.0,
        '{batch_dt="2026-01-05",alarm="reporter_cohort"}': 1.0,
    }

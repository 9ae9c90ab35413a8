"""The brigade alarm's Prometheus rules: valid for Prometheus, firing on what ``harmwatch metrics`` writes.

``promtool`` (Debian's ``prometheus`` package, installed by scripts/install-system-packages.sh) checks the
rules file and runs rule unit tests whose input series are parsed from a real Prometheus file written by
:func:`harmwatch.monitoring.moderation.prometheus_text`, so a renamed metric or label fails here. The chart
wraps the same file in a PrometheusRule when ``monitoring.prometheusRule.enabled`` is set.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import yaml

from harmwatch.monitoring.moderation import ALARMS, alarms, prometheus_text
from tests.deploy.deploy_support import CHART, NAMESPACE, helm_template, parse_manifests, run

RULES = CHART / "files" / "moderation-alerts.yaml"
DAY = "2026-01-07"


def metrics_file(share: float) -> str:
    """The Prometheus text the metrics step writes for a batch whose coordinated share is ``share``."""
    m = {
        "batch_dt": DAY,
        "prevalence": 0.8,
        "coordinated_report_share": share,
        "reporter_cohorts": 1,
        "largest_reporter_cohort": 8,
        "report_volume": {"anomaly": False},
        "reliability_hist": {"1.0": 3},
        "reporters_judged": 3,
        "reliability_sum": 2.1,
    }
    m["alarms"] = alarms(m, max_coordinated_share=0.02)
    return prometheus_text(m, {"model_version": "3"})


def series(prom: str, name: str) -> list[dict[str, str]]:
    """promtool input series (``name{labels}`` and a constant value for 2 h) for one metric of the file."""
    out = []
    for line in prom.splitlines():
        if line.startswith(name + "{"):
            labels, value = line[len(name) :].rsplit(" ", 1)
            out.append({"series": name + labels, "values": f"{float(value):g}x120"})
    return out


def unit_test(prom: str, fired: list[dict]) -> dict:
    batch_ts = int(pd.Timestamp(DAY, tz="UTC").timestamp())
    return {
        "interval": "1m",
        "input_series": series(prom, "harmwatch_moderation_alarm"),
        "alert_rule_test": [{"eval_time": "10m", "alertname": "HarmwatchBrigadeAlarm", "exp_alerts": fired}],
        "_batch_ts": batch_ts,
    }


def run_rule_tests(promtool: str, tmp_path: Path, tests: list[dict]) -> None:
    for t in tests:
        t.pop("_batch_ts", None)
    shutil.copy(RULES, tmp_path / "rules.yaml")
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump({"rule_files": ["rules.yaml"], "tests": tests}))
    run([promtool, "test", "rules", tmp_path / "tests.yaml"])


def test_rules_file_is_valid_for_prometheus(promtool) -> None:
    out = run([promtool, "check", "rules", RULES]).stdout
    assert "SUCCESS: 2 rules found" in out


def test_brigade_alarm_fires_on_the_metrics_file_only_when_an_alarm_is_raised(promtool, tmp_path) -> None:
    raised = metrics_file(share=0.09)
    assert (
        'harmwatch_moderation_alarm{batch_dt="2026-01-07",model_version="3",alarm="reporter_cohort"} 1'
        in raised
    )
    expected = {
        "exp_labels": {
            "alarm": "reporter_cohort",
            "batch_dt": DAY,
            "severity": "page",
            "team": "trust-and-safety",
        },
        "exp_annotations": {
            "summary": f"Brigade alarm (reporter_cohort) on the reports of {DAY}",
            "description": yaml.safe_load(RULES.read_text())["groups"][0]["rules"][0]["annotations"][
                "description"
            ]
            .replace("{{ $labels.alarm }}", "reporter_cohort")
            .replace("{{ $labels.batch_dt }}", DAY),
        },
    }
    calm = metrics_file(share=0.01)
    assert set(re.findall(r'alarm="(\w+)"\} 0', calm)) == set(ALARMS)
    run_rule_tests(promtool, tmp_path, [unit_test(raised, [expected]), unit_test(calm, [])])


def test_stale_metrics_alert_when_the_daily_dag_stops(promtool, tmp_path) -> None:
    batch_ts = int(pd.Timestamp(DAY, tz="UTC").timestamp())
    stale = {
        "interval": "1h",
        "input_series": [
            {
                "series": f'harmwatch_moderation_batch_timestamp_seconds{{batch_dt="{DAY}"}}',
                "values": f"{batch_ts}x100",
            }
        ],
        # promtool's clock starts at 0 (1970): the metric's batch is in the future until it is not.
        "alert_rule_test": [
            {"eval_time": "2h", "alertname": "HarmwatchModerationMetricsStale", "exp_alerts": []}
        ],
    }
    old = {
        "interval": "1h",
        "input_series": [
            {
                "series": 'harmwatch_moderation_batch_timestamp_seconds{batch_dt="1970-01-01"}',
                "values": "0x200",
            }
        ],
        "alert_rule_test": [
            {"eval_time": "2d", "alertname": "HarmwatchModerationMetricsStale", "exp_alerts": []},
            {
                "eval_time": "4d",
                "alertname": "HarmwatchModerationMetricsStale",
                "exp_alerts": [
                    {
                        "exp_labels": {"severity": "ticket", "team": "trust-and-safety"},
                        "exp_annotations": yaml.safe_load(RULES.read_text())["groups"][0]["rules"][1][
                            "annotations"
                        ],
                    }
                ],
            },
        ],
    }
    run_rule_tests(promtool, tmp_path, [stale, old])


def test_chart_wraps_the_rules_file_in_a_prometheusrule_only_when_enabled() -> None:
    default = parse_manifests(helm_template().stdout)
    assert not [m for m in default if m["kind"] == "PrometheusRule"]
    rendered = parse_manifests(
        helm_template(
            sets=[
                "monitoring.prometheusRule.enabled=true",
                "monitoring.prometheusRule.labels.release=kube-prom",
            ]
        ).stdout
    )
    [rule] = [m for m in rendered if m["kind"] == "PrometheusRule"]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["namespace"] == NAMESPACE and rule["metadata"]["labels"]["release"] == "kube-prom"
    assert rule["spec"] == yaml.safe_load(RULES.read_text())  # the same rules, templates left to Prometheus
    bad = helm_template(sets=["monitoring.prometheusRule.enabled=yes"], check=False)
    assert bad.returncode != 0 and "enabled" in bad.stderr  # values.schema.json types the switch

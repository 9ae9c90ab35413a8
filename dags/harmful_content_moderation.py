"""
### harmful_content_moderation

Daily moderation metrics and the brigade alarm.

`metrics` ► `brigade_alarm`

- **`metrics`** runs `harmwatch metrics` for the logical day: prevalence, proactive rate, valid-appeal
  proxy, reporter reliability, the report volume against the previous days and the share of the day's
  reports made by co-reporting cohorts. It writes the Prometheus file the chart's alert rules watch
  (`reports/metrics/harmwatch_moderation.prom`, with `harmwatch_moderation_alarm`), a JSON per day, and
  the MLflow time series `moderation-metrics`. Its summary lists the alarms raised (`alarms`).
- **`brigade_alarm`** reads that summary and **fails** when an alarm is raised: an anomalous report
  volume (robust z-score beyond 3.5, as in the drift step) or a day whose reports come from
  co-reporting cohorts beyond the limit (`max_coordinated_share`). The failure names the day, the
  figures and where to look; it is not retried (the same data gives the same alarm). A moderator then
  reads the review queue and the reporter-reliability table of that day.

Runs at 07:00 UTC for the day that ended, after the nightly `harmful_content_retrain` has ingested and
validated it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, CronDataIntervalTimetable, Param
from airflow.sdk.exceptions import AirflowFailException

from harmwatch_tasks import DEFAULT_ARGS, RunnerConfig

runner = RunnerConfig.from_env()  # how tasks run: local processes or pods (read once per parse)

params = {
    "max_coordinated_share": Param(
        0.02,
        type="number",
        minimum=0,
        maximum=1,
        title="Alarm: share of reports from co-reporting cohorts",
        description="The alarm is raised when more of the day's reports than this come from cohorts.",
    ),
    "history_days": Param(
        14,
        type="integer",
        minimum=5,
        maximum=90,
        title="Report-volume history (days)",
        description="Previous days the day's report volume is compared with.",
    ),
}


def raise_alarm(summary: dict[str, Any] | None) -> str:
    """Fail (no retry) when the metrics summary carries a brigade alarm; else say what was checked."""
    log = logging.getLogger("harmwatch.dags")
    if not summary or summary.get("skipped"):
        reason = (summary or {}).get("skipped", "no metrics summary")
        log.info("nothing to check: %s", reason)
        return f"not checked: {reason}"
    raised = summary.get("alarms") or []
    if raised:
        where = summary.get("metrics_json", "the metrics report")
        raise AirflowFailException(
            f"brigade alarm for {summary.get('batch_dt')}: {'; '.join(raised)} ({where})"
        )
    z, share = summary.get("report_volume_robust_z"), summary.get("coordinated_report_share")
    line = f"no brigade alarm for {summary.get('batch_dt')}: report volume z {z}, coordinated share {share}"
    log.info("%s", line)
    return line


with DAG(
    dag_id="harmful_content_moderation",
    description="Daily moderation metrics; brigade_alarm fails on a report-volume or cohort anomaly.",
    schedule=CronDataIntervalTimetable("0 7 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=1),
    default_args=DEFAULT_ARGS,
    params=params,
    tags=["harmwatch", "monitoring", "moderation"],
    doc_md=__doc__,
) as dag:
    metrics = runner.task(
        "metrics",
        [
            "--date={{ ds }}",
            "--history-days={{ params.history_days }}",
            "--max-coordinated-share={{ params.max_coordinated_share }}",
        ],
    )
    brigade_alarm = PythonOperator(
        task_id="brigade_alarm",
        python_callable=raise_alarm,
        op_kwargs={"summary": metrics.output},
        doc_md="Fails when the metrics summary lists a brigade alarm (report volume or co-reporting cohort).",
    )

    metrics >> brigade_alarm

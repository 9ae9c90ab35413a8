"""
### harmful_content_drift

Daily monitoring: is what people post (and what the champion predicts) drifting away from what the
champion was trained on? If so, retrain.

`drift` ► `drift_detected` ► `trigger_retrain`

- **`drift`** runs `harmwatch drift` in pipeline mode: the champion's reference sample against the
  newest validated batches in the lake (or the batch of the `day` parameter, with `window_days`
  days of batches ending there). It writes the Evidently report (`reports/drift/dt=<day>/drift.html`),
  logs the scores into the champion's MLflow run, and returns a summary with `drift_detected`,
  `drift_score`, the signals that fired and the batch `day` it judged.
- **`drift_detected`** reads that summary from XCom and lets the run go on only when
  `drift_detected` is true (a report-volume spike alone does not retrain: it is a moderation event,
  not a shift in what people post). The log says why either way.
- **`trigger_retrain`** starts `harmful_content_retrain` for the drifted batch's day, with the reason
  and the drift summary in the run's conf (`trigger_reason`, `drift`) and a run note saying why.
  The run id is `drift__<day>`, so a batch triggers at most one retraining however often this DAG
  runs (a second trigger for the same day is skipped).

Runs at 06:00 UTC, after the nightly `harmful_content_retrain` has ingested the previous day.
Needs a champion in the registry (its run holds the reference sample).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.standard.operators.python import ShortCircuitOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, CronTriggerTimetable, Param

from harmwatch_tasks import DEFAULT_ARGS, RunnerConfig, option

RETRAIN_DAG = "harmful_content_retrain"
DRIFT = "ti.xcom_pull(task_ids='drift')"

runner = RunnerConfig.from_env()  # how tasks run: local processes or pods (read once per parse)

params = {
    "day": Param(
        None,
        type=["null", "string"],
        format="date",
        title="Batch day",
        description="Check the batch of this day (YYYY-MM-DD); empty means the newest batch in the lake.",
    ),
    "window_days": Param(
        1,
        type="integer",
        minimum=1,
        maximum=31,
        title="Window (days)",
        description="Days of batches, ending at the batch day, compared with the reference.",
    ),
}


def should_retrain(summary: dict[str, Any] | None) -> bool:
    """Go on (trigger a retraining) only when the drift step says the posts drifted; log why."""
    log = logging.getLogger("harmwatch.dags")
    if not summary:
        log.info("no drift summary: nothing to decide")
        return False
    if summary.get("skipped"):  # e.g. no champion yet, or too few posts in the batch
        log.info("drift check skipped (%s): not retraining", summary["skipped"])
        return False
    fired = sorted(k for k, v in (summary.get("signals") or {}).items() if v.get("drift_detected"))
    verdict = "drift detected" if summary.get("drift_detected") else "no drift"
    log.info(
        "%s on batch %s: drift_score %s, signals fired %s, volume anomaly %s; report %s",
        verdict,
        summary.get("day"),
        summary.get("drift_score"),
        fired or "none",
        summary.get("volume_anomaly"),
        summary.get("report_html"),
    )
    return bool(summary.get("drift_detected"))


with DAG(
    dag_id="harmful_content_drift",
    description="Daily drift report on the newest batches; triggers retraining when posts drift.",
    schedule=CronTriggerTimetable("0 6 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=1),
    default_args=DEFAULT_ARGS,
    params=params,
    tags=["harmwatch", "monitoring", "drift"],
    doc_md=__doc__,
) as dag:
    drift = runner.task("drift", [option("--date", "params.day"), "--window-days={{ params.window_days }}"])
    drift_detected = ShortCircuitOperator(
        task_id="drift_detected",
        python_callable=should_retrain,
        op_kwargs={"summary": drift.output},
        doc_md="Continue to `trigger_retrain` only when the drift summary says `drift_detected`.",
    )
    trigger_retrain = TriggerDagRunOperator(
        task_id="trigger_retrain",
        trigger_dag_id=RETRAIN_DAG,
        trigger_run_id=f"drift__{{{{ {DRIFT}['day'] }}}}",
        logical_date=f"{{{{ {DRIFT}['day'] }}}}T06:00:00+00:00",
        conf={
            "trigger_reason": (
                "harmful_content_drift run {{ run_id }}: "
                f"drift detected on batch {{{{ {DRIFT}['day'] }}}} (score {{{{ {DRIFT}['drift_score'] }}}})"
            ),
            "drift": {
                "day": f"{{{{ {DRIFT}['day'] }}}}",
                "drift_score": f"{{{{ {DRIFT}['drift_score'] }}}}",
                "signals": f"{{{{ {DRIFT}['signals'] | tojson }}}}",
                "report_html": f"{{{{ {DRIFT}['report_html'] }}}}",
                "champion_version": f"{{{{ {DRIFT}['champion_version'] }}}}",
            },
        },
        note="Triggered by harmful_content_drift: drift detected (conf trigger_reason and drift say where).",
        skip_when_already_exists=True,
        doc_md="Start harmful_content_retrain for the drifted day, with the drift summary as conf.",
    )

    drift >> drift_detected >> trigger_retrain

"""
### harmful_content_score

Daily batch scoring: every new post of the day is scored by the champion, and by the challenger in
shadow, on Spark.

`predict`

- **`predict`** runs `harmwatch predict --date <logical date>`: the validated posts of that day's batch
  (labelled and reported, one per `post_id`) that no earlier run scored are scored with
  `mlflow.pyfunc.spark_udf` on `models:/harmful-content@champion` and, in shadow, `@challenger`. The
  predictions go to the lake (`predictions/dt=<day>/run=<id>/`), where drift and metrics read them
  instead of scoring again. The summary gives both models' flag rates and how often they disagree
  (`label_disagreement`, `flag_disagreement`): the evidence a reviewer wants before promoting.

With the kubernetes runner the step is a SparkApplication (`dags/spark/predict.yaml`) submitted by
`SparkKubernetesOperator`; with the local runner it is the same command in `local[N]`.
Runs at 05:00 UTC, after the nightly `harmful_content_retrain` has validated the previous day.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable, Param

from harmwatch_tasks import DEFAULT_ARGS, RunnerConfig, flag

runner = RunnerConfig.from_env()  # how tasks run: local processes, pods or SparkApplications

with DAG(
    dag_id="harmful_content_score",
    description="Score the day's new posts with the champion (and the challenger in shadow) on Spark.",
    schedule=CronTriggerTimetable("0 5 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=2),
    default_args=DEFAULT_ARGS,
    params={
        "shadow": Param(True, type="boolean", title="Shadow", description="Also score with the challenger.")
    },
    tags=["harmwatch", "scoring", "spark"],
    doc_md=__doc__,
) as dag:
    predict = runner.task("predict", ["--date={{ ds }}", flag("--no-shadow", "not params.shadow")])

"""
### harmful_content_review

The moderation loop: the review queue goes to the moderators in Label Studio, their decisions come
back as moderator labels, and the next `harmful_content_retrain` trains on them.

`review_pull` ► `review_push`

- **`review_pull`** reads every task of the Label Studio review project and decides its state:
  *labelled* (one moderator, two who agree, or an adjudicator), *skipped* with the moderator's reason,
  *adjudication* (moderators disagreed: the text goes to the adjudication project with their answers)
  or *pending*. New labels land as `labelled/dt=<day>/review-<id>.csv` in the landing format, with the
  pseudonymised annotators and the time they spent; the lake keeps the state of every item
  (`moderation/pulls/`). A decision is exported once, so a rerun lands nothing new.
- **`review_push`** sends the newest review queue (the one the newest training snapshot points to) to
  Label Studio: the texts not there yet, ordered by expected value (the champion's uncertainty, its
  disagreement with reporters and moderators, report volume) or first-in-first-out, each with its
  evidence (reports and votes, model scores, the labels that conflict), up to `max_open` tasks nobody
  has started.

Runs at 23:30 UTC, so the day's decisions land in the partition `harmful_content_retrain` takes for the
same day when it starts at midnight. Needs `HARMWATCH_LABEL_STUDIO_URL` and a personal access token in
`HARMWATCH_LABEL_STUDIO_TOKEN` (the chart's ConfigMap and Secret).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable, Param

from harmwatch_tasks import DEFAULT_ARGS, RunnerConfig

DATE = "--date={{ ds }}"

runner = RunnerConfig.from_env()  # how tasks run: local processes or pods (read once per parse)

params = {
    "max_open": Param(
        500,
        type="integer",
        minimum=0,
        title="Open tasks",
        description="Keep at most this many tasks nobody has started in Label Studio (0: the whole queue).",
    ),
    "order": Param(
        "value",
        enum=["value", "fifo"],
        title="Review order",
        description="value: highest expected value first; fifo: the texts queued first go first.",
    ),
    "overlap_percent": Param(
        10,
        type="integer",
        minimum=0,
        maximum=100,
        title="Double-labelled share (%)",
        description="Share of new tasks that two moderators label, for agreement (applies when the "
        "Label Studio project is created).",
    ),
}

with DAG(
    dag_id="harmful_content_review",
    description="Review queue to Label Studio and moderator decisions back into the landing zone.",
    schedule=CronTriggerTimetable("30 23 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=1),
    default_args=DEFAULT_ARGS,
    params=params,
    tags=["harmwatch", "review", "moderation"],
    doc_md=__doc__,
) as dag:
    review_pull = runner.task("review-pull", [DATE])
    review_push = runner.task(
        "review-push",
        [
            DATE,
            "--max-open={{ params.max_open }}",
            "--order={{ params.order }}",
            "--overlap-percent={{ params.overlap_percent }}",
        ],
    )

    review_pull >> review_push

"""
### harmful_content_retrain

Keeps the harmful-content classifier fresh, one logical day at a time:

`ingest` ► `validate` ► `build_dataset` ► `train` ► `evaluate` ► `approve` ► `promote` ► `drift_report`

Each task is one `harmwatch <step>` command (a Kubernetes pod, or a local process with
`HARMWATCH_RUNNER=local`); the DAG only wires them. Data moves through the lake and MLflow, never
through XCom: each task's XCom is the step's one-line JSON summary (run ids, dataset version, model
version, decision).

- **Dates and handles.** Steps get the run's logical date (`--date {{ ds }}`: ingest, validate,
  build_dataset, promote, drift_report), never the clock; `train` gets the dataset version that this
  run's `build_dataset` returned, and `evaluate` judges the `challenger` that `train` registered. The
  schedule is daily with data intervals: the run for day *D* starts once *D* is over and processes the
  landing partitions `dt <= D` it has not taken yet, so a rerun of *D* does the same work.
- **Nothing new.** `build_dataset` holds the logical date's new moderator-labelled posts out of
  training (the recent slice) and reports `new_rows`; `train` ends **skipped** when the champion was
  trained on this very snapshot (its XCom says why), and so do `evaluate` and `promote`.
- **Weak labels.** `build_dataset` runs with `--champion-check`: the champion scores the posts known
  only from user reports, and a report-derived label it strongly disagrees with waits in the review
  queue (no champion yet: no check). The other defences are the step's defaults.
- **Promotion.** `evaluate` compares the challenger with the champion on the frozen evaluation
  snapshot (the anchor), on the recent slice, on the golden set and on paired identity templates, and
  records a decision on the model version, with a readable summary as the version's description in
  MLflow. `promote` moves the `champion` alias only when the decision allows it; otherwise (decision
  `reject`) the `promote` task ends **skipped**, its XCom still holding the decision. Every alias move
  records who made it and why: the Airflow user who triggered the run (or forced it), or the reviewer
  who approved it.
- **Approval.** With `approval_required`, a passing challenger is `pending_approval` and the run
  **waits** at `approve` (Airflow's human-in-the-loop approval; the run's *Required Actions*). The
  reviewer sees the evaluation summary (macro-F1 of both models with the bootstrap interval, failed
  gates, per-class F1, links to MLflow and the reports) and answers Approve or Reject with a note.
  Approve promotes; Reject is recorded on the model version (decision `reject`, who and why). No
  answer within 3 days counts as Reject, recorded the same way; the run may last the approval window
  plus its steps' worst case, so it never times out while a challenger waits. The person who
  triggered the run cannot approve it: their Approve is not taken and the request stays open for
  another reviewer. For any other decision `approve` is skipped.
- **Forcing.** To promote a rejected challenger, trigger the DAG again with `force_promote` and a
  `force_reason`, or run `harmwatch promote --force --reason ...`.
- **Drift.** `drift_report` writes the Evidently drift report of the day's batch against the
  champion's reference sample (`reports/drift/dt=<day>/drift.html`), whether or not a new champion was
  promoted; it fails only if a step before it failed.
- **Trigger form.** Thresholds, approval mode, forced promotion with its reason and a landing-zone
  override are parameters (defaults = the steps' own defaults). The landing zone a run read is
  lineage: ingest's manifest, the training snapshot the version names (`landing_zones`) and the
  version's training run (tag `harmwatch.landing_zones`) record it. `harmful_content_drift` triggers this
  DAG when it detects drift and records why in `trigger_reason` and `drift` (see the run's conf/note).
- **Failures.** Steps retry with exponential backoff on outages; bad input or data that failed a check
  (exit codes 2 and 3) fails at once. Every failure logs one line
  `harmwatch: task <dag>.<task> failed for <date> (try n): <the step's error>`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, CronDataIntervalTimetable, Param
from harmwatch_approval import APPROVAL_WINDOW, ChallengerApproval, promote_arguments
from harmwatch_params import threshold_arguments, threshold_params

from harmwatch_tasks import DEFAULT_ARGS, RunnerConfig, flag, option

TRAIN_VERSION = "(ti.xcom_pull(task_ids='build_dataset') or {}).get('train_version')"

DATE = "--date={{ ds }}"

runner = RunnerConfig.from_env()  # how tasks run: local processes or pods (read once per parse)

params = {
    **threshold_params(),  # the gate table (jobs/harmwatch/model/gates.py): floors and tolerances
    "approval_required": Param(
        False,
        type="boolean",
        title="Approval mode",
        description=(
            "Never promote automatically: a challenger that passes every gate waits for a reviewer's "
            "Approve or Reject in this run's Required Actions."
        ),
    ),
    "force_promote": Param(
        False,
        type="boolean",
        title="Force promotion",
        description="Promote the challenger whatever the decision says. Needs force_reason.",
    ),
    "force_reason": Param(
        None,
        type=["null", "string"],
        title="Reason for forcing",
        description="Why the challenger is promoted by hand; recorded on the model version.",
    ),
    "landing_uri": Param(
        None,
        type=["null", "string"],
        title="Source override: landing zone",
        description=(
            "Ingest from this landing zone (a folder or s3://bucket/prefix) instead of the configured one."
        ),
    ),
    "trigger_reason": Param(
        None,
        type=["null", "string"],
        title="Why this run was started",
        description="Set by harmful_content_drift when drift triggered the run; informational.",
    ),
    "drift": Param(
        None,
        type=["null", "object"],
        title="Drift summary",
        description="The drift summary that triggered the run (set by harmful_content_drift); informational.",
    ),
}

with DAG(
    dag_id="harmful_content_retrain",
    description="Ingest, validate, retrain, evaluate and promote the harmful-content classifier.",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # steps share the lake and move registry aliases: one run at a time
    # Longer than the approval window plus every step's timeout with its retries (about 11 h in all), so
    # a waiting approval always ends, as Approve or as a recorded Reject, before the run would.
    dagrun_timeout=APPROVAL_WINDOW + timedelta(hours=12),
    default_args=DEFAULT_ARGS,
    params=params,
    tags=["harmwatch", "retrain", "mlops"],
    doc_md=__doc__,
) as dag:
    ingest = runner.task("ingest", [DATE, option("--landing", "params.landing_uri")])
    validate = runner.task("validate", [DATE])
    # The champion's strong disagreement holds a weak label back for a moderator (a no-op without one).
    build_dataset = runner.task("build-dataset", [DATE, "--champion-check"])
    # train takes the handle build_dataset returned (the snapshot of this run), not "the newest"; on Spark
    # too, whose driver pod serves the summary as XCom like a step pod (dags/harmwatch_spark.py).
    # Nothing new since the champion's snapshot (e.g. a drift-triggered run on a day already trained on):
    # train says so and ends skipped, and evaluate and promote are skipped with it.
    train = runner.task(
        "train", [option("--train-version", TRAIN_VERSION), "--only-if-new"], skip_unless="trained"
    )
    evaluate = runner.task(
        "evaluate",
        [
            DATE,
            *threshold_arguments(),
            flag("--approval", "params.approval_required"),
        ],
    )
    approve = ChallengerApproval(task_id="approve", evaluate_task_id="evaluate")
    promote = runner.task(
        "promote",
        [
            DATE,
            flag("--force", "params.force_promote"),
            option("--reason", "params.force_reason if params.force_promote else none"),
            *promote_arguments("approve"),
        ],
        skip_unless="promoted",
        # Runs once evaluate decided, whether approve asked a person or was skipped (no approval needed);
        # skipped with evaluate when there was nothing new to train on.
        trigger_rule="none_failed_min_one_success",
    )
    drift_report = runner.task("drift", [DATE], task_id="drift_report", trigger_rule="none_failed")

    ingest >> validate >> build_dataset >> train >> evaluate >> approve >> promote >> drift_report
    evaluate >> promote

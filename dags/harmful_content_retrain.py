"""
### harmful_content_retrain

Keeps the harmful-content classifier fresh, one logical day at a time:

`ingest` ► `validate` ► `build_dataset` ► `train` ► `evaluate` ► `promote` ► `drift_report`

Each task is one `harmwatch <step>` command (a Kubernetes pod, or a local process with
`HARMWATCH_RUNNER=local`); the DAG only wires them. Data moves through the lake and MLflow, never
through XCom: each task's XCom is the step's one-line JSON summary (run ids, dataset version, model
version, decision).

- **Dates and handles.** Steps get the run's logical date (`--date {{ ds }}`: ingest, validate,
  build_dataset, promote, drift_report), never the clock; `train` gets the dataset version that this
  run's `build_dataset` returned, and `evaluate` judges the `challenger` that `train` registered. The
  schedule is daily with data intervals: the run for day *D* starts once *D* is over and processes the
  landing partitions `dt <= D` it has not taken yet, so a rerun of *D* does the same work.
- **Promotion.** `evaluate` compares the challenger with the champion on the frozen evaluation
  snapshot and records a decision on the model version. `promote` moves the `champion` alias only
  when the decision allows it; otherwise (decision `reject`, or `pending_approval` in approval mode)
  the `promote` task ends **skipped**, its XCom still holding the decision. To promote a pending or
  rejected challenger, trigger the DAG again with `force_promote` and a `force_reason`, or run
  `harmwatch promote --force --reason ...`.
- **Drift.** `drift_report` writes the Evidently drift report of the day's batch against the
  champion's reference sample (`reports/drift/dt=<day>/drift.html`), whether or not a new champion was
  promoted; it fails only if a step before it failed.
- **Trigger form.** Thresholds, approval mode, forced promotion with its reason and a landing-zone
  override are parameters (defaults = the steps' own defaults). `harmful_content_drift` triggers this
  DAG when it detects drift and records why in `trigger_reason` and `drift` (see the run's conf/note).
- **Failures.** Steps retry with exponential backoff on outages; bad input or data that failed a check
  (exit codes 2 and 3) fails at once. Every failure logs one line
  `harmwatch: task <dag>.<task> failed for <date> (try n): <the step's error>`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, CronDataIntervalTimetable, Param

from harmwatch_tasks import DEFAULT_ARGS, RunnerConfig, flag, option

TRAIN_VERSION = "(ti.xcom_pull(task_ids='build_dataset') or {}).get('train_version')"

DATE = "--date={{ ds }}"

runner = RunnerConfig.from_env()  # how tasks run: local processes or pods (read once per parse)

params = {
    "min_macro_f1": Param(
        0.85,
        type="number",
        minimum=0,
        maximum=1,
        title="Floor: macro-F1",
        description="Absolute floor on the challenger's macro-F1 on the frozen evaluation snapshot.",
    ),
    "min_class_f1": Param(
        0.65,
        type="number",
        minimum=0,
        maximum=1,
        title="Floor: F1 of every class",
        description="Absolute floor on each class's F1 (no class may be left behind).",
    ),
    "max_regression": Param(
        0.02,
        type="number",
        minimum=0,
        maximum=1,
        title="Tolerance: macro-F1 regression against the champion",
        description=(
            "Non-inferiority margin: the lower end of the 95% bootstrap interval of "
            "(challenger - champion) macro-F1 must stay above minus this value."
        ),
    ),
    "max_class_regression": Param(
        0.02,
        type="number",
        minimum=0,
        maximum=1,
        title="Tolerance: per-class F1 regression against the champion",
        description="Largest drop in any class's F1 against the champion that is allowed.",
    ),
    "max_ece": Param(
        0.05,
        type="number",
        minimum=0,
        maximum=1,
        title="Ceiling: calibration error (ECE)",
        description="Largest expected calibration error of the challenger that is allowed.",
    ),
    "approval_required": Param(
        False,
        type="boolean",
        title="Approval mode",
        description=(
            "Record the decision as pending_approval instead of promoting: promote is then skipped "
            "and a human promotes later with force_promote and a reason."
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
    dagrun_timeout=timedelta(hours=4),
    default_args=DEFAULT_ARGS,
    params=params,
    tags=["harmwatch", "retrain", "mlops"],
    doc_md=__doc__,
) as dag:
    ingest = runner.task("ingest", [DATE, option("--landing", "params.landing_uri")])
    validate = runner.task("validate", [DATE])
    build_dataset = runner.task("build-dataset", [DATE])
    # train takes the handle build_dataset returned (the snapshot of this run), not "the newest". A Spark
    # build_dataset (kubernetes runner) returns no XCom: train then takes the snapshot it committed last.
    train = runner.task("train", [option("--train-version", TRAIN_VERSION)])
    evaluate = runner.task(
        "evaluate",
        [
            "--min-macro-f1={{ params.min_macro_f1 }}",
            "--min-class-f1={{ params.min_class_f1 }}",
            "--max-regression={{ params.max_regression }}",
            "--max-class-regression={{ params.max_class_regression }}",
            "--max-ece={{ params.max_ece }}",
            flag("--approval", "params.approval_required"),
        ],
    )
    promote = runner.task(
        "promote",
        [
            DATE,
            flag("--force", "params.force_promote"),
            option("--reason", "params.force_reason if params.force_promote else none"),
        ],
        skip_unless="promoted",
    )
    drift_report = runner.task("drift", [DATE], task_id="drift_report", trigger_rule="none_failed")

    ingest >> validate >> build_dataset >> train >> evaluate >> promote >> drift_report

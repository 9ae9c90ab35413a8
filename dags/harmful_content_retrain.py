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
  answer within 3 days counts as Reject. For any other decision `approve` is skipped.
- **Forcing.** To promote a rejected challenger, trigger the DAG again with `force_promote` and a
  `force_reason`, or run `harmwatch promote --force --reason ...`.
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
from harmwatch_approval import ChallengerApproval, promote_arguments

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
    "min_golden_pass": Param(
        0.45,
        type="number",
        minimum=0,
        maximum=1,
        title="Floor: golden set, every kind",
        description="Share of each kind of golden post (must-flag, identity, benign) to get right.",
    ),
    "min_golden_must_flag": Param(
        0.6,
        type="number",
        minimum=0,
        maximum=1,
        title="Floor: golden must-flag posts",
        description="Stricter floor for the golden posts that must be flagged.",
    ),
    "min_golden_benign": Param(
        0.6,
        type="number",
        minimum=0,
        maximum=1,
        title="Floor: golden benign posts",
        description="Stricter floor for the benign golden posts.",
    ),
    "max_identity_fpr": Param(
        0.6,
        type="number",
        minimum=0,
        maximum=1,
        title="Ceiling: flagged neutral identity posts",
        description="Share of the neutral paired identity templates the challenger may flag.",
    ),
    "min_bias_score": Param(
        0.45,
        type="number",
        minimum=0,
        maximum=1,
        title="Floor: bias score",
        description="Jigsaw bias score (subgroup, BPSN and BNSP AUCs) on the paired identity templates.",
    ),
    "max_group_fpr_increase": Param(
        0.17,
        type="number",
        minimum=0,
        maximum=1,
        title="Tolerance: worst group's false-positive rate against the champion",
        description="Largest rise of the worst identity group's template false-positive rate.",
    ),
    "max_bias_score_drop": Param(
        0.15,
        type="number",
        minimum=0,
        maximum=1,
        title="Tolerance: bias score against the champion",
        description="Largest drop of the bias score against the champion.",
    ),
    "max_recent_regression": Param(
        0.03,
        type="number",
        minimum=0,
        maximum=1,
        title="Tolerance: macro-F1 regression on the recent slice",
        description=(
            "Non-inferiority margin on the newest moderator-labelled posts, which neither model trained on."
        ),
    ),
    "min_recent_rows": Param(
        200,
        type="integer",
        minimum=1,
        title="Smallest recent slice that is judged",
        description="A smaller recent slice is recorded as too small and its gate is not applied.",
    ),
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
    dagrun_timeout=timedelta(hours=4),
    default_args=DEFAULT_ARGS,
    params=params,
    tags=["harmwatch", "retrain", "mlops"],
    doc_md=__doc__,
) as dag:
    ingest = runner.task("ingest", [DATE, option("--landing", "params.landing_uri")])
    validate = runner.task("validate", [DATE])
    # The champion's strong disagreement holds a weak label back for a moderator (a no-op without one).
    build_dataset = runner.task("build-dataset", [DATE, "--champion-check"])
    # train takes the handle build_dataset returned (the snapshot of this run), not "the newest". A Spark
    # build_dataset (kubernetes runner) returns no XCom: train then takes the snapshot it committed last.
    # Nothing new since the champion's snapshot (e.g. a drift-triggered run on a day already trained on):
    # train says so and ends skipped, and evaluate and promote are skipped with it.
    train = runner.task(
        "train", [option("--train-version", TRAIN_VERSION), "--only-if-new"], skip_unless="trained"
    )
    evaluate = runner.task(
        "evaluate",
        [
            DATE,
            "--min-macro-f1={{ params.min_macro_f1 }}",
            "--min-class-f1={{ params.min_class_f1 }}",
            "--max-regression={{ params.max_regression }}",
            "--max-class-regression={{ params.max_class_regression }}",
            "--max-ece={{ params.max_ece }}",
            "--min-golden-pass={{ params.min_golden_pass }}",
            "--min-golden-must-flag={{ params.min_golden_must_flag }}",
            "--min-golden-benign={{ params.min_golden_benign }}",
            "--max-identity-fpr={{ params.max_identity_fpr }}",
            "--min-bias-score={{ params.min_bias_score }}",
            "--max-group-fpr-increase={{ params.max_group_fpr_increase }}",
            "--max-bias-score-drop={{ params.max_bias_score_drop }}",
            "--max-recent-regression={{ params.max_recent_regression }}",
            "--min-recent-rows={{ params.min_recent_rows }}",
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

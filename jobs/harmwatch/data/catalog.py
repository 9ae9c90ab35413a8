"""The lake catalog: every path harmwatch reads or writes in the lake and in the reports store.

Steps ask this module for locations instead of spelling them, so the layout lives in one place (and in
``docs/lake.md``, which describes the tables). Paths are keys relative to a store's root
(:func:`harmwatch.storage.open_store`); a *run* or *version* folder is committed by the
``_MANIFEST.json`` its writer puts there last.

Lake (``settings.lake_uri``)::

    ingest/<kind>/run=<id>/part-0000.parquet             ingest: parsed landing rows
    quarantine/<stage>/<kind>/run=<id>/rows.parquet      ingest, validate: rejected rows with a reason
    validated/<kind>/run=<id>/part-0000.parquet          validate: rows that passed every expectation
    datasets/train/v=<version>/train.parquet             build-dataset: training snapshot
    datasets/train/LATEST.json                           build-dataset: pointer to the newest snapshot
    datasets/eval/v=<version>/eval.parquet               build-dataset: frozen evaluation snapshot (anchor)
    datasets/recent/v=<version>/recent.parquet           build-dataset: newest labelled posts held out
    review/v=<version>/queue.parquet (+ queue.csv)       build-dataset: texts a moderator must decide
    reporters/v=<version>/reliability.parquet            build-dataset: reporter reliability
    predictions/dt=<day>/run=<id>/part-*.parquet         predict: champion and shadow challenger scores
    keys/pseudonym-key.json                              ingest, rotate-key: id of the key the lake's
                                                         pseudonyms are made with, and the ones retired
    moderation/pushes/dt=<day>/pushed.parquet            review-push: queued texts sent to Label Studio
    moderation/pulls/run=<id>/decisions.parquet, status.parquet
                                                         review-pull: new final decisions; every item's state;
                                                         its manifest is the ledger (landing file and sha256)

Reports (``settings.reports_uri``)::

    validation/<kind>/run=<id>/report.html, result.json  validate
    drift/dt=<day>/drift.html, drift.json                drift (pipeline mode)
    drift/files/<hash>/drift.html, drift.json            drift (two files compared)
    metrics/harmwatch_moderation.prom                    metrics: newest batch, for node-exporter
    metrics/dt=<day>/                                    metrics: moderation.json, reporter_reliability.csv

Landing zone (``settings.landing_uri``), written by review-pull: moderators' answers from Label Studio::

    labelled/dt=<day>/review-<id>.csv                    the landing format, with provenance columns

``<kind>`` is ``labelled`` or ``reports`` (:data:`KINDS`); ``<stage>`` is ``ingest`` or ``validate``.
"""

from __future__ import annotations

KINDS: tuple[str, ...] = ("labelled", "reports")
STAGES: tuple[str, ...] = ("ingest", "validate")

PART = "part-0000.parquet"  # the rows of an ingest or validated run
QUARANTINE_ROWS = "rows.parquet"
TRAIN_FILE, EVAL_FILE, RECENT_FILE = "train.parquet", "eval.parquet", "recent.parquet"
REVIEW_FILE, REVIEW_CSV = "queue.parquet", "queue.csv"
RELIABILITY_FILE = "reliability.parquet"
PUSHED_FILE, DECISIONS_FILE, STATUS_FILE = "pushed.parquet", "decisions.parquet", "status.parquet"

TRAIN_SNAPSHOTS = "datasets/train"
EVAL_SNAPSHOTS = "datasets/eval"
RECENT_SLICES = "datasets/recent"
TRAIN_LATEST = f"{TRAIN_SNAPSHOTS}/LATEST.json"
REVIEW_QUEUES = "review"
REPORTER_TABLES = "reporters"
PREDICTIONS = "predictions"
REVIEW_PUSHES = "moderation/pushes"
REVIEW_PULLS = "moderation/pulls"
REVIEW_LANDING_PREFIX = "review-"
KEY_RECORD = "keys/pseudonym-key.json"


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown landing kind {kind!r}; expected one of {KINDS}")
    return kind


# -- lake: one folder per run --------------------------------------------------------------------------


def ingest_runs(kind: str) -> str:
    """Folder of all committed ingest runs of ``kind``."""
    return f"ingest/{_kind(kind)}"


def ingest_run(kind: str, run_id: str) -> str:
    return f"{ingest_runs(kind)}/run={run_id}"


def quarantine_runs(stage: str, kind: str) -> str:
    if stage not in STAGES:
        raise ValueError(f"unknown quarantine stage {stage!r}; expected one of {STAGES}")
    return f"quarantine/{stage}/{_kind(kind)}"


def quarantine_run(stage: str, kind: str, run_id: str) -> str:
    return f"{quarantine_runs(stage, kind)}/run={run_id}"


def validated_runs(kind: str) -> str:
    return f"validated/{_kind(kind)}"


def validated_run(kind: str, run_id: str) -> str:
    """``run_id`` is the ingest run it validated."""
    return f"{validated_runs(kind)}/run={run_id}"


# -- lake: versioned tables --------------------------------------------------------------------------


def train_snapshot(version: str) -> str:
    return f"{TRAIN_SNAPSHOTS}/v={version}"


def eval_snapshot(version: str) -> str:
    return f"{EVAL_SNAPSHOTS}/v={version}"


def recent_slice(version: str) -> str:
    return f"{RECENT_SLICES}/v={version}"


def review_queue(version: str) -> str:
    return f"{REVIEW_QUEUES}/v={version}"


def reporter_table(version: str) -> str:
    return f"{REPORTER_TABLES}/v={version}"


def predictions_day(day: str) -> str:
    """Folder of every committed predict run of batch ``day``."""
    return f"{PREDICTIONS}/dt={day}"


def predictions_run(day: str, run_id: str) -> str:
    return f"{predictions_day(day)}/run={run_id}"


def review_push(day: str) -> str:
    """Folder of the texts review-push sent to Label Studio on ``day``."""
    return f"{REVIEW_PUSHES}/dt={day}"


def review_pull(run_id: str) -> str:
    """Folder of one review-pull run: the decisions it exported and the state of every item."""
    return f"{REVIEW_PULLS}/run={run_id}"


# -- landing zone: what the moderation loop lands ------------------------------------------------------


def review_landing(day: str, run_id: str) -> str:
    """Landing key of the moderator labels one review-pull run brings back."""
    return f"labelled/dt={day}/{REVIEW_LANDING_PREFIX}{run_id}.csv"


def is_review_name(key: str) -> bool:
    """True for a landing file *named* like review-pull's (:func:`review_landing`). The name grants
    nothing: only the review-pull ledger does (:mod:`harmwatch.data.authority`)."""
    return str(key).rsplit("/", 1)[-1].startswith(REVIEW_LANDING_PREFIX)


# -- reports store --------------------------------------------------------------------------------


def validation_report(kind: str, run_id: str) -> str:
    """Folder of one validate run's ``report.html`` and ``result.json``."""
    return f"validation/{_kind(kind)}/run={run_id}"


VALIDATION_REPORTS = "validation"


DRIFT_REPORTS = "drift"


def drift_report(day: str) -> str:
    """Folder of the pipeline-mode drift report of batch ``day``."""
    return f"{DRIFT_REPORTS}/dt={day}"


def drift_files_report(digest: str) -> str:
    """Folder of a drift report comparing two given files (``digest`` names the pair)."""
    return f"drift/files/{digest}"


METRICS_REPORTS = "metrics"
METRICS_LATEST_PROM = f"{METRICS_REPORTS}/harmwatch_moderation.prom"


def metrics_day(day: str) -> str:
    return f"{METRICS_REPORTS}/dt={day}"


# In a simulated landing zone: how it was made (who reported what). The audits read it, never the steps.
SIMULATION_TRUTH = "_simulation/truth.json"


# -- lake: build-dataset's state tables (incremental days) --------------------------------------------

STATE = "state/build"
STATE_LATEST = f"{STATE}/LATEST.json"

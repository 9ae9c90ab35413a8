"""The pipeline's steps: one module per ``harmwatch`` command, in the order the retrain DAG runs them.

Each module exposes ``add_arguments(parser)`` and ``run(settings, args) -> dict`` (the JSON summary). A
step's ``run`` reads its inputs, calls a pure core from :mod:`harmwatch.data`, :mod:`harmwatch.model` or
:mod:`harmwatch.monitoring`, and writes its outputs.
"""

from __future__ import annotations

# command -> (module, one-line help); the module is imported only when its command runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "simulate": ("harmwatch.steps.simulate", "turn the source CSV into a landing zone of daily batches"),
    "ingest": ("harmwatch.steps.ingest", "parse new landing files into the lake"),
    "validate": ("harmwatch.steps.validate", "run Great Expectations suites; quarantine failing rows"),
    "build-dataset": ("harmwatch.steps.build_dataset", "build training/eval snapshots and the review queue"),
    "train": ("harmwatch.steps.train", "train a challenger and register it in MLflow"),
    "evaluate": ("harmwatch.steps.evaluate", "compare challenger with champion; record a decision"),
    "promote": ("harmwatch.steps.promote", "move alias champion to the challenger if the decision allows"),
    "rollback": ("harmwatch.steps.rollback", "move alias champion back to previous-champion"),
    "drift": ("harmwatch.steps.drift", "Evidently drift report: reference vs current batches"),
    "metrics": ("harmwatch.steps.metrics", "moderation metrics per batch (MLflow + Prometheus text)"),
    "review-push": (
        "harmwatch.steps.review_push",
        "send the review queue to Label Studio, most valuable first",
    ),
    "review-pull": (
        "harmwatch.steps.review_pull",
        "bring finished moderator decisions back as landing labels",
    ),
    "score": ("harmwatch.steps.score", "batch-score a file with the champion"),
    "predict": (
        "harmwatch.steps.predict",
        "score the lake's new posts on Spark: champion, challenger in shadow",
    ),
    "mlflow-access": (
        "harmwatch.steps.mlflow_access",
        "admin: give the pipeline its MLflow user and permissions",
    ),
    "rotate-key": (
        "harmwatch.steps.rotate_key",
        "admin: re-key the lake's pseudonyms after a declared pseudonym-key change",
    ),
    "info": ("harmwatch.steps.info", "print the resolved settings"),
}

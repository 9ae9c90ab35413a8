"""Which secrets each ``harmwatch`` command uses: a step gets these keys of the Secret and no others.

Read by the DAG helper (a step pod's environment names each key it gets from the Secret), by the
SparkApplications the runner submits, and by the settings' fail-closed check (a command refuses to start
without the secrets it uses, and only those). Import-light: the DAG files import it at parse time.
"""

from __future__ import annotations

MLFLOW = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
PSEUDONYM = ("HARMWATCH_PSEUDONYM_KEY",)
OBJECT_STORE = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")  # absent with a workload identity
LABEL_STUDIO = ("HARMWATCH_LABEL_STUDIO_TOKEN",)

# command -> the Secret's keys it uses. The MLflow server proxies model artifacts (--serve-artifacts),
# so a command that only talks to MLflow needs no object-store keys. A command that writes tables holding
# pseudonyms (validated rows, snapshots, the reporter and review tables) uses the pseudonym key's id: it
# stamps it on their manifests, and build-dataset refuses pseudonyms of two keys (harmwatch.data.keys).
COMMAND_SECRETS: dict[str, tuple[str, ...]] = {
    "simulate": OBJECT_STORE,
    "ingest": OBJECT_STORE + PSEUDONYM,  # pseudonymises reporter and labeller ids
    "validate": OBJECT_STORE + PSEUDONYM,
    "build-dataset": OBJECT_STORE + PSEUDONYM + MLFLOW,  # the champion check scores with the champion
    "train": OBJECT_STORE + MLFLOW,
    "evaluate": OBJECT_STORE + MLFLOW,
    "promote": MLFLOW,
    "rollback": MLFLOW,
    "drift": OBJECT_STORE + MLFLOW,
    "metrics": OBJECT_STORE + PSEUDONYM + MLFLOW,  # the reporter reliability table
    "score": MLFLOW,
    "predict": OBJECT_STORE + MLFLOW,
    "review-push": OBJECT_STORE + PSEUDONYM + MLFLOW + LABEL_STUDIO,
    "review-pull": OBJECT_STORE + PSEUDONYM + LABEL_STUDIO,  # pseudonymises the annotators
    "mlflow-access": MLFLOW,
    # Run by hand by an operator, with the retired key in HARMWATCH_PREVIOUS_PSEUDONYM_KEY as well.
    "rotate-key": OBJECT_STORE + PSEUDONYM,
    "info": (),
}


def secrets_of(command: str) -> tuple[str, ...]:
    """The Secret's keys ``command`` uses; a command not in the table gets none."""
    return COMMAND_SECRETS.get(command, ())


def uses(command: str | None, keys: tuple[str, ...]) -> bool:
    """Whether ``command`` uses any of ``keys`` (no command: the settings of a library caller, all)."""
    return command is None or bool(set(keys) & set(secrets_of(command)))

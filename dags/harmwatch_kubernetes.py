"""What both kinds of Kubernetes task share: a step pod (dags/harmwatch_tasks.py) and a SparkApplication
(dags/harmwatch_spark.py).

Kept below both so neither imports the other: the cluster the runner targets (the fields of
``harmwatch_tasks.RunnerConfig`` a task reads), the job UID, the XCom sidecar's name and mount, the
Secret's keys a step uses and how arguments that rendered empty are dropped (the local runner drops them
the same way).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from harmwatch_tables import package_table

JOB_UID = 10001
# The cncf.kubernetes provider reads a task's XCom from this container, at this path, of the pod, and
# then stops the container with SIGINT (its own sidecar's command, kept here for the Spark driver's).
XCOM_SIDECAR = "airflow-xcom-sidecar"
XCOM_MOUNT = "/airflow/xcom"
XCOM_SIDECAR_COMMAND = ["sh", "-c", 'trap "exit 0" INT; while true; do sleep 1; done;']
XCOM_SIDECAR_RESOURCES = {
    "requests": {"cpu": "10m", "memory": "16Mi"},
    "limits": {"cpu": "50m", "memory": "32Mi"},
}


class Cluster(Protocol):
    """Where a Kubernetes task runs and what it mounts (``harmwatch_tasks.RunnerConfig`` is one)."""

    @property
    def image(self) -> str: ...
    @property
    def image_pull_policy(self) -> str: ...
    @property
    def image_pull_secrets(self) -> tuple[str, ...]: ...
    @property
    def namespace(self) -> str: ...
    @property
    def configmap(self) -> str: ...
    @property
    def secret_name(self) -> str: ...
    @property
    def xcom_sidecar_image(self) -> str: ...
    @property
    def spark_service_account(self) -> str: ...


def drop_empty(arguments: Sequence[Any]) -> list[str]:
    """Rendered arguments without the empty ones (optional flags that were not set)."""
    return [str(a) for a in arguments if a is not None and str(a).strip() != ""]


def step_secrets(step: str) -> tuple[str, ...]:
    """The Secret's keys ``step`` uses (``jobs/harmwatch/access.py``, the table the step checks too)."""
    return package_table("access.py").secrets_of(step)


def secret_env(secret_name: str, keys: Sequence[str]) -> list[dict[str, Any]]:
    """Environment entries (Kubernetes JSON) taking each of ``keys`` from the Secret. Each is optional: a
    key a deployment does not set, such as object-store keys under a workload identity, is left unset,
    and the step's own fail-closed check names what is missing."""
    return [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key, "optional": True}}}
        for key in keys
    ]

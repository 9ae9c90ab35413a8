"""The kubernetes runner's Spark steps: ``harmwatch <step>`` as a SparkApplication.

:meth:`harmwatch_tasks.RunnerConfig.task` hands the steps of ``RunnerConfig.spark_steps`` here. Each
step's SparkApplication is a template in ``dags/spark/<step>.yaml`` (sparkoperator.k8s.io/v1beta2, for
the Kubeflow Spark operator), filled with the runner's image, namespace, service account, ConfigMap and
Secret, and submitted by the cncf.kubernetes provider's ``SparkKubernetesOperator``. Only imported when
the kubernetes runner builds a Spark task, so parsing with the local runner never reads it.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator
from harmwatch_kubernetes import (
    XCOM_MOUNT,
    XCOM_SIDECAR,
    XCOM_SIDECAR_COMMAND,
    XCOM_SIDECAR_RESOURCES,
    Cluster,
    drop_empty,
    secret_env,
    step_secrets,
)
from harmwatch_tables import package_table

SPARK_TEMPLATES = Path(__file__).resolve().parent / "spark"


@functools.cache
def spark_template(step: str) -> dict[str, Any]:
    """The SparkApplication template of ``step`` (``dags/spark/<step>.yaml``), read once per parse."""
    import yaml

    return yaml.safe_load((SPARK_TEMPLATES / f"{step}.yaml").read_text())


def spark_application(config: Cluster, step: str, arguments: Sequence[str]) -> dict[str, Any]:
    """The SparkApplication the runner submits for ``harmwatch <step> <arguments>``: the step's template
    with this runner's image, namespace, service account, ConfigMap and Secret, the XCom sidecar, and the
    task's arguments (still Jinja templates; Airflow renders them, empty ones are dropped before
    submission)."""
    body = copy.deepcopy(spark_template(step))
    spec = body["spec"]
    body["metadata"]["namespace"] = config.namespace
    spec.update(image=config.image, imagePullPolicy=config.image_pull_policy)
    if config.image_pull_secrets:
        spec["imagePullSecrets"] = list(config.image_pull_secrets)
    fixed = [a for a in spec["arguments"][1:] if a.startswith("--engine") or a == "spark"]
    spec["arguments"] = [step, *fixed, *arguments]
    # The driver gets the Secret's keys the step uses; executors read and write the lake (and pseudonymise
    # in ingest) but never call MLflow or Label Studio: the driver ships them the checked model.
    access = package_table("access.py")
    driver_keys = step_secrets(step)
    executor_keys = tuple(k for k in driver_keys if k not in access.MLFLOW + access.LABEL_STUDIO)
    for role, keys in (("driver", driver_keys), ("executor", executor_keys)):
        spec[role]["envFrom"] = [{"configMapRef": {"name": config.configmap}}]
        fixed = [e for e in spec[role].get("env", []) if "valueFrom" not in e]
        spec[role]["env"] = fixed + secret_env(config.secret_name, keys)
    spec["driver"]["serviceAccount"] = config.spark_service_account
    spec["executor"]["serviceAccount"] = f"{config.spark_service_account}-executor"  # the chart's name
    with_xcom_sidecar(spec, config.xcom_sidecar_image or config.image)
    return body


def with_xcom_sidecar(spec: dict[str, Any], image: str) -> None:
    """Give the driver pod what a step pod has for its summary: the XCom volume at ``/airflow/xcom``
    (``harmwatch`` writes ``return.json`` there) and the provider's sidecar, from which the operator
    reads the file once the driver container has ended, then stops it. Executors get neither."""
    driver = spec["driver"]
    mount = {"name": "xcom", "mountPath": XCOM_MOUNT}
    spec["volumes"] = [*spec["volumes"], {"name": "xcom", "emptyDir": {"sizeLimit": "1Mi"}}]
    driver["volumeMounts"] = [*driver["volumeMounts"], mount]  # a new list: the template shares the old
    driver["sidecars"] = [
        {
            "name": XCOM_SIDECAR,
            "image": image,
            "command": XCOM_SIDECAR_COMMAND,
            "resources": copy.deepcopy(XCOM_SIDECAR_RESOURCES),
            "securityContext": copy.deepcopy(driver["securityContext"]),
            "volumeMounts": [mount],
        }
    ]


@functools.cache
def _spark_operator_class() -> type[BaseOperator]:
    """The SparkKubernetesOperator subclass, defined on first use (parsing never imports the provider)."""
    from airflow.providers.cncf.kubernetes.operators.spark_kubernetes import SparkKubernetesOperator

    class HarmwatchSparkOperator(SparkKubernetesOperator):
        """``harmwatch <step>`` as a SparkApplication; optional arguments that rendered empty are dropped.

        The driver writes the step's summary to the XCom volume, and the operator reads it from the driver
        pod's XCom sidecar (:func:`with_xcom_sidecar`) as it does for a step pod: the summary is the
        task's XCom (train takes the snapshot this run's build_dataset returned).
        """

        def manage_template_specs(self) -> dict[str, Any]:
            body = super().manage_template_specs()
            spec = body["spark"]["spec"] if "spark" in body else body["spec"]
            spec["arguments"] = drop_empty(spec.get("arguments") or [])
            return body

    return HarmwatchSparkOperator


def spark_task(config: Cluster, task_id: str, step: str, arguments: list[str], **kwargs: Any) -> BaseOperator:
    body = spark_application(config, step, arguments)
    return _spark_operator_class()(
        task_id=task_id,
        name=body["metadata"]["name"],
        namespace=config.namespace,
        template_spec={"spark": body},
        get_logs=True,
        do_xcom_push=True,
        delete_on_termination=True,
        startup_timeout_seconds=600,
        **kwargs,
    )

"""Turn a harmwatch step into an Airflow task: a Kubernetes pod or a local process, nothing else differs.

A DAG file reads the runner configuration once (``runner = RunnerConfig.from_env()``, the
``HARMWATCH_*`` variables of :class:`RunnerConfig`; the chart's ConfigMap in production) and builds every
task with ``runner.task(step, arguments)``. Parsing imports neither harmwatch nor the Kubernetes provider
nor anything heavy. The runner is one of:

- ``kubernetes`` (the Airflow image and Helm chart): a ``KubernetesPodOperator`` running the job image
  with ``harmwatch <step> <args>``, per-step resource requests and limits, the job service account,
  environment from the job ConfigMap and Secret, a hardened non-root security context, the pod labels the
  chart's NetworkPolicies select on, and the step's JSON summary read back from
  ``/airflow/xcom/return.json``. The pod is deleted when it finishes.
- ``local`` (``make demo``, the tests): the same command as a subprocess of the task; stderr goes to
  the task log line by line, the last stdout line (the JSON summary) becomes the XCom value, and a
  failure fails the task with the step's one-line error.

Arguments are Jinja templates (``{{ ds }}``, ``{{ params.x }}``); an argument that renders to an
empty string is dropped, which is how optional flags are written (see :func:`flag` and
:func:`option`). Exit codes 2 and 3 (bad input, data that failed a check) fail the task without
retries, since running the same step on the same input again cannot help; other failures (outages,
exit 4; unexpected errors, exit 1; lost pods) are retried with exponential backoff.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException
from harmwatch_kubernetes import JOB_UID, XCOM_SIDECAR, XCOM_SIDECAR_RESOURCES, drop_empty, step_secrets

POD_LABELS = {"app.kubernetes.io/name": "harmwatch", "app.kubernetes.io/component": "job"}
NO_RETRY_EXIT_CODES = frozenset({2, 3})  # HarmwatchError, DataError: same input, same failure


@dataclass(frozen=True)
class StepSpec:
    """What one step needs: pod resources (requests, limits) and how long it may run."""

    cpu: str
    memory: str
    cpu_limit: str
    memory_limit: str
    timeout: timedelta


# Sized on the full Kaggle dataset (~47k posts); train and drift are the heavy ones.
STEPS: dict[str, StepSpec] = {
    "ingest": StepSpec("250m", "768Mi", "1", "2Gi", timedelta(minutes=20)),
    "validate": StepSpec("500m", "1Gi", "1", "2Gi", timedelta(minutes=30)),
    "build-dataset": StepSpec("250m", "1Gi", "1", "2Gi", timedelta(minutes=30)),
    "train": StepSpec("1", "2Gi", "2", "4Gi", timedelta(minutes=60)),
    "evaluate": StepSpec("500m", "1Gi", "1", "2Gi", timedelta(minutes=30)),
    "promote": StepSpec("100m", "512Mi", "500m", "1Gi", timedelta(minutes=10)),
    "rollback": StepSpec("100m", "512Mi", "500m", "1Gi", timedelta(minutes=10)),
    "drift": StepSpec("500m", "1536Mi", "1", "3Gi", timedelta(minutes=30)),
    "metrics": StepSpec("250m", "1Gi", "1", "2Gi", timedelta(minutes=20)),
    # Spark in local[2] when it runs in a pod; on the cluster, dags/spark/predict.yaml sizes it.
    "predict": StepSpec("1", "3Gi", "2", "4Gi", timedelta(minutes=60)),
    # review-push scores the queue with the champion; review-pull only talks to Label Studio.
    "review-push": StepSpec("500m", "1Gi", "1", "2Gi", timedelta(minutes=20)),
    "review-pull": StepSpec("250m", "512Mi", "500m", "1Gi", timedelta(minutes=20)),
}
# Steps the kubernetes runner submits as SparkApplications (dags/spark/<step>.yaml) by default.
# (dags/harmwatch_spark.py builds those tasks.)
SPARK_STEPS: tuple[str, ...] = ("ingest", "validate", "build-dataset", "predict")


@dataclass(frozen=True)
class RunnerConfig:
    """How DAG tasks run harmwatch steps. Each field is the variable ``HARMWATCH_<FIELD>``.

    ``bin`` (``HARMWATCH_BIN``) is the local runner's executable (default: ``harmwatch`` beside the running
    Python, else on PATH); ``image_pull_secrets`` is comma-separated; the other fields describe the step
    pods of the Kubernetes runner.
    """

    runner: str = "local"
    bin: str = ""
    image: str = "registry.example.com/harmwatch/job:0.1.0"
    image_pull_policy: str = "IfNotPresent"
    image_pull_secrets: tuple[str, ...] = field(default=())
    namespace: str = "harmwatch"
    service_account: str = "harmwatch-job"
    configmap: str = "harmwatch-config"
    secret_name: str = "harmwatch-secrets"
    xcom_sidecar_image: str = ""
    spark_steps: tuple[str, ...] = field(default=SPARK_STEPS)
    spark_service_account: str = "harmwatch-spark"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> RunnerConfig:
        """Read every ``HARMWATCH_<FIELD>`` once (unset or empty keeps the default); keywords win.

        A list (``HARMWATCH_SPARK_STEPS``, ``HARMWATCH_IMAGE_PULL_SECRETS``) is comma-separated; ``none``
        is the empty list (``HARMWATCH_SPARK_STEPS=none``: every step runs as a plain pod).
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"HARMWATCH_{f.name.upper()}", "")
            if raw:
                values[f.name] = (
                    tuple(s.strip() for s in raw.split(",") if s.strip() and s.strip() != "none")
                    if f.name in ("image_pull_secrets", "spark_steps")
                    else raw
                )
        config = cls(**{**values, **{k: v for k, v in overrides.items() if v is not None}})
        if config.runner not in ("local", "kubernetes"):
            raise ValueError(f"HARMWATCH_RUNNER={config.runner!r}: expected 'local' or 'kubernetes'")
        return config

    def task(
        self,
        step: str,
        arguments: Sequence[str] = (),
        *,
        task_id: str | None = None,
        skip_unless: str | None = None,
        **kwargs: Any,
    ) -> BaseOperator:
        """A task that runs ``harmwatch <step> <arguments>`` on this runner.

        :param step: harmwatch command; its :data:`STEPS` entry gives resources and the timeout.
        :param arguments: templated arguments (use :func:`flag` / :func:`option` for optional ones).
        :param task_id: defaults to the step name with ``-`` replaced by ``_``.
        :param skip_unless: summary key that must be truthy, else the task ends as skipped.
        :param kwargs: passed to the operator (``trigger_rule``, ``doc_md``, ``retries``...).
        :returns: the operator; its XCom ``return_value`` is the step's JSON summary.
        """
        if step not in STEPS:
            raise ValueError(f"unknown harmwatch step {step!r}; known: {', '.join(STEPS)}")
        spec = STEPS[step]
        task_id = task_id or step.replace("-", "_")
        kwargs.setdefault("execution_timeout", spec.timeout)
        if self.runner == "kubernetes" and step in self.spark_steps:
            from harmwatch_spark import spark_task

            return spark_task(self, task_id, step, list(arguments), **kwargs)
        if self.runner == "kubernetes":
            return _pod_task(self, task_id, step, list(arguments), spec, skip_unless=skip_unless, **kwargs)
        return HarmwatchStepOperator(
            task_id=task_id,
            step=step,
            arguments=arguments,
            skip_unless=skip_unless,
            executable=self.bin,
            **kwargs,
        )


# -- argument templates ---------------------------------------------------------------------------


def flag(name: str, condition: str) -> str:
    """``name`` when the Jinja expression ``condition`` is true, else dropped."""
    return f"{{% if {condition} %}}{name}{{% endif %}}"


def option(name: str, expression: str) -> str:
    """``name=<value>`` when the Jinja expression has a value (not None or empty), else dropped."""
    return f"{{% if ({expression}) not in (none, '') %}}{name}={{{{ {expression} }}}}{{% endif %}}"


def _skip_if_not(task: BaseOperator, summary: Any, key: str | None, context: Any) -> None:
    """Mark the task skipped (keeping its summary as XCom) when ``summary[key]`` is falsy."""
    if not key or not isinstance(summary, dict) or summary.get(key):
        return
    context["ti"].xcom_push(key="return_value", value=summary)
    reason = summary.get("reason") or summary.get("decision") or "no reason given"
    raise AirflowSkipException(f"harmwatch {task.step}: {key} is false ({reason})")


def harmwatch_executable(explicit: str = "") -> str:
    """``explicit`` (``HARMWATCH_BIN``), else ``harmwatch`` beside the running Python, else on PATH."""
    if explicit:
        return explicit
    sibling = Path(sys.executable).parent / "harmwatch"
    if sibling.is_file():
        return str(sibling)
    found = shutil.which("harmwatch")
    if not found:
        raise AirflowFailException("harmwatch executable not found (set HARMWATCH_BIN or install harmwatch)")
    return found


def _die_with_parent() -> None:
    """In the step's process: get SIGTERM when the task process dies, so no step outlives its task."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# -- local runner ---------------------------------------------------------------------------------


class HarmwatchStepOperator(BaseOperator):
    """Run ``harmwatch <step> <arguments>`` as a subprocess; return its JSON summary as XCom.

    :param step: the harmwatch command (``ingest``, ``train``, ...).
    :param arguments: its arguments, templated; empty ones are dropped after rendering.
    :param skip_unless: a summary key; when its value is falsy the task ends as skipped.
    :param executable: the ``harmwatch`` to run (default: see :func:`harmwatch_executable`).
    """

    template_fields: Sequence[str] = ("arguments",)
    ui_color = "#e8f4ea"

    def __init__(
        self,
        *,
        step: str,
        arguments: Sequence[str] = (),
        skip_unless: str | None = None,
        executable: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.step = step
        self.arguments = list(arguments)
        self.skip_unless = skip_unless
        self.executable = executable
        self._proc: subprocess.Popen[str] | None = None

    def execute(self, context: Any) -> dict[str, Any]:
        cmd = [harmwatch_executable(self.executable), self.step, *drop_empty(self.arguments)]
        self.log.info("running: %s", shlex.join(["harmwatch", *cmd[1:]]))
        started = time.monotonic()
        self._proc = proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            preexec_fn=_die_with_parent,
        )
        out: list[str] = []
        reader = threading.Thread(target=lambda: out.append(proc.stdout.read() if proc.stdout else ""))
        reader.start()
        last_error = ""
        assert proc.stderr is not None
        for line in proc.stderr:
            line = line.rstrip("\n")
            if line.strip():
                self.log.info("%s", line)
                last_error = line
        code = proc.wait()
        reader.join()
        # The step's own wall time, apart from Airflow's bookkeeping (the DAG benchmark reads it).
        context["ti"].xcom_push(key="step_seconds", value=round(time.monotonic() - started, 3))
        if code != 0:
            message = f"harmwatch {self.step} exited {code}: {last_error or 'no error message'}"
            raise (AirflowFailException if code in NO_RETRY_EXIT_CODES else AirflowException)(message)
        from harmwatch.cli import parse_summary  # the local runner runs where harmwatch is installed

        try:
            summary = parse_summary("".join(out))
        except ValueError as exc:
            raise AirflowException(str(exc)) from None
        self.log.info("summary: %s", json.dumps(summary, sort_keys=True, default=str)[:2000])
        _skip_if_not(self, summary, self.skip_unless, context)
        return summary

    def on_kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()


# -- Kubernetes runner ----------------------------------------------------------------------------


@functools.cache
def _pod_operator_class(sidecar_image: str = "") -> type[BaseOperator]:
    """The KubernetesPodOperator subclass, defined on first use so parsing never imports the provider."""
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from kubernetes.client import models as k8s

    class HarmwatchPodOperator(KubernetesPodOperator):
        """``harmwatch <step>`` in a pod; empty arguments dropped, sidecar bounded, summary as XCom."""

        def __init__(self, *, step: str, skip_unless: str | None = None, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.step = step
            self.skip_unless = skip_unless

        def build_pod_request_obj(self, context: Any = None, *, dry_run: bool = False) -> Any:
            self.arguments = drop_empty(self.arguments or [])
            pod = super().build_pod_request_obj(context, dry_run=dry_run)
            for container in pod.spec.containers:
                if container.name == XCOM_SIDECAR:  # the provider sets requests only
                    container.resources = k8s.V1ResourceRequirements(**XCOM_SIDECAR_RESOURCES)
                    container.image = sidecar_image or container.image
            return pod

        def execute(self, context: Any) -> Any:
            summary = super().execute(context)
            _skip_if_not(self, summary, self.skip_unless, context)
            return summary

        def cleanup(self, pod: Any, remote_pod: Any, xcom_result: Any = None, context: Any = None) -> None:
            try:
                super().cleanup(pod, remote_pod, xcom_result, context)
            except AirflowSkipException:
                raise
            except AirflowException as exc:
                if _exit_code(remote_pod, self.base_container_name) in NO_RETRY_EXIT_CODES:
                    raise AirflowFailException(str(exc)) from exc
                raise

    return HarmwatchPodOperator


def _exit_code(remote_pod: Any, container: str) -> int | None:
    statuses = (remote_pod.status.container_statuses if remote_pod and remote_pod.status else None) or []
    for status in statuses:
        if status.name == container and status.state and status.state.terminated:
            return status.state.terminated.exit_code
    return None


def _security() -> tuple[Any, Any]:
    from kubernetes.client import models as k8s

    seccomp = k8s.V1SeccompProfile(type="RuntimeDefault")
    pod = k8s.V1PodSecurityContext(
        run_as_non_root=True,
        run_as_user=JOB_UID,
        run_as_group=JOB_UID,
        fs_group=JOB_UID,
        seccomp_profile=seccomp,
    )
    container = k8s.V1SecurityContext(
        run_as_non_root=True,
        run_as_user=JOB_UID,
        run_as_group=JOB_UID,
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        capabilities=k8s.V1Capabilities(drop=["ALL"]),
        seccomp_profile=seccomp,
    )
    return pod, container


def _pod_task(
    config: RunnerConfig, task_id: str, step: str, arguments: list[str], spec: StepSpec, **kwargs: Any
) -> BaseOperator:
    from kubernetes.client import models as k8s

    pod_security, container_security = _security()
    return _pod_operator_class(config.xcom_sidecar_image)(
        task_id=task_id,
        step=step,
        name=f"harmwatch-{step}",
        namespace=config.namespace,
        image=config.image,
        image_pull_policy=config.image_pull_policy,
        image_pull_secrets=[k8s.V1LocalObjectReference(name=s) for s in config.image_pull_secrets] or None,
        cmds=["harmwatch"],
        arguments=[step, *arguments],
        labels={**POD_LABELS, "harmwatch/step": step},
        service_account_name=config.service_account,
        automount_service_account_token=False,
        env_from=[k8s.V1EnvFromSource(config_map_ref=k8s.V1ConfigMapEnvSource(name=config.configmap))],
        # Only the keys of the Secret this step uses (harmwatch.access), not the whole Secret.
        env_vars=[
            k8s.V1EnvVar(
                name=key,
                value_from=k8s.V1EnvVarSource(
                    secret_key_ref=k8s.V1SecretKeySelector(name=config.secret_name, key=key, optional=True)
                ),
            )
            for key in step_secrets(step)
        ],
        container_resources=k8s.V1ResourceRequirements(
            requests={"cpu": spec.cpu, "memory": spec.memory, "ephemeral-storage": "256Mi"},
            limits={"cpu": spec.cpu_limit, "memory": spec.memory_limit, "ephemeral-storage": "4Gi"},
        ),
        security_context=pod_security,
        container_security_context=container_security,
        xcom_sidecar_container_security_context=container_security,
        volumes=[
            k8s.V1Volume(name="tmp", empty_dir=k8s.V1EmptyDirVolumeSource(size_limit="1Gi")),
            k8s.V1Volume(name="home", empty_dir=k8s.V1EmptyDirVolumeSource(size_limit="2Gi")),
        ],
        volume_mounts=[
            k8s.V1VolumeMount(name="tmp", mount_path="/tmp"),
            k8s.V1VolumeMount(name="home", mount_path="/var/lib/harmwatch"),
        ],
        termination_message_policy="FallbackToLogsOnError",
        on_finish_action="delete_pod",
        do_xcom_push=True,
        get_logs=True,
        startup_timeout_seconds=300,
        **kwargs,
    )


# -- task defaults --------------------------------------------------------------------------------


def log_failure(context: Any) -> None:
    """Failure callback: one clear line naming the run, the task, the try and the error."""
    import logging

    ti = context.get("ti") or context.get("task_instance")
    exc = context.get("exception")
    first = str(exc).splitlines()[0] if exc and str(exc) else type(exc).__name__ if exc else "unknown error"
    logging.getLogger("harmwatch.dags").error(
        "harmwatch: task %s.%s failed for %s (try %s): %s",
        getattr(ti, "dag_id", "?"),
        getattr(ti, "task_id", "?"),
        context.get("ds") or getattr(ti, "run_id", "?"),
        getattr(ti, "try_number", "?"),
        first,
    )


# Task defaults both DAGs share: transient failures retry with exponential backoff (a failing step's
# exit code 2 or 3 fails at once, see NO_RETRY_EXIT_CODES), and failures are logged in one line.
DEFAULT_ARGS: dict[str, Any] = {
    "owner": "harmwatch",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
    "on_failure_callback": log_failure,
    "execution_timeout": timedelta(minutes=5),  # steps get their own (STEPS)
}

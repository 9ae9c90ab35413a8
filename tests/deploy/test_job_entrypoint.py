"""The job image's entrypoint (docker/job-entrypoint.sh), run here as the image runs it: with Spark's
Kubernetes arguments it starts a driver (spark-submit in client mode) or an executor (Spark's Kubernetes
executor backend on the JVM); anything else is a harmwatch command line.

The driver check starts the real spark-submit of the PySpark wheel the image installs, running
harmwatch's driver program. The executor's JVM cannot start without a driver to register with, so a
stand-in ``java`` records the command line, and the backend class is looked up in the wheel's jars.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, VENV_BIN

ENTRYPOINT = REPO / "docker" / "job-entrypoint.sh"
DRIVER = REPO / "jobs" / "harmwatch" / "spark" / "driver.py"
BACKEND = "org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend"
EXECUTOR_ENV = {
    "SPARK_EXECUTOR_MEMORY": "6g",
    "SPARK_DRIVER_URL": "spark://CoarseGrainedScheduler@driver-svc.harmwatch.svc:7078",
    "SPARK_EXECUTOR_ID": "3",
    "SPARK_EXECUTOR_CORES": "2",
    "SPARK_APPLICATION_ID": "spark-0a1b2c",
    "SPARK_EXECUTOR_POD_IP": "10.1.2.3",
    "SPARK_RESOURCE_PROFILE_ID": "0",
    "SPARK_EXECUTOR_POD_NAME": "harmwatch-predict-exec-3",
    "SPARK_JAVA_OPT_1": "-Dspark.driver.port=7078",
    "SPARK_JAVA_OPT_0": "-Djava.io.tmpdir=/tmp",
    "SPARK_JAVA_OPT_10": "-Dspark.network.timeout=120s",
}


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def entrypoint(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SPARK_")}
    base["PATH"] = f"{VENV_BIN}:{base['PATH']}"
    return subprocess.run(
        ["bash", str(ENTRYPOINT), *args], env={**base, **env}, capture_output=True, text=True, timeout=300
    )


def test_the_executor_runs_sparks_kubernetes_backend(tmp_path) -> None:
    java_home = tmp_path / "jdk"
    (java_home / "bin").mkdir(parents=True)
    java = java_home / "bin" / "java"
    java.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    java.chmod(0o755)
    home = spark_home()
    proc = entrypoint("executor", env={**EXECUTOR_ENV, "SPARK_HOME": str(home), "JAVA_HOME": str(java_home)})
    assert proc.returncode == 0, proc.stderr
    argv = proc.stdout.splitlines()
    # JVM options in Spark's order (0, 1, ..., 10), then the heap, the classpath and the backend.
    assert argv[:3] == ["-Djava.io.tmpdir=/tmp", "-Dspark.driver.port=7078", "-Dspark.network.timeout=120s"]
    assert argv[3:7] == ["-Xms6g", "-Xmx6g", "-cp", f"{home}/conf:{home}/jars/*"]
    assert argv[7] == BACKEND
    flags = dict(zip(argv[8::2], argv[9::2], strict=True))
    assert flags == {
        "--driver-url": EXECUTOR_ENV["SPARK_DRIVER_URL"],
        "--executor-id": "3",
        "--cores": "2",
        "--app-id": "spark-0a1b2c",
        "--hostname": "10.1.2.3",
        "--resourceProfileId": "0",
        "--podName": "harmwatch-predict-exec-3",
    }
    # The class is in the wheel's Spark jars, so the same command runs in the image.
    (jar,) = (home / "jars").glob("spark-kubernetes_*.jar")
    assert BACKEND.replace(".", "/") + ".class" in zipfile.ZipFile(jar).namelist()


def test_a_missing_spark_variable_is_one_line(tmp_path) -> None:
    env = {k: v for k, v in EXECUTOR_ENV.items() if k != "SPARK_DRIVER_URL"}
    proc = entrypoint("executor", env={**env, "SPARK_HOME": str(tmp_path), "JAVA_HOME": str(tmp_path)})
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "harmwatch-entrypoint: executor needs SPARK_DRIVER_URL, which Spark sets on its pods; it is not set"
    ]


def test_other_arguments_are_a_harmwatch_command_line() -> None:
    proc = entrypoint("--help", env={})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: harmwatch <command>")


@pytest.mark.spark
def test_the_driver_runs_a_step_under_spark_submit(tmp_path) -> None:
    """``driver`` as Spark's Kubernetes driver pod is started (its master and the program's arguments
    after it): spark-submit runs harmwatch's driver program, whose summary is the step's."""
    if shutil.which("java") is None:
        pytest.fail("no Java runtime: make test installs openjdk-17-jre-headless")
    env = {
        "SPARK_HOME": str(spark_home()),
        "SPARK_DRIVER_BIND_ADDRESS": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "HARMWATCH_HOME": str(tmp_path),
    }
    proc = entrypoint("driver", "--master", "local[1]", str(DRIVER), "info", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["home"] == str(tmp_path), summary

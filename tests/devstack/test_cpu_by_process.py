"""devstack.cpu_by_process: the kinds a command's processes are counted under, and its report."""

from __future__ import annotations

import sys

from devstack import cpu_by_process as cpu


def test_processes_are_named_by_what_they_run() -> None:
    assert cpu.kind_of("/repo/.venv/bin/python /repo/.venv/bin/harmwatch train --only-if-new") == (
        "harmwatch train"
    )
    assert cpu.kind_of("/opt/venv/bin/python -m harmwatch.cli drift --date=2026-01-01") == "harmwatch drift"
    assert cpu.kind_of("python -m harmwatch.steps.evaluate models:/m/1") == "evaluate's fresh-process load"
    assert cpu.kind_of("/repo/.venv/bin/mlflow server --app-name basic-auth") == "MLflow servers"
    assert cpu.kind_of("python -m uvicorn --workers 1 --factory mlflow.server.auth:create_app") == (
        "MLflow servers"
    )
    assert cpu.kind_of("/repo/.venv/bin/python /repo/.venv/bin/airflow dag-processor") == (
        "airflow dag-processor"
    )
    assert cpu.kind_of("/usr/lib/jvm/java-17/bin/java -cp x org.apache.spark.deploy.SparkSubmit") == (
        "Java (Spark)"
    )
    assert cpu.kind_of("/usr/bin/something --flag") == "other: something"
    assert cpu.kind_of("") == "other: (no command line)"


def test_a_command_is_run_and_its_cpu_reported(capfd) -> None:
    spin = "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass\nexit(3)"
    code = cpu.main(["--", sys.executable, "-c", spin])
    report = capfd.readouterr().err
    assert code == 3, "the command's exit code is passed on"
    assert report.splitlines()[1:3] == ["| kind | CPU-s | processes |", "|---|---:|---:|"]
    row = next(line for line in report.splitlines() if line.startswith("| other: python"))
    assert float(row.split("|")[2]) >= 0.3, row  # sampled at least once after half a second of its work

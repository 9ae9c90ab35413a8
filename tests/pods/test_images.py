"""make images: both Dockerfiles build under Podman, and what they build is what the repository says.

Each check runs the built image: the job image holds exactly the locked dependencies and the current
source, runs as UID 10001 and works with a read-only root filesystem; the Airflow image runs as the
official image's user 50000, has Airflow and the Kubernetes provider at the lock's versions and parses the
current DAGs into KubernetesPodOperators. A stale layer cache or an unpinned install would fail them.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml

from devstack import images as img

pytestmark = pytest.mark.podman
REPO = Path(__file__).resolve().parents[2]


def run(image: str, *args: str, entrypoint: str | None = None, extra: tuple[str, ...] = ()) -> str:
    opts = ["--rm", "--network=none", *extra]
    if entrypoint is not None:
        opts.append(f"--entrypoint={entrypoint}")
    return img.podman("run", *opts, image, *args, timeout=300).stdout


def lock() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", line)
        if m:
            pins[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return pins


def tree_digest(root: Path, pattern: str) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob(pattern)):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


DIGEST = """
import hashlib, pathlib, sys
root = pathlib.Path(sys.argv[1]); d = hashlib.sha256()
for p in sorted(root.rglob(sys.argv[2])):
    d.update(str(p.relative_to(root)).encode() + b"\\0" + p.read_bytes())
print(d.hexdigest())
"""


def test_images_are_tagged_with_the_commit_and_built_from_the_stand_in_bases(images) -> None:
    tag = img.commit_tag()
    assert images["job"].ref == f"localhost/harmwatch/job:{tag}"
    assert images["airflow"].ref == f"localhost/harmwatch/airflow:{tag}"
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", tag)
    for name in ("job", "airflow"):
        data = json.loads(img.podman("image", "inspect", images[name].ref).stdout)[0]
        assert data["Labels"]["org.opencontainers.image.title"] == f"harmwatch-{name}"
        assert images[name].size_bytes > 200e6
    python = run(
        images["python-base"].ref, "python3", "-c", "import platform; print(platform.python_version())"
    )
    assert python.strip().startswith("3.12.")


def test_job_image_has_the_locked_dependencies_and_the_current_source(images) -> None:
    job = images["job"].ref
    listed = json.loads(run(job, "list", "--format=json", entrypoint="pip"))
    installed = {re.sub(r"[-_.]+", "-", p["name"]).lower(): p["version"] for p in listed}
    assert installed.pop("harmwatch") == "0.1.0"
    pins = lock()
    off_lock = {n: v for n, v in installed.items() if n not in ("pip", "setuptools") and pins.get(n) != v}
    assert not off_lock, f"installed but not at the lock's version: {off_lock}"
    assert "mlflow" in installed and "psycopg2-binary" in installed
    assert not [n for n in installed if n.startswith("apache-airflow")], "no Airflow in the job image"
    package = "/opt/venv/lib/python3.12/site-packages/harmwatch"
    in_image = run(job, "-c", DIGEST, package, "*.py", entrypoint="python").strip()
    assert in_image == tree_digest(REPO / "jobs" / "harmwatch", "*.py"), "the image holds stale source"


def test_job_image_runs_as_10001_on_a_read_only_root(images) -> None:
    hardened = (
        "--read-only",
        "--tmpfs=/tmp",
        "--tmpfs=/var/lib/harmwatch:mode=1777",
        "--cap-drop=ALL",
    )
    assert run(images["job"].ref, "-u", entrypoint="id", extra=hardened).strip() == "10001"
    info = json.loads(run(images["job"].ref, "info", "--json", extra=hardened))
    assert info["home"] == "/var/lib/harmwatch"
    # sys.ps1: in a `python -c` process pyspark.sql.connect (GX imports it) exits 0 unless interactive.
    smoke = (
        "import sys; sys.ps1 = ''; "
        "import sklearn, mlflow, great_expectations, evidently, pyarrow, psycopg2, pyspark; print('ok')"
    )
    assert run(images["job"].ref, "-c", smoke, entrypoint="python", extra=hardened).strip() == "ok"


def test_airflow_image_parses_the_dags_into_pod_operators(images) -> None:
    airflow = images["airflow"].ref
    pins = lock()
    assert run(airflow, "-u", entrypoint="id").strip() == "50000"
    assert run(airflow, "airflow", "version").strip().splitlines()[-1] == pins["apache-airflow"]
    probe = (
        "import json, sys; from airflow.dag_processing.dagbag import DagBag; "
        "from importlib.metadata import version; "
        "b = DagBag('/opt/airflow/dags', safe_mode=False); "
        "print(json.dumps({'dags': sorted(b.dag_ids), 'errors': list(b.import_errors), "
        "'kinds': sorted({type(t).__name__ for d in b.dags.values() for t in d.tasks}), "
        "'provider': version('apache-airflow-providers-cncf-kubernetes')}))"
    )
    # PYTHONPATH: what Airflow's dags-folder bundle does for the DAGs' helper module when it parses them.
    bundle = ("--env=PYTHONPATH=/opt/airflow/dags",)
    out = json.loads(run(airflow, "python", "-c", probe, extra=bundle).strip().splitlines()[-1])
    assert out["errors"] == []
    assert out["dags"] == sorted(p.stem for p in (REPO / "dags").glob("harmful_content_*.py"))
    assert "HarmwatchPodOperator" in out["kinds"], "HARMWATCH_RUNNER=kubernetes is the image's default"
    assert out["provider"] == pins["apache-airflow-providers-cncf-kubernetes"]
    dags = run(airflow, "python", "-c", DIGEST, "/opt/airflow/dags", "*.py").strip()
    assert dags == tree_digest(REPO / "dags", "*.py"), "the image holds stale DAGs"


# Spark on Kubernetes starts the job image with `driver ...` (spark-submit, client mode) and `executor`
# (settings in SPARK_* variables). No API server here, so a standalone master stands in for the cluster
# manager: the driver schedules on the CoarseGrainedScheduler endpoint every Spark executor registers
# with, and the executor is started by hand as Kubernetes would start its pod.
SPARK_PROGRAM = """
import json, os
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
rdd = spark.sparkContext.parallelize(range(1000), 4)
ran_on = rdd.mapPartitions(lambda rows: [os.environ.get("SPARK_EXECUTOR_ID")]).collect()
print(json.dumps({"sum": rdd.map(lambda x: 2 * x).sum(), "executors": sorted(set(ran_on))}))
spark.stop()
"""
SPARK_CLUSTER = """
set -eu
export SPARK_NO_DAEMONIZE=1 SPARK_LOG_DIR=/tmp/spark-logs
"$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master \\
    --host 127.0.0.1 --port 7077 --webui-port 8089 >/tmp/master.log 2>&1 &
SPARK_DRIVER_BIND_ADDRESS=127.0.0.1 harmwatch-entrypoint driver --master spark://127.0.0.1:7077 \\
    --conf spark.driver.host=127.0.0.1 --conf spark.driver.port=7078 --conf spark.ui.enabled=false \\
    /probe/program.py >/tmp/driver.out 2>/tmp/driver.err &
driver=$!
for _ in $(seq 120); do grep -q "SchedulerBackend is ready" /tmp/driver.err && break; sleep 1; done
SPARK_EXECUTOR_MEMORY=512m SPARK_DRIVER_URL=spark://CoarseGrainedScheduler@127.0.0.1:7078 \\
SPARK_EXECUTOR_ID=7 SPARK_EXECUTOR_CORES=1 SPARK_APPLICATION_ID=probe SPARK_EXECUTOR_POD_IP=127.0.0.1 \\
SPARK_RESOURCE_PROFILE_ID=0 SPARK_EXECUTOR_POD_NAME=harmwatch-probe-exec-7 \\
SPARK_JAVA_OPT_0=-Djava.io.tmpdir=/tmp harmwatch-entrypoint executor >/tmp/executor.log 2>&1 &
wait "$driver" || { tail -20 /tmp/driver.err /tmp/executor.log >&2; exit 1; }
cat /tmp/driver.out
"""
HARDENED = ("--read-only", "--tmpfs=/tmp", "--tmpfs=/var/lib/harmwatch:mode=1777", "--cap-drop=ALL")


def spark_roles(job: str, probe: Path, extra: tuple[str, ...] = ()) -> tuple[dict, dict]:
    """(the summary of ``driver.py info`` run as a driver pod runs it, the probe's answer from a driver
    and an executor started from ``job``), both on a read-only root as UID 10001."""
    application = yaml.safe_load((REPO / "dags" / "spark" / "predict.yaml").read_text())["spec"]
    main = application["mainApplicationFile"]
    driver_env = ("--env=SPARK_DRIVER_BIND_ADDRESS=127.0.0.1",)
    info = run(job, "driver", "--master", "local[1]", main, "info", extra=(*HARDENED, *driver_env, *extra))
    (probe / "program.py").write_text(SPARK_PROGRAM)
    (probe / "cluster.sh").write_text(SPARK_CLUSTER)
    # The image runs as UID 10001: pytest's temporary folders are private to the user running the tests.
    probe.chmod(0o755)
    for name in ("program.py", "cluster.sh"):
        (probe / name).chmod(0o644)
    mounts = (f"--volume={probe}:/probe:ro", "--entrypoint=bash")
    answer = run(job, "/probe/cluster.sh", extra=(*HARDENED, *mounts, *extra))
    return json.loads(info.strip().splitlines()[-1]), json.loads(answer.strip().splitlines()[-1])


def test_job_image_runs_as_a_spark_driver_and_executor(images, tmp_path) -> None:
    info, answer = spark_roles(images["job"].ref, tmp_path)
    assert info["home"] == "/var/lib/harmwatch"  # harmwatch's driver program ran under spark-submit
    # Python tasks ran in the executor the entrypoint started (ID 7), registered with the driver.
    assert answer == {"sum": 999000, "executors": ["7"]}

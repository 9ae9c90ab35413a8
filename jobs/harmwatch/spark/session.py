"""One SparkSession per step, configured from :class:`harmwatch.config.Settings`.

``spark_master`` is ``local[N]`` on a laptop, in CI and in ``make demo``; in production the step runs
as the driver of a ``SparkApplication`` (``helm/.../spark/*.yaml``) and the master is left to
spark-submit (``HARMWATCH_SPARK_MASTER`` empty). Starting the JVM costs about 5 s, which is why
small inputs stay on pandas (:mod:`harmwatch.spark.engine`).

Lake paths are handed to Spark as the store gives them (``Store.spark_path``: a local folder or
``s3a://``). The PySpark wheel carries Hadoop's client jars but not ``hadoop-aws`` (the S3A connector)
nor the AWS SDK: an image that reads an S3 lake with Spark adds both jars to ``$SPARK_HOME/jars``
(docs/scaling.md).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from harmwatch.config import spark_launch_env
from harmwatch.errors import HarmwatchError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from harmwatch.config import Settings


# Adaptive query execution sizes every shuffle by its data: ``spark.sql.shuffle.partitions`` is the
# most a shuffle is cut into, and Spark coalesces what it wrote towards the advisory partition size
# (64 MiB) while keeping at least the default parallelism (``parallelismFirst``). So a day's small batch
# does not run 200 tasks, and a history of terabytes is not held to a handful of partitions.
ADAPTIVE = {
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    # A cached (persisted) plan may be coalesced too: without this, every stage reading a persisted
    # frame ran as many tasks as the ceiling (200 tasks for 56,000 rows in validate).
    "spark.sql.optimizer.canChangeCachedPlanOutputPartitioning": "true",
}
# When neither the submitted configuration nor the settings give ``spark.sql.shuffle.partitions``, a
# step sets it from its input (:func:`fit_partitions`): one partition per PARTITION_BYTES of Parquet
# read, rounded up to a multiple of the cores, so the ceiling adaptive execution coalesces from is the
# data's own size rather than Spark's fixed 200.
FIT_PARTITIONS = "spark.harmwatch.shuffle.fitToInput"
PARTITION_BYTES = 16 * 2**20
# The driver JVM's JIT and collector. A step's JVM lives for minutes and runs many short queries, each
# compiled to fresh Java code; C2's optimising compiles of them cost more CPU than they repay, so the
# JIT stops at C1 (measured in ``make bench``, section ``spark``). A submitted
# ``spark.driver.extraJavaOptions`` replaces these, as every submitted key does.
JVM_OPTIONS = "-XX:TieredStopAtLevel=1"
# spark-submit options that stand for a configuration key.
SUBMIT_FLAGS = {
    "--master": "spark.master",
    "--driver-memory": "spark.driver.memory",
    "--driver-java-options": "spark.driver.extraJavaOptions",
    "--driver-cores": "spark.driver.cores",
    "--executor-memory": "spark.executor.memory",
    "--executor-cores": "spark.executor.cores",
    "--num-executors": "spark.executor.instances",
}


def session_defaults(settings: Settings) -> dict[str, str]:
    """What harmwatch asks of every session unless the submitted configuration says otherwise."""
    local_dir = Path(settings.spark_local_dir)
    conf = {
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # Arrow batches to the Python workers stay small: bounded memory per worker, whatever the input.
        "spark.sql.execution.arrow.maxRecordsPerBatch": "20000",
        "spark.ui.enabled": "false",
        "spark.eventLog.enabled": "false",  # a cluster that keeps event logs submits its own setting
        "spark.local.dir": str(local_dir),
        "spark.driver.extraJavaOptions": (
            f"{JVM_OPTIONS} -Djava.io.tmpdir={local_dir} -Dderby.system.home={local_dir}"
        ),
        "spark.sql.warehouse.dir": str(local_dir / "warehouse"),
        # Parquet written here is read by pandas/pyarrow readers too: plain microsecond timestamps.
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        # build-dataset keeps every table as a checkpoint on local disk, written and read back through
        # this serializer: with Java's, its object streams took about 8 % of the JVM's CPU at 16x.
        "spark.serializer": "org.apache.spark.serializer.KryoSerializer",
        **ADAPTIVE,
    }
    if "spark_shuffle_partitions" in settings.model_fields_set:  # given, not the field's default
        conf["spark.sql.shuffle.partitions"] = str(settings.spark_shuffle_partitions)
    return conf


def jvm_running() -> bool:
    """Whether this process already has Spark's JVM: started by spark-submit (which hands the Python
    driver its gateway port) or by an earlier session of this process."""
    from pyspark import SparkContext

    return SparkContext._gateway is not None or spark_launch_env()["gateway_port"] is not None


def _defaults_file() -> Path:
    from pyspark.find_spark_home import _find_spark_home

    conf_dir = spark_launch_env()["conf_dir"] or str(Path(_find_spark_home()) / "conf")
    return Path(conf_dir) / "spark-defaults.conf"


def _file_conf(path: Path) -> dict[str, str]:
    """``spark-defaults.conf``: one ``key value`` (or ``key=value``) a line, ``#`` comments."""
    if not path.is_file():
        return {}
    conf = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("spark.") and len(parts := re.split(r"[\s=]+", line, maxsplit=1)) == 2:
            conf[parts[0]] = parts[1].strip()
    return conf


def _submit_args_conf(args: str) -> dict[str, str]:
    """The configuration ``PYSPARK_SUBMIT_ARGS`` gives spark-submit (``--conf``, ``--properties-file``
    and the options that stand for a key)."""
    conf: dict[str, str] = {}
    words = shlex.split(args)
    for flag, value in itertools.pairwise(words):
        if flag in ("--conf", "-c") and "=" in value:
            key, _, val = value.partition("=")
            conf[key] = val
        elif flag == "--properties-file":
            conf = {**_file_conf(Path(value)), **conf}
        elif flag in SUBMIT_FLAGS:
            conf[SUBMIT_FLAGS[flag]] = value
    return conf


def fit_partitions(spark: SparkSession, input_bytes: int) -> int:
    """Set ``spark.sql.shuffle.partitions`` from the step's input size (``input_bytes`` of Parquet), unless
    it was submitted or given; the partition count in force."""
    if spark.conf.get(FIT_PARTITIONS, "false") == "true":
        cores = max(1, spark.sparkContext.defaultParallelism)
        wanted = max(cores, math.ceil(input_bytes / PARTITION_BYTES))
        spark.conf.set("spark.sql.shuffle.partitions", str(math.ceil(wanted / cores) * cores))
    return int(spark.conf.get("spark.sql.shuffle.partitions"))


def submitted_conf() -> dict[str, str]:
    """The configuration Spark was given before harmwatch asked for anything: ``spark-submit --conf``,
    ``spark-defaults.conf``, a SparkApplication's ``sparkConf`` and ``PYSPARK_SUBMIT_ARGS``.

    Under spark-submit the JVM is already up and holds them as ``spark.*`` system properties, so they
    are read from it. Otherwise they are read from the file and the variable, without starting the JVM:
    the JVM then starts once, with harmwatch's defaults for the keys left unset (its heap and JIT options
    can only be set at start)."""
    from pyspark import SparkConf, SparkContext

    if jvm_running():
        SparkContext._ensure_initialized()
        properties = dict(SparkConf(loadDefaults=True).getAll())
        if _LAUNCH is None:  # spark-submit started the JVM: its properties are what was submitted
            return properties
        # This process started the JVM (build_session), with the submitted configuration and harmwatch's
        # own choices as its properties: only the first, or a property set since, was submitted.
        at_start, submitted = _LAUNCH
        return {**submitted, **{k: v for k, v in properties.items() if at_start.get(k) != v}}
    args = _submit_args_conf(spark_launch_env()["submit_args"] or "")
    return {**_file_conf(_defaults_file()), **args}


# (JVM properties at start, configuration submitted then) when build_session started this process's JVM:
# PySpark launches it with the first session's configuration as properties, which a later session of the
# same process must not take for submitted ones.
_LAUNCH: tuple[dict[str, str], dict[str, str]] | None = None


def _remember_launch(submitted: dict[str, str]) -> None:
    from pyspark import SparkConf

    global _LAUNCH
    _LAUNCH = (dict(SparkConf(loadDefaults=True).getAll()), dict(submitted))


def build_session(settings: Settings, app: str) -> SparkSession:
    """A SparkSession for step ``app``: UTC, Arrow on, no UI, quiet logs, adaptive partitions, the
    settings' resources; whatever the submitted configuration sets wins over these defaults."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover - pyspark is a dependency of the package
        raise HarmwatchError("the Spark engine needs pyspark (pip install pyspark)") from None
    from harmwatch.config import configure_spark

    configure_spark()
    Path(settings.spark_local_dir).mkdir(parents=True, exist_ok=True)
    try:
        submitted = submitted_conf()
        builder = SparkSession.builder.appName(f"harmwatch-{app}")
        if settings.spark_master:  # empty under spark-submit, which then gives the master
            builder = builder.master(settings.spark_master)
        defaults = session_defaults(settings)
        fit = "spark.sql.shuffle.partitions" not in {**defaults, **submitted}
        defaults[FIT_PARTITIONS] = str(fit).lower()  # said either way: a JVM outlives its sessions
        for key, value in defaults.items():
            if key not in submitted:
                builder = builder.config(key, value)
        starting = not jvm_running()
        # The pyspark launcher turns the progress bar on for shells; a step's stderr is for its error line.
        spark = builder.config("spark.ui.showConsoleProgress", "false").getOrCreate()
        if starting:
            _remember_launch(submitted)
    except Exception as exc:  # no Java, a bad master URL: one line, not a JVM stack trace
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HarmwatchError(
            f"cannot start Spark (master {settings.spark_master or 'from spark-submit'}): {first}"
        ) from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


@contextlib.contextmanager
def spark_session(settings: Settings, app: str) -> Iterator[SparkSession]:
    """A session for one step, stopped when the step ends (the JVM exits with the process)."""
    spark = build_session(settings, app)
    try:
        yield spark
    finally:
        spark.stop()

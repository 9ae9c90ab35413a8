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
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

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
        "spark.local.dir": str(local_dir),
        "spark.driver.extraJavaOptions": f"-Djava.io.tmpdir={local_dir} -Dderby.system.home={local_dir}",
        "spark.sql.warehouse.dir": str(local_dir / "warehouse"),
        # Parquet written here is read by pandas/pyarrow readers too: plain microsecond timestamps.
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        **ADAPTIVE,
    }
    if "spark_shuffle_partitions" in settings.model_fields_set:  # given, not the field's default
        conf["spark.sql.shuffle.partitions"] = str(settings.spark_shuffle_partitions)
    return conf


def submitted_conf() -> dict[str, str]:
    """The configuration Spark was given before harmwatch asked for anything: ``spark-submit --conf``,
    ``spark-defaults.conf``, a SparkApplication's ``sparkConf`` (all reach the driver's JVM as
    ``spark.*`` system properties) and ``PYSPARK_SUBMIT_ARGS``. Starts (or joins) the JVM to read them."""
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized()
    return dict(SparkConf(loadDefaults=True).getAll())


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
        for key, value in session_defaults(settings).items():
            if key not in submitted:
                builder = builder.config(key, value)
        # The pyspark launcher turns the progress bar on for shells; a step's stderr is for its error line.
        spark = builder.config("spark.ui.showConsoleProgress", "false").getOrCreate()
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

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


def build_session(settings: Settings, app: str) -> SparkSession:
    """A SparkSession for step ``app``: UTC, Arrow on, no UI, quiet logs, the settings' resources."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover - pyspark is a dependency of the package
        raise HarmwatchError("the Spark engine needs pyspark (pip install pyspark)") from None
    from harmwatch.config import configure_spark

    configure_spark()
    local_dir = Path(settings.spark_local_dir)
    local_dir.mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder.appName(f"harmwatch-{app}")
    if settings.spark_master:
        builder = builder.master(settings.spark_master)
    conf = {
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # Arrow batches to the Python workers stay small: bounded memory per worker, whatever the input.
        "spark.sql.execution.arrow.maxRecordsPerBatch": "20000",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.local.dir": str(local_dir),
        "spark.driver.extraJavaOptions": f"-Djava.io.tmpdir={local_dir} -Dderby.system.home={local_dir}",
        "spark.sql.warehouse.dir": str(local_dir / "warehouse"),
        # Parquet written here is read by pandas/pyarrow readers too: plain microsecond timestamps.
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    }
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
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

"""The SparkSession a step builds: what was submitted to Spark wins, harmwatch's defaults fill only what
is unset, and shuffles are cut to the data's size by adaptive query execution.

spark-submit (and so a SparkApplication's ``sparkConf``, and ``spark-defaults.conf``) hands its
configuration to the driver's JVM as ``spark.*`` system properties; the tests set one the same way on
the JVM this test process already runs, so no second JVM is started.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from harmwatch.config import Settings
from harmwatch.spark.session import build_session

pytestmark = [pytest.mark.spark]


@contextlib.contextmanager
def submitted(key: str, value: str) -> Iterator[None]:
    """``--conf key=value`` as spark-submit delivers it: a system property of the driver's JVM."""
    from pyspark import SparkContext

    SparkContext._ensure_initialized()  # the JVM is up, as spark-submit starts it before the driver
    system = SparkContext._jvm.java.lang.System  # type: ignore[union-attr]
    system.setProperty(key, value)
    try:
        yield
    finally:
        system.clearProperty(key)


def test_submitted_configuration_wins_and_defaults_fill_the_rest(tmp_path, java) -> None:
    settings = Settings(home=str(tmp_path), spark_master="local[2]", spark_shuffle_partitions=3)
    with submitted("spark.sql.shuffle.partitions", "64"), submitted("spark.sql.session.timeZone", "CET"):
        spark = build_session(settings, "conf-test")
        try:
            assert spark.conf.get("spark.sql.shuffle.partitions") == "64"
            assert spark.conf.get("spark.sql.session.timeZone") == "CET"
            # What was not submitted comes from harmwatch's defaults.
            assert spark.conf.get("spark.sql.execution.arrow.pyspark.enabled") == "true"
            assert spark.conf.get("spark.sql.adaptive.coalescePartitions.enabled") == "true"
            assert spark.sparkContext.master == "local[2]"
        finally:
            spark.stop()
    spark = build_session(settings, "conf-test")  # nothing submitted: the setting, given, applies
    try:
        assert spark.conf.get("spark.sql.shuffle.partitions") == "3"
        assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    finally:
        spark.stop()


def test_shuffles_follow_the_size_of_the_data(tmp_path, java) -> None:
    """Not given anywhere, the partition count is a ceiling (Spark's 200) that adaptive execution
    coalesces: a small group-by runs in one task, a larger one in as many as its bytes ask for."""
    from pyspark.sql import functions as F

    spark = build_session(Settings(home=str(tmp_path), spark_master="local[2]"), "partitions-test")
    try:
        assert spark.conf.get("spark.sql.shuffle.partitions") == "200"

        def partitions(rows: int) -> int:
            frame = spark.range(rows).select(
                (F.col("id") % 100_000).alias("k"), F.sha2(F.col("id").cast("string"), 256).alias("h")
            )
            return frame.groupBy("k").agg(F.max("h")).rdd.getNumPartitions()

        assert partitions(1_000) <= 2
        spark.conf.set("spark.sql.adaptive.advisoryPartitionSizeInBytes", "256k")  # a large input, scaled
        large = partitions(400_000)
        assert 8 < large < 200, large
    finally:
        spark.stop()


def test_partitions_follow_the_input_unless_given(tmp_path, java) -> None:
    """Not submitted nor given: a step sets the partition count from the bytes it reads (one per
    PARTITION_BYTES, a multiple of the cores); submitted or given, it is left alone."""
    from harmwatch.spark.session import PARTITION_BYTES, fit_partitions

    spark = build_session(Settings(home=str(tmp_path), spark_master="local[2]"), "fit-test")
    try:
        assert fit_partitions(spark, 1_000) == 2  # at least one per core
        assert fit_partitions(spark, 5 * PARTITION_BYTES) == 6
        assert spark.conf.get("spark.sql.shuffle.partitions") == "6"
    finally:
        spark.stop()
    given = Settings(home=str(tmp_path), spark_master="local[2]", spark_shuffle_partitions=3)
    spark = build_session(given, "fit-test")
    try:
        assert fit_partitions(spark, 50 * PARTITION_BYTES) == 3
    finally:
        spark.stop()
    with submitted("spark.sql.shuffle.partitions", "64"):
        spark = build_session(Settings(home=str(tmp_path), spark_master="local[2]"), "fit-test")
        try:
            assert fit_partitions(spark, 50 * PARTITION_BYTES) == 64
        finally:
            spark.stop()


LATER_SESSION = """
import sys
from harmwatch.config import Settings
from harmwatch.spark.session import build_session, fit_partitions

home = sys.argv[1]
first = build_session(Settings(home=home, spark_master="local[2]", spark_shuffle_partitions=5), "first")
first.stop()
later = build_session(Settings(home=home, spark_master="local[2]"), "later")
print(fit_partitions(later, 1_000), later.conf.get("spark.sql.shuffle.partitions"))
later.stop()
"""


def test_a_later_session_of_the_process_does_not_take_the_first_ones_settings_for_submitted(
    tmp_path, java
) -> None:
    """PySpark starts the JVM with the first session's configuration as its properties; in a fresh
    process (this one's JVM may already run), a second session that gives no partition count still fits
    it to its input rather than keeping the first session's 5 as if it had been submitted."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", LATER_SESSION, str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-2:] == ["2", "2"], proc.stdout

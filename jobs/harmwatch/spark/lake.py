"""Spark reads and writes of committed lake folders, under the same manifest contract as pandas.

A folder Spark writes holds ``part-*.parquet`` files; the manifest written last lists them, so readers
(pandas :mod:`harmwatch.data.tables` or Spark :func:`read_committed`) see a run only once it is whole.
Rows are written sorted by their lineage (``source_file``, ``source_line``) where they have one, in
part files whose names sort in that order: a reader gets the rows in the order the pandas engine writes
them, so "first" and "earliest" mean the same on both engines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from harmwatch.storage import Store


def write_folder(
    frame: DataFrame, lake: Store, prefix: str, order: list[str] | None = None, files: int | None = None
) -> list[str]:
    """Write ``frame`` as the Parquet files of ``prefix`` (replacing an uncommitted attempt); their names."""
    if files == 1 and order:  # one file: one task sorts it, without sampling and shuffling for a range sort
        frame = frame.coalesce(1).sortWithinPartitions(*order)
    else:
        if order:
            frame = frame.orderBy(*order)
        if files is not None:
            frame = frame.coalesce(files)
    frame.write.mode("overwrite").parquet(lake.spark_path(prefix))
    return sorted(
        o.key.rsplit("/", 1)[-1]
        for o in lake.list(prefix)
        if o.key.endswith(".parquet") and "/" not in o.key[len(prefix.strip("/")) + 1 :]
    )


def commit_folder(
    frame: DataFrame,
    lake: Store,
    prefix: str,
    meta: dict[str, Any],
    order: list[str] | None = None,
    files: int | None = None,
) -> dict:
    """:func:`write_folder`, then the manifest (written last) listing the files."""
    names = write_folder(frame, lake, prefix, order, files)
    return lake.commit(prefix, names, meta)


def read_runs(spark: SparkSession, lake: Store, manifests: list[dict]) -> DataFrame | None:
    """The Parquet rows of the given committed runs (None when they hold no file)."""
    paths = [
        lake.spark_path(f"{m['prefix']}/{f['name']}")
        for m in manifests
        for f in m.get("files", [])
        if f["name"].endswith(".parquet")
    ]
    if not paths:
        return None
    return spark.read.parquet(*paths)

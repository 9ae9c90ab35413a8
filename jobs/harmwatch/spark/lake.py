"""Spark reads and writes of committed lake folders, under the same manifest contract as pandas.

A folder Spark writes holds ``part-*.parquet`` files; the manifest written last lists them, so readers
(pandas :mod:`harmwatch.data.tables` or Spark :func:`read_committed`) see a run only once it is whole.
Rows are written sorted by their lineage (``source_file``, ``source_line``) where they have one, in
part files whose names sort in that order: a reader gets the rows in the order the pandas engine writes
them, so "first" and "earliest" mean the same on both engines.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

from harmwatch.storage import StorageError

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


def write_one_file(frame: DataFrame, lake: Store, key: str, order: list[str]) -> None:
    """``frame`` as the one Parquet file ``key``, sorted by ``order``, written by one Spark task (the rows
    never pass through the driver): a folder beside it with one part file, which then becomes ``key``."""
    parts = f"{key}.parts"
    names = write_folder(frame, lake, parts, order, files=1)
    if len(names) != 1:
        raise StorageError(f"{lake.url(parts)}: Spark wrote {len(names)} Parquet files for one")
    lake.move(f"{parts}/{names[0]}", key)
    for leftover in lake.list(parts):  # Spark's _SUCCESS marker and checksums
        lake.delete(leftover.key)
    folder = lake.local_path(parts)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


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

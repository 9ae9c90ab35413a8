"""build-dataset's SQL decisions (``data/sql/``) on Spark SQL: the same files the embedded engine runs.

The files are written in DuckDB's dialect; SQLGlot translates each one for Spark (``sha256`` becomes
``sha2(.., 256)``, ordered ``string_agg`` becomes ``listagg .. within group``, default null ordering made
explicit). Each table is a temporary view over the query, materialised once and cut from its lineage
(``localCheckpoint``), so a
table read by several later files is computed once, as on DuckDB. The inputs are the validated runs'
Parquet files with the text key (the one Python definition, as an Arrow UDF) and ``_row``, the position
a reader meets a row at (file index, row index in the file): the same tie-breaker DuckDB and pandas use.
"""

from __future__ import annotations

from functools import cache, reduce
from typing import TYPE_CHECKING, Any

import pandas as pd

from harmwatch.data.relational import EngineTrain, ReviewQueue

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


# ``kh`` on Spark (:data:`harmwatch.data.relational.TEXT_ID`): its native 64-bit hash, checked by its
# 32-bit Murmur3 (a nullable ``kh`` keeps ``NOT IN`` a null-aware, broadcast anti-join: a plain one
# shuffled the whole labelled table at 16x).
TEXT_ID = "CASE WHEN key IS NOT NULL THEN xxhash64(key) END"
CHECK_ID = "hash(key)"


@cache
def to_spark(sql: str) -> str:
    """One query of ``data/sql/`` in Spark SQL, its join hints kept (:func:`_keep_hints`)."""
    import sqlglot

    return _keep_hints(sqlglot.parse_one(sql, read="duckdb")).sql(dialect="spark")


def _keep_hints(tree: Any) -> Any:
    """A ``/*+ BROADCAST(..) */`` after a ``SELECT`` made Spark's hint again: DuckDB reads it as a comment
    (it chooses its joins itself), and SQLGlot, reading DuckDB's dialect, keeps it as one."""
    import sqlglot
    from sqlglot import exp

    for select in tree.find_all(exp.Select):
        hints = [c for c in select.comments or [] if c.lstrip().startswith("+")]
        if hints:
            select.comments = [c for c in select.comments if c not in hints]
            text = ", ".join(h.lstrip()[1:].strip() for h in hints)
            select.set("hint", sqlglot.parse_one(f"SELECT /*+ {text} */ 1", read="spark").args["hint"])
    return tree


def _spark_type(dtype: Any) -> str:
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "bigint"
    if pd.api.types.is_float_dtype(dtype):
        return "double"
    return "string"


def _register_functions(spark: SparkSession) -> None:
    """The plan's Python functions as vectorised UDFs (run on the executors), by the names its SQL calls."""
    from pyspark.sql.functions import pandas_udf

    from harmwatch.data.cohorts import poisson_tail

    def tail(shared: pd.Series, expected: pd.Series) -> pd.Series:
        return pd.Series(poisson_tail(shared.to_numpy(), expected.to_numpy()), index=shared.index)

    spark.udf.register("poisson_tail", pandas_udf(tail, "double"))


class SparkSQL:
    """The plan's engine on a SparkSession (:class:`harmwatch.data.relational.Engine`)."""

    def __init__(self, spark: SparkSession, store: Any = None) -> None:
        self.spark, self.store = spark, store
        self.text_id, self.check_id = TEXT_ID, CHECK_ID  # ``kh`` (the key after a collision: EXACT_ID)
        self.input_bytes = 0  # Parquet read so far: the shuffles are sized from it
        # Constraint propagation through a UNION of checkpointed tables fails inside Catalyst (PySpark
        # 4.3: "key not found" in Union.rewriteConstraints); the plan needs none of its inferred filters.
        spark.conf.set("spark.sql.constraintPropagation.enabled", "false")
        _register_functions(spark)

    def location(self, key: str) -> str | None:
        """Where Spark reads a lake file (a local folder, or ``s3a://`` with the S3A connector)."""
        return self.store.spark_path(key) if self.store is not None else None

    def _view(self, name: str, frame: DataFrame) -> None:
        # Materialised and cut from its lineage: a persisted view keeps its whole plan, and the plans
        # of views built on views grow with every file (their text alone exhausted the driver's heap).
        from pyspark import StorageLevel

        self.spark.sparkContext.setJobDescription(f"table {name}")  # names its jobs in an event log
        # Kept on local disk, off the heap: Spark's default for a checkpoint holds every row as objects
        # on the heap, and at 16x the collector then spent a fifth of build-dataset's CPU marking them
        # (33 of 162 CPU-s; on disk 10 of 152, reading the rows back costing the rest).
        frame.localCheckpoint(eager=True, storageLevel=StorageLevel.DISK_ONLY).createOrReplaceTempView(name)

    def frame(self, name: str, frame: pd.DataFrame) -> None:
        schema = ", ".join(f"`{c}` {_spark_type(t)}" for c, t in frame.dtypes.items())
        rows = frame.astype(object).where(frame.notna(), None)
        self.spark.createDataFrame(rows.values.tolist(), schema).createOrReplaceTempView(name)

    def empty(self, name: str, columns: list[str]) -> None:
        schema = ", ".join(f"`{c}` string" for c in [*columns, "key"])
        schema += ", kh bigint, _row bigint"
        self.spark.createDataFrame([], schema).createOrReplaceTempView(name)

    def parquet(self, name: str, paths: list[str], columns: list[str]) -> None:
        """A keyed input table from Parquet files, with ``_row`` (file index, row index in the file)."""
        from pyspark.sql import functions as F
        from pyspark.sql.functions import pandas_udf

        from harmwatch.data.dataset import text_key
        from harmwatch.spark.session import fit_partitions

        key = pandas_udf(lambda s: text_key(s), "string")
        jvm = self.spark._jvm
        hadoop = self.spark._jsc.hadoopConfiguration()
        for path in paths:
            where = jvm.org.apache.hadoop.fs.Path(path)
            self.input_bytes += where.getFileSystem(hadoop).getContentSummary(where).getLength()
        fit_partitions(self.spark, self.input_bytes)
        parts = []
        for i, path in enumerate(paths):
            part = self.spark.read.parquet(path)
            # The key ingest stored with the row (no Python worker); a file written before it did is
            # keyed here by the same definition.
            stored = F.col("key") if "key" in part.columns else key("text")
            row = (F.lit(i) * F.lit(4294967296) + F.col("_metadata.row_index")).alias("_row")
            parts.append(part.select(*columns, stored.alias("key"), row))
        rows = reduce(lambda a, b: a.unionByName(b), parts).where(F.col("key") != "")
        self._view(name, rows.withColumn("kh", F.expr(self.text_id)))

    def identify(self, name: str, rows: str) -> None:
        """Input ``name``: the keyed rows of view ``rows`` with ``kh``."""
        from pyspark.sql import functions as F

        frame = self.spark.table(rows)
        self._view(name, frame.withColumn("kh", F.expr(self.text_id)))

    def table(self, name: str, sql: str) -> None:
        self._view(name, self.spark.sql(to_spark(sql)))

    def fetch(self, name: str, order: list[str] | None = None) -> pd.DataFrame:
        frame = self.spark.table(name).toPandas()
        if order:
            # Sorted here, as Spark orders (NULLs first): the rows come to this process either way,
            # and Spark's global sort samples, shuffles and sorts them first (every labelled row's
            # four columns for the recent slice: 7 CPU-s of tasks at 16x).
            frame = frame.sort_values(order, kind="stable", na_position="first", ignore_index=True)
        return frame

    def count(self, name: str) -> int:
        return int(self.spark.table(name).count())

    def view(self, name: str, select: str) -> None:
        """View ``name`` of ``select`` (DuckDB's dialect): read where it is used, not materialised."""
        self.spark.sql(to_spark(select)).createOrReplaceTempView(name)

    def query(self, sql: str) -> list[tuple]:
        """The rows of a query (DuckDB's dialect) with a small result (counts, a row per label)."""
        return [tuple(row) for row in self.spark.sql(to_spark(sql)).collect()]

    def keys_of_file(self, name: str, store: Any, key: str) -> None:
        """View ``name``: the ``key`` column of Parquet file ``key`` of ``store``, read by Spark."""
        self.spark.read.parquet(store.spark_path(key)).select("key").createOrReplaceTempView(name)

    def write(self, store: Any, key: str, select: str, order: list[str]) -> None:
        """The rows of ``select`` (DuckDB's dialect) as Parquet file ``key`` of ``store``, sorted by
        ``order`` and written by one task (:func:`harmwatch.spark.lake.write_one_file`)."""
        from harmwatch.spark.lake import write_one_file

        write_one_file(self.spark.sql(to_spark(select)), store, key, order)

    def sorted_lines_version(self, select: str) -> str:
        """:func:`harmwatch.data.dataset.content_version` of the lines ``select`` gives (one ``line``
        column), sorted by one Spark task and streamed to the driver (it holds a digest, not the lines):
        a global sort would hand them over one job per partition, and each Spark job costs about 0.35
        CPU-s."""
        from harmwatch.data.dataset import version_of_sorted_lines

        lines = self.spark.sql(to_spark(select)).coalesce(1).sortWithinPartitions("line")
        return version_of_sorted_lines(row[0] for row in lines.toLocalIterator())

    def score_champion(self, uri: str, texts: str = "pending_texts") -> int:
        """Table ``champion_scores`` (key, label, p): the registered version at ``uri`` scores view
        ``texts`` in the executors' Python workers, loaded once per worker; the rows scored."""
        import tempfile
        from pathlib import Path

        from harmwatch.spark.scoring import Counters, class_scores

        counters = Counters.new(self.spark)
        with tempfile.TemporaryDirectory(prefix="harmwatch-champion-") as tmp:
            frame = class_scores(self.spark, self.spark.table(texts), uri, Path(tmp), counters)
            self._view("champion_scores", frame)  # materialised now, while the model folder exists
        return int(counters.rows.value)


class SparkTrain(EngineTrain):
    """The training snapshot as Spark's view ``train``, held out, counted, hashed and written on the
    executors as DuckDB keeps it in its engine (:class:`harmwatch.data.relational.EngineTrain`): one row
    per text, the largest output, it never comes to the driver."""

    def review(self) -> SparkReview:
        """The review queue, kept by Spark as the snapshot is."""
        return SparkReview(self.engine)


class SparkReview(ReviewQueue):
    """The review queue kept by Spark (:class:`harmwatch.data.relational.ReviewQueue`: the same view,
    columns and types as on DuckDB), counted, hashed and written on the executors. Its spreadsheet CSV
    is made from the written Parquet file by DuckDB in this process, which streams the file
    (:func:`harmwatch.data.exports.parquet_to_spreadsheet_csv`): the CSV the embedded engine writes."""

    STRING, DOUBLE = "string", "double"
    INTEGERS = frozenset({"tinyint", "smallint", "int", "bigint"})

    def types_of(self, table: str) -> dict[str, str]:
        return dict(self.engine.spark.table(table).dtypes)

    def ident(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def view(self, select: str) -> None:  # in Spark's dialect already (its types and quotes)
        self.engine.spark.sql(select).createOrReplaceTempView("review_queue")

    def write(self, store: Any, prefix: str) -> list[str]:
        """The queue as ``prefix``'s Parquet file, sorted by key, and its spreadsheet-safe CSV."""
        from harmwatch.data.catalog import REVIEW_CSV, REVIEW_FILE
        from harmwatch.data.exports import parquet_to_spreadsheet_csv

        key = f"{prefix}/{REVIEW_FILE}"
        self.engine.write(store, key, "SELECT * FROM review_queue", ["key"])
        parquet_to_spreadsheet_csv(store, key, f"{prefix}/{REVIEW_CSV}")
        return [REVIEW_FILE, REVIEW_CSV]

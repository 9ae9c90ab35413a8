"""Which engine runs a data step: one process, or Spark.

In one process (``duckdb``; ``pandas`` is another name for it) ingest parses each landing file in Python
and validate and build-dataset run their SQL on DuckDB; on Spark the same parsing runs per file in Spark
tasks and the same SQL on Spark SQL. Measured on this project's 2-core machine (docs/scaling.md): a
SparkSession costs about 5 s to start, so on the daily batches of ``make demo`` (a few MB) one process is
several times faster; Spark wins once the input no longer fits one process comfortably. With
``engine=auto`` a step picks Spark when its input exceeds ``spark_above_bytes``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from harmwatch.config import Settings

ENGINES = ("auto", "pandas", "duckdb", "spark")


def add_engine_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        help="duckdb (one process; pandas is another name for it), spark, or auto by input size "
        "(default: settings.engine, HARMWATCH_ENGINE)",
    )


def choose(settings: Settings, requested: str | None, input_bytes: int, local: str = "pandas") -> str:
    """``spark``, or ``local`` (the name the step's summary gives its one-process engine) for a step whose
    input is ``input_bytes`` big: as asked, or with ``auto`` Spark above ``spark_above_bytes``."""
    engine = requested or settings.engine
    if engine == "auto":
        engine = "spark" if input_bytes > settings.spark_above_bytes else local
    return "spark" if engine == "spark" else local


def manifest_bytes(manifests: list[dict]) -> int:
    """Bytes of the files the given committed runs hold (from their manifests, no reads)."""
    return sum(int(f.get("bytes", 0)) for m in manifests for f in m.get("files", []))

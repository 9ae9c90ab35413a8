"""Which engine runs a data step: pandas in one process, or Spark.

Measured on this project's 2-core machine (docs/scaling.md): a SparkSession costs about 5 s to start and
Great Expectations on Spark adds seconds per suite, so on the daily batches of ``make demo`` (a few MB)
pandas is several times faster; Spark wins once the input no longer fits one process comfortably. With
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
        help="pandas, duckdb, spark, or auto by input size (default: settings.engine, HARMWATCH_ENGINE)",
    )


def choose(settings: Settings, requested: str | None, input_bytes: int, local: str = "pandas") -> str:
    """``pandas``, ``duckdb`` or ``spark`` for a step whose input is ``input_bytes`` big; ``local``: the
    step's engine in one process, which ``auto`` picks below ``spark_above_bytes``."""
    engine = requested or settings.engine
    if engine == "auto":
        return "spark" if input_bytes > settings.spark_above_bytes else local
    return engine


def manifest_bytes(manifests: list[dict]) -> int:
    """Bytes of the files the given committed runs hold (from their manifests, no reads)."""
    return sum(int(f.get("bytes", 0)) for m in manifests for f in m.get("files", []))

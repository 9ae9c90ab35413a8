"""Scoring on Spark with a registered model that was checked before anything of it was deserialised.

The driver downloads and checks the version (:func:`harmwatch.registry.download_verified`) and ships the
folder to the executors with ``SparkContext.addFile``; each Python worker checks the folder's digest
again and loads it once (:mod:`harmwatch.model.trusted`), then scores its batches. MLflow's
``spark_udf`` is not used: it deserialises whatever the artifact's ``MLmodel`` describes.

Spark's accumulators count what the workers did (:class:`Counters`): rows scored and models loaded. A
plan that ran the UDF twice over a post (a sort after it, a second action) shows as more rows scored
than posts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

CONTRACT = "label string, harmful_score double"  # the contract columns predict keeps

_LOADED: dict[tuple[str, str], Any] = {}  # per Python worker: (folder name, digest) -> fitted pipeline


@dataclass(frozen=True)
class Counters:
    """Spark accumulators of one scoring UDF, summed over every task attempt that ran it."""

    rows: Any  # pyspark Accumulator[int]: rows the UDF scored
    loads: Any  # pyspark Accumulator[int]: times a Python worker loaded the model

    @classmethod
    def new(cls, spark: SparkSession) -> Counters:
        return cls(spark.sparkContext.accumulator(0), spark.sparkContext.accumulator(0))


def shipped_model(folder_name: str, digest: str, label: str, loads: Any = None) -> Any:
    """The model shipped as ``folder_name``, checked and loaded once per Python worker (``loads``, an
    accumulator, counts the loads)."""
    key = (folder_name, digest)
    if key not in _LOADED:
        if loads is not None:
            loads.add(1)
        from pyspark import SparkFiles

        from harmwatch.model.trusted import load_model_dir

        _LOADED[key] = load_model_dir(Path(SparkFiles.get(folder_name)), digest, label)
    return _LOADED[key]


def ship(spark: SparkSession, uri: str, workdir: Path) -> tuple[str, str, str]:
    """Download and check the version at ``uri`` into ``workdir`` and ship its folder to the executors:
    (the folder's name, its digest, its label), what :func:`shipped_model` loads it by."""
    from harmwatch.registry import download_verified

    folder, digest, label = download_verified(uri, workdir)
    spark.sparkContext.addFile(str(folder), recursive=True)
    return folder.name, digest, label


def scoring_udf(spark: SparkSession, uri: str, workdir: Path, counters: Counters) -> Any:
    """A pandas UDF (text -> struct of ``label``, ``harmful_score``) scoring with the version at ``uri``;
    ``counters`` count the rows it scores and the model loads."""
    from pyspark.sql.functions import pandas_udf

    name, digest, label = ship(spark, uri, workdir)

    @pandas_udf(CONTRACT)  # type: ignore[call-overload]
    def score(text: pd.Series) -> pd.DataFrame:
        model = shipped_model(name, digest, label, counters.loads)
        counters.rows.add(len(text))
        scored = model.predict(pd.DataFrame({"text": text.astype(str).to_numpy()}))
        return scored[["label", "harmful_score"]].reset_index(drop=True)

    return score


CLASS_SCORES = "key string, label string, p double"  # relational.long_scores' columns


def class_scores(spark: SparkSession, texts: Any, uri: str, workdir: Path, counters: Counters) -> Any:
    """The version at ``uri``'s ``score_<class>`` of each row of ``texts`` (a DataFrame of ``key`` and
    ``text``) as rows (key, label, p), scored in the Python workers; ``counters`` count rows and loads."""
    from harmwatch.data.relational import long_scores

    name, digest, label = ship(spark, uri, workdir)

    def score(batches: Any) -> Any:
        for batch in batches:
            model = shipped_model(name, digest, label, counters.loads)
            counters.rows.add(len(batch))
            scored = model.predict(pd.DataFrame({"text": batch["text"].astype(str).to_numpy()}))
            yield long_scores(scored.assign(key=batch["key"].to_numpy()))

    return texts.select("key", "text").mapInPandas(score, CLASS_SCORES)

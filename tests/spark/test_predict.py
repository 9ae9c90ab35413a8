"""harmwatch predict: the day's new posts scored on Spark (local[2]) by the champion and, in shadow, the
challenger, both by alias, checked and shipped to the executors; predictions committed to the lake;
a rerun scores nothing twice; drift and metrics read the stored predictions.

The commands run in this process (``harmwatch``'s own entry point, as in the parity tests), so every
Spark step reuses the JVM the test process already runs instead of starting one per command.
"""

from __future__ import annotations

import pandas as pd
import pytest

from harmwatch.config import CLASSES, settings_for
from harmwatch.data import catalog
from harmwatch.model.scoring import score_frame
from harmwatch.registry import configure_mlflow, load_registered
from harmwatch.storage import open_store
from tests.model.conftest import mlflow_globals_restored, write_validated_lake
from tests.spark.conftest import step

pytestmark = [pytest.mark.spark, pytest.mark.model]

HOME: dict[str, str] = {}  # the module's environment, set by the fixture


def ok(*args: str) -> dict:
    """``harmwatch ARGS`` in this process with the module's home; its summary (exit code 0 asserted)."""
    with mlflow_globals_restored():
        code, summary, err = step(HOME, *args)
    assert code == 0 and summary is not None, err[-3000:]
    return summary


@pytest.fixture(scope="module")
def scored(tmp_path_factory, source_csv, java):
    home = tmp_path_factory.mktemp("predict")
    HOME.update(HARMWATCH_HOME=str(home), HARMWATCH_SPARK_SHUFFLE_PARTITIONS="4")
    settings = settings_for(HOME)  # what the commands read
    write_validated_lake(source_csv, settings.lake_uri, days=1, limit=1500)
    ok("build-dataset")
    ok("train", "--n-jobs", "1")
    ok("promote", "--force", "--reason", "first champion for the predict test")
    ok("train", "--n-jobs", "1", "--retrain", "--sample-rows", "700")  # a different challenger
    first = ok("predict", "--date", "2026-01-02")
    again = ok("predict", "--date", "2026-01-02")
    ok("predict", "--date", "2026-01-01", "--no-shadow")  # the bulk day too: metrics reads every day
    yield settings, first, again


def test_new_posts_are_scored_by_champion_and_challenger_in_shadow(scored):
    settings, first, _ = scored
    assert first["model_version"] == "1" and first["challenger_version"] == "2"
    assert first["rows"] > 0 and 0 < first["flag_rate"] < 1 and 0 < first["challenger_flag_rate"] < 1
    assert 0 <= first["flag_disagreement"] <= first["label_disagreement"] <= 1
    # Spark's accumulators: each model scored each post once, and each Python worker (two in local[2])
    # loaded each model at most once.
    scoring = first["scoring"]
    assert scoring["champion_rows"] == scoring["challenger_rows"] == first["rows"], scoring
    assert 1 <= scoring["champion_loads"] <= 2 and 1 <= scoring["challenger_loads"] <= 2, scoring
    lake = open_store(settings.lake_uri)
    (manifest,) = lake.committed(catalog.predictions_day("2026-01-02"))
    rows = pd.concat(lake.read_parquet(f"{manifest['prefix']}/{f['name']}") for f in manifest["files"])
    assert len(rows) == first["rows"] == rows["post_id"].nunique()
    assert set(rows["label"]) <= set(CLASSES) and set(rows["challenger_label"]) <= set(CLASSES)
    assert (rows["model_version"] == "1").all() and (rows["challenger_version"] == "2").all()
    # The Spark UDF gives what the champion gives in this process, post for post.
    validated = pd.concat(
        lake.read_parquet(f"{m['prefix']}/{f['name']}")[["post_id", "text"]]
        for kind in catalog.KINDS
        for m in lake.committed(catalog.validated_runs(kind))
        for f in m["files"]
    )
    texts = validated.drop_duplicates("post_id").set_index("post_id")["text"]
    sample = rows.head(300)
    with mlflow_globals_restored():
        configure_mlflow(settings)
        model = load_registered(f"models:/{settings.model_name}/1")
    local = score_frame(model, pd.DataFrame({"text": texts.loc[sample["post_id"]].to_numpy()}), 500, 1)
    assert local["label"].tolist() == sample["label"].tolist()
    assert (local["harmful_score"].to_numpy() - sample["harmful_score"].to_numpy()).max() < 1e-9


def test_a_rerun_scores_nothing_twice(scored):
    _, _, again = scored
    assert again["rows"] == 0 and again["skipped"] == "nothing new"


def test_drift_and_metrics_read_the_stored_predictions(scored):
    drift = ok("drift", "--date", "2026-01-02", "--no-mlflow")
    assert drift.get("prediction_source") == "lake predictions", drift
    metrics = ok("metrics", "--date", "2026-01-02", "--no-mlflow")
    assert metrics["proactive_source"] == "lake predictions", metrics


def test_champion_check_on_spark_decides_as_on_duckdb(scored, monkeypatch):
    """build-dataset --champion-check (as the retrain DAG runs it) on both engines, with the champion of
    this module: on Spark the executors score the pending texts, which never come to the driver."""
    from harmwatch.data import relational, sql_build
    from harmwatch.spark.relational import SparkSQL

    same = ["train_version", "review_version", "reporters_version", "eval_version", "recent_version"]
    same += ["rows_train", "rows_review", "weak_labels_accepted", "review_from_reports", "champion_checked"]
    local_run = ok("build-dataset", "--champion-check", "--engine", "duckdb")

    def on_the_driver(*args: object) -> None:
        raise AssertionError("the Spark engine fetched or scored the pending texts in the driver")

    monkeypatch.setattr(relational, "pending_texts", on_the_driver)
    monkeypatch.setattr(sql_build, "champion_scores", on_the_driver)
    scored_rows: list[int] = []
    executors = SparkSQL.score_champion

    def counted(self: SparkSQL, uri: str, texts: str = "pending_texts") -> int:
        scored_rows.append(executors(self, uri, texts))
        return scored_rows[-1]

    monkeypatch.setattr(SparkSQL, "score_champion", counted)
    spark_run = ok("build-dataset", "--champion-check", "--engine", "spark")
    assert len(scored_rows) == 1 and scored_rows[0] > 0, scored_rows  # each pending text, on the executors
    assert local_run["champion_checked"] == "1" and spark_run["engine"] == "spark"
    assert {k: spark_run[k] for k in same} == {k: local_run[k] for k in same}

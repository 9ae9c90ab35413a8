"""Batch scoring: file handling with a stand-in model, then the real command against a small registered model
(local SQLite MLflow under an isolated HARMWATCH_HOME)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from harmwatch.config import CLASSES, load_settings
from harmwatch.errors import DataError
from harmwatch.model.scoring import score_frame
from harmwatch.model.textmodel import contract_frame
from harmwatch.steps.score import read_table
from tests.conftest import run_cli
from tests.model.conftest import write_validated_lake

CONTRACT = ["label", "harmful_score", *[f"score_{c}" for c in CLASSES]]


class StandIn:
    """Flags any text containing 'idiot'; records batch sizes."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        self.batches.append(len(frame))
        harmful = frame["text"].str.contains("idiot").to_numpy()
        proba = [[0.9, 0, 0, 0, 0, 0.1] if h else [0, 0, 0, 0, 0, 1.0] for h in harmful]
        return contract_frame(proba, CLASSES)


def test_score_frame_keeps_input_columns_in_order_and_batches():
    frame = pd.DataFrame(
        {"id": range(5), "text": ["idiot", "hello", "you idiot", "nice", "ok"]}, index=[10, 11, 12, 13, 14]
    )
    model = StandIn()
    out = score_frame(model, frame, batch_size=2)
    assert list(out.columns) == ["id", "text", *CONTRACT] and model.batches == [2, 2, 1]
    assert out["id"].tolist() == list(range(5))
    assert (out["label"] != "not_cyberbullying").tolist() == [True, False, True, False, False]


def test_read_table_errors_are_one_line_data_errors(tmp_path):
    (tmp_path / "no_text.csv").write_text("body\nhello\n")
    with pytest.raises(DataError, match="no 'text' column"):
        read_table(tmp_path / "no_text.csv")
    with pytest.raises(DataError, match="not found"):
        read_table(tmp_path / "missing.parquet")
    (tmp_path / "ok.csv").write_text('text\n"NA"\n""\n')
    assert read_table(tmp_path / "ok.csv")["text"].tolist() == ["NA", ""]


@pytest.mark.model
def test_score_command_with_a_registered_model(hw_env, source_csv, tmp_path):
    write_validated_lake(source_csv, load_settings().lake_uri, days=1, limit=2500)
    for step in (["build-dataset"], ["train", "--n-jobs", "1"]):
        proc = run_cli(*step)
        assert proc.returncode == 0, proc.stderr[-2000:]
    texts = pd.DataFrame({"post": [1, 2, 3], "text": ["what a lovely morning", "you stupid idiot", "NA"]})
    texts.to_parquet(tmp_path / "in.parquet")
    proc = run_cli(
        "score",
        "--input",
        str(tmp_path / "in.parquet"),
        "--output",
        str(tmp_path / "out.csv"),
        "--alias",
        "challenger",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["rows"] == 3 and summary["model_version"] == "1" and summary["alias"] == "challenger"
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert list(out.columns) == ["post", "text", *CONTRACT] and out["text"].tolist()[2] == "NA"
    assert set(out["label"]) <= set(CLASSES) and out["harmful_score"].between(0, 1).all()

    missing = run_cli("score", "--input", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "x.csv"))
    assert missing.returncode == 2 and "alias 'champion'" in missing.stderr
    assert missing.stderr.strip().count("\n") == 0

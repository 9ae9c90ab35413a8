"""Real posts for the drift tests: the cyberbullying CSV (with a stand-in model's predictions) and TweetEval.

The stand-in model (TF-IDF + logistic regression, trained on a fixed slice that the tests never use as
reference or current) plays the champion, so prediction drift is exercised without an MLflow registry.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.drift.helpers import stand_in_model, with_predictions

MODEL_ROWS = 5000


def read_tweeteval(folder: Path) -> pd.Series:
    lines: list[str] = []
    for split in ("train", "val", "test"):
        lines += (folder / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
    return pd.Series([t for t in lines if t.strip()], name="text")


@pytest.fixture(scope="session")
def posts(source_csv: Path, tweeteval_dir: Path) -> dict:
    """``cyber``: the real CSV minus the model's slice, with post_id and predictions; ``tweeteval``: same.
    ``model``: the stand-in champion (a fitted scikit-learn pipeline)."""
    raw = pd.read_csv(source_csv).rename(columns={"tweet_text": "text", "cyberbullying_type": "label"})
    raw["post_id"] = [f"p{i}" for i in range(len(raw))]
    order = np.random.default_rng(20260101).permutation(len(raw))
    model = stand_in_model(raw.iloc[order[:MODEL_ROWS]])
    cyber = with_predictions(model, raw.iloc[order[MODEL_ROWS:]].reset_index(drop=True))
    tweets = read_tweeteval(tweeteval_dir)
    frame = pd.DataFrame({"text": tweets, "post_id": [f"t{i}" for i in range(len(tweets))]})
    return {"cyber": cyber, "tweeteval": with_predictions(model, frame), "model": model}

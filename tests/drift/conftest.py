"""Real posts for the drift tests: the test half of the cyberbullying CSV (with a stand-in model's
predictions) and TweetEval.

The CSV is cut in two by a hash of each text (``tests/drift/scenarios.py``): the calibration half fixes the
drift thresholds (``bench/sections/drift_power.py``) and no test reads it. The stand-in model (TF-IDF +
logistic regression, trained on a fixed slice of the test half that the tests never use as reference or
current) plays the champion, so prediction drift is exercised without an MLflow registry.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.drift.helpers import with_predictions
from tests.drift.scenarios import Pools, load_pools, read_tweeteval

__all__ = ["read_tweeteval"]


@pytest.fixture(scope="session")
def pools(source_csv: Path, tweeteval_dir: Path) -> Pools:
    return load_pools(source_csv, tweeteval_dir)


@pytest.fixture(scope="session")
def posts(pools: Pools) -> dict:
    """``cyber``: the test half minus the model's slice, with post_id and predictions; ``tweeteval``: same.
    ``model``: the stand-in champion (a fitted scikit-learn pipeline)."""
    cyber = with_predictions(pools.model, pools.test[["text", "label", "post_id"]])
    tweets = with_predictions(pools.model, pools.foreign[["text", "post_id"]])
    return {"cyber": cyber, "tweeteval": tweets, "model": pools.model}

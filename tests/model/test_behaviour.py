"""Behaviour of the classifier that any good fit shows, on the small model fitted once in process
(``small_model``: 3,000 real posts, seconds): invariance to surface edits and a directional expectation
about the group a post targets. Checks that need the full-data model (its quality, the golden set's
floors, the size of its reaction to an insult) are in test_full_data_model.py."""

from __future__ import annotations

import pandas as pd
import pytest

from harmwatch.config import CLASSES

pytestmark = pytest.mark.model


@pytest.mark.parametrize(
    ("name", "perturb", "max_flips"),
    [
        ("link appended", lambda t: t + " https://t.co/x1Y2z3AbC9", 0.0),
        ("whitespace", lambda t: "  " + t.replace(" ", "   ") + "\n", 0.0),
        ("lower case", str.lower, 0.02),
        ("emoji appended", lambda t: t + " 😂", 0.06),
        ("exclamation appended", lambda t: t + "!", 0.06),
    ],
)
def test_invariance(small_model, held_out_probe, name, perturb, max_flips):
    """Surface edits must not change the label; a post the model is sure about (top score >= 0.8)
    must keep it, while near the other/not boundary a few flips are expected."""
    before = small_model.predict(held_out_probe[["text"]])
    after = small_model.predict(pd.DataFrame({"text": held_out_probe["text"].map(perturb)}))
    flipped = before["label"] != after["label"]
    sure = before[[f"score_{c}" for c in CLASSES]].max(axis=1) >= 0.8
    assert flipped.mean() <= max_flips, f"{name}: {flipped.mean():.1%} of labels flipped"
    assert flipped[sure].mean() <= 0.01, f"{name}: {flipped[sure].mean():.1%} of confident labels flipped"


def test_swapping_the_targeted_religion_keeps_hate_flagged(small_model):
    template = "{} are terrorists and every one of them should be kicked out of the country"
    groups = ["Muslims", "Christians", "Jews", "Hindus", "Sikhs", "Buddhists"]
    out = small_model.predict(pd.DataFrame({"text": [template.format(g) for g in groups]}))
    assert (out["harmful_score"] >= 0.5).all(), dict(zip(groups, out["harmful_score"].round(2), strict=True))

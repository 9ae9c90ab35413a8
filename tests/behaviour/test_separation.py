"""The behaviour suite never enters training and is separate from the other hand-written sets: no case
and no template is in the training data, the augmentation sources, the golden set or the fairness
templates (:func:`harmwatch.behaviour.overlaps`)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pandas as pd
import pytest

from harmwatch.behaviour import overlaps, suite_frame
from harmwatch.model import augmentation, fairness
from harmwatch.model.golden import golden_frame


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return suite_frame()


def test_suite_is_separate_from_the_golden_set_and_fairness_templates():
    others = [*fairness.NEUTRAL, *fairness.HOSTILE, *fairness.templates()["text"], *golden_frame()["text"]]
    assert overlaps(others) == []


def test_overlaps_finds_cases_and_templates_however_written(frame):
    case = frame.loc[frame["functionality"] == "threat", "text"].iloc[0]
    template = frame.loc[frame["functionality"] == "positive_statement", "template_text"].iloc[0]
    in_other_words = template.replace("{People}", "{Group}").replace("{people}", "{GROUP}")
    texts = [
        "a post about something else",
        "  " + case.upper().replace(" ", "   ") + " ",
        in_other_words,
        case.replace("'", "&#39;"),
        "  " + case.upper().replace(" ", "   ") + " ",
    ]
    assert overlaps(texts) == [texts[1], texts[2], texts[3]]
    assert overlaps([]) == []


def test_no_case_or_template_is_in_the_training_data(source_csv: Path):
    """The suite measures behaviour only while nothing of it was trained on: no tweet equals, holds or is
    held in a case or template (overlaps unescapes entities and collapses whitespace as the lake does)."""
    posts = pd.read_csv(source_csv, dtype=str, keep_default_na=False)["tweet_text"]
    assert overlaps(posts, contained=True) == []


def test_near_copies_are_found_when_asked(frame):
    template = "{People} are not a threat to anyone"
    assert template in set(frame["template_text"])
    longer = "Honestly, " + template.replace("{People}", "{Group}") + ", I mean it!"
    case = frame.loc[frame["functionality"] == "threat", "text"].iloc[0]
    texts = [longer, case + " today", "are the worst", "{Group} are the worst kind of neighbours"]
    assert overlaps(texts) == []
    assert overlaps(texts, contained=True) == [longer, case + " today"]


def test_augmentation_templates_are_not_suite_templates():
    """Every sentence of every augmentation source kept as a module (its templates), neither equal to
    nor a near copy of the suite's."""
    modules = [importlib.import_module(src["module"]) for src in augmentation.sources() if "module" in src]
    sentences = [
        text
        for module in modules
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, tuple)
        for text in value
        if isinstance(text, str)
    ]
    assert len(sentences) >= 50
    assert overlaps(sentences, contained=True) == []


def test_augmentation_rows_are_not_suite_cases(tweeteval_dir: Path):
    rows = augmentation.augmentation_frame(tweeteval=tweeteval_dir)
    assert set(rows["source"]) == {augmentation.TEMPLATES, augmentation.TWEETEVAL}
    assert overlaps(rows["text"], contained=True) == []

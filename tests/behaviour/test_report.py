"""The behaviour report's arithmetic on hand-made scores: scorers that flag everything, nothing, or one
keyword, and a six-case frame whose every figure is worked out by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from harmwatch.behaviour import (
    FUNCTIONALITIES,
    GROUPS,
    SUITE_VERSION,
    behaviour_report,
    markdown_table,
    suite_frame,
)
from harmwatch.config import CLASSES
from harmwatch.model.textmodel import contract_frame


def scored(harmful: np.ndarray, label: str = "religion") -> pd.DataFrame:
    """A pyfunc contract frame: ``harmful`` on class ``label``, the rest on not_cyberbullying."""
    proba = np.zeros((len(harmful), len(CLASSES)))
    proba[:, CLASSES.index("not_cyberbullying")] = 1 - harmful
    proba[:, CLASSES.index(label)] = harmful
    return contract_frame(proba, np.array(CLASSES))


@pytest.fixture(scope="module")
def cases() -> pd.DataFrame:
    return suite_frame()


def test_a_model_that_flags_everything(cases):
    report = behaviour_report(cases, scored(np.ones(len(cases))))
    assert report["suite_version"] == SUITE_VERSION and report["cases"] == len(cases)
    assert report["hateful"] == 1.0 and report["non_hateful"] == 0.0
    assert report["overall"] == round(cases["harmful"].mean(), 4)
    for name, row in report["functionalities"].items():
        assert row["right"] == (1.0 if FUNCTIONALITIES[name].harmful else 0.0)
        assert row["harmful"] is FUNCTIONALITIES[name].harmful
    assert set(report["groups"]) == set(GROUPS)
    for row in report["groups"].values():
        assert row["hateful_caught"] == 1.0 and row["neutral_positive_not_flagged"] == 0.0
    # Every case predicted "religion": right exactly for the religion cases among those with a class.
    with_class = cases[cases["label"] != ""]
    assert report["class_right"] == round((with_class["label"] == "religion").mean(), 4)
    assert report["worst_group"] == next(iter(GROUPS))  # all tie at 0.0: the first group
    assert not FUNCTIONALITIES[report["worst_functionality"]].harmful


def test_a_model_that_flags_nothing(cases):
    report = behaviour_report(cases, scored(np.zeros(len(cases))))
    assert report["hateful"] == 0.0 and report["non_hateful"] == 1.0
    assert all(g["neutral_positive_not_flagged"] == 1.0 for g in report["groups"].values())
    assert all(g["hateful_caught"] == 0.0 for g in report["groups"].values())
    benign = cases["label"] == "not_cyberbullying"
    assert report["class_right"] == round(benign.sum() / (cases["label"] != "").sum(), 4)


def test_a_model_that_flags_one_keyword(cases):
    """Flags every post with 'vermin' in it: right on those hateful cases, wrong on the counter-speech
    and negations that quote or deny it; figures checked against a plain groupby."""
    flags = cases["text"].str.lower().str.contains("vermin").to_numpy()
    report = behaviour_report(cases, scored(flags.astype(float)))
    right = flags == cases["harmful"].to_numpy()
    by_functionality = pd.Series(right).groupby(cases["functionality"].to_numpy()).mean().round(4)
    for name, row in report["functionalities"].items():
        assert row["right"] == by_functionality[name], name
    assert 0 < report["functionalities"]["derogation_dehumanising"]["right"] < 1
    assert report["functionalities"]["counter_speech_quote"]["right"] < 1
    assert report["functionalities"]["positive_statement"]["right"] == 1.0
    hateful = cases["harmful"].to_numpy()
    for gid, row in report["groups"].items():
        inside = (cases["group"] == gid).to_numpy()
        assert row["cases"] == inside.sum()
        assert row["hateful_caught"] == round(flags[inside & hateful].mean(), 4)
        assert row["right"] == round(right[inside].mean(), 4)
    assert report["overall"] == round(right.mean(), 4)
    assert report["hateful"] == round(flags[hateful].mean(), 4)


def test_every_figure_of_a_small_frame_by_hand():
    cases = pd.DataFrame(
        {
            "text": ["a", "b", "c", "d", "e", "f"],
            "functionality": [
                "threat",
                "threat",
                "neutral_statement",
                "positive_statement",
                "neutral_statement",
                "abuse_objects",
            ],
            "group": ["muslims", "trans", "muslims", "muslims", "trans", ""],
            "harmful": [True, True, False, False, False, False],
            "label": ["religion", "", "not_cyberbullying", "not_cyberbullying", "not_cyberbullying", ""],
        }
    )
    out = pd.DataFrame(
        {
            "harmful_score": [0.9, 0.2, 0.5, 0.1, 0.49, 0.7],
            "label": ["religion", "gender", "religion", "not_cyberbullying", "not_cyberbullying", "age"],
        }
    )
    report = behaviour_report(cases, out)
    # flagged: T F T F F T; right: T F F T T F
    assert (report["overall"], report["hateful"], report["non_hateful"]) == (0.5, 0.5, 0.5)
    assert report["class_right"] == 0.75  # a, c, d, e have a class; c is wrong
    assert report["functionalities"] == {
        "threat": {"cases": 2, "right": 0.5, "harmful": True},
        "neutral_statement": {"cases": 2, "right": 0.5, "harmful": False},
        "positive_statement": {"cases": 1, "right": 1.0, "harmful": False},
        "abuse_objects": {"cases": 1, "right": 0.0, "harmful": False},
    }
    assert report["groups"] == {
        "muslims": {"cases": 3, "right": 0.6667, "hateful_caught": 1.0, "neutral_positive_not_flagged": 0.5},
        "trans": {"cases": 2, "right": 0.5, "hateful_caught": 0.0, "neutral_positive_not_flagged": 1.0},
    }
    assert report["worst_functionality"] == "abuse_objects"
    assert report["worst_group"] == "muslims"
    assert json.loads(json.dumps(report)) == report


def test_bad_input_is_refused_with_one_clear_line(cases):
    with pytest.raises(ValueError, match="row-aligned"):
        behaviour_report(cases, scored(np.ones(len(cases) - 1)))
    with pytest.raises(ValueError, match="harmful_score"):
        behaviour_report(cases, pd.DataFrame({"score": np.ones(len(cases))}))


def test_markdown_table_shows_reports_side_by_side(cases):
    old = behaviour_report(cases, scored(np.ones(len(cases))))
    new = behaviour_report(cases, scored(np.zeros(len(cases))))
    text = markdown_table({"old champion": old, "new champion": new})
    lines = text.splitlines()
    assert lines[0] == "| | old champion | new champion |"
    assert "| hateful cases flagged | 1.00 | 0.00 |" in lines
    assert "| non-hateful cases left up | 0.00 | 1.00 |" in lines
    for name, f in FUNCTIONALITIES.items():
        count = int((cases["functionality"] == name).sum())
        expected = "1.00 | 0.00" if f.harmful else "0.00 | 1.00"
        assert f"| {name} | {'flag' if f.harmful else 'leave up'} | {count} | {expected} |" in lines
    for people in GROUPS.values():
        row = next(line for line in lines if line.startswith(f"| {people} |"))
        assert row.endswith("| 1.00 | 0.00 | 0.00 | 1.00 |")
    # Every table row has as many cells as its header.
    for block in text.strip().split("\n\n"):
        widths = {line.count("|") for line in block.splitlines()}
        assert len(widths) == 1, block

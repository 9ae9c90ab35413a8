"""The behaviour suite's cases: size, groups, functionalities, expected outcomes, stable ids, and the
docs that describe them."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from harmwatch.behaviour import FUNCTIONALITIES, GROUP_LABELS, GROUPS, SUITE_VERSION, suite_frame
from harmwatch.behaviour import suite as suite_module
from harmwatch.behaviour.functionalities import OPEN_CLASS
from harmwatch.behaviour.hateful import HATEFUL
from harmwatch.behaviour.suite import template_id
from harmwatch.config import BENIGN_CLASS, CLASSES

# What the moderation requirements name, in the suite's words (hate_negated_positive is their "negated
# hate", non_hate_negated_hate their "negated positive statements").
REQUIRED = {
    "derogation_emotion",
    "derogation_attributes",
    "derogation_dehumanising",
    "derogation_implicit",
    "threat",
    "slur",
    "hateful_profanity",
    "hate_negated_positive",
    "hate_question",
    "hate_opinion",
    "spelling_swapped_chars",
    "spelling_dropped_char",
    "spelling_added_char",
    "spelling_added_space",
    "spelling_leetspeak",
    "spelling_removed_spaces",
    "neutral_statement",
    "positive_statement",
    "non_hate_negated_hate",
    "counter_speech_quote",
    "counter_speech_reference",
    "non_hateful_profanity",
    "abuse_objects",
    "abuse_individual_action",
    "abuse_nonprotected_group",
    "reclaimed_slur",
}
OUTSIDE_TAXONOMY = {"disabled", "immigrants", "trans", "refugees"}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return suite_frame()


def test_columns_and_size(frame):
    assert list(frame.columns) == [
        "case_id",
        "text",
        "functionality",
        "group",
        "harmful",
        "label",
        "template",
        "template_text",
    ]
    assert frame["harmful"].dtype == bool
    assert len(frame) >= 2000
    assert frame["text"].is_unique, frame.loc[frame["text"].duplicated(), "text"].tolist()
    assert not frame["text"].str.contains(r"[{}]").any(), "a slot was left unfilled"


def test_groups_cover_the_taxonomy_and_beyond(frame):
    assert len(GROUPS) >= 12 and set(GROUPS) == set(GROUP_LABELS)
    assert set(frame["group"]) - {""} == set(GROUPS)
    assert set(GROUPS) >= OUTSIDE_TAXONOMY
    assert {g for g, label in GROUP_LABELS.items() if not label} == OUTSIDE_TAXONOMY
    assert {label for label in GROUP_LABELS.values() if label} == {"religion", "ethnicity", "gender", "age"}
    # Every group has enough neutral and positive statements for its own figure.
    np_cases = frame[frame["functionality"].isin(["neutral_statement", "positive_statement"])]
    assert np_cases["group"].value_counts().reindex(list(GROUPS)).min() >= 20


def test_every_functionality_is_present_and_documented(frame):
    assert set(FUNCTIONALITIES) >= REQUIRED
    counts = frame["functionality"].value_counts()
    assert set(counts.index) == set(FUNCTIONALITIES)
    assert counts.min() >= 40, counts[counts < 40].to_dict()
    for name, f in FUNCTIONALITIES.items():
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", name)
        assert f.description and "\n" not in f.description
    assert frame.groupby("functionality")["harmful"].nunique().eq(1).all()
    assert sum(f.harmful for f in FUNCTIONALITIES.values()) >= 10


def test_expected_labels(frame):
    hateful = frame[frame["harmful"]]
    assert (hateful["label"] == hateful["group"].map(GROUP_LABELS)).all()
    assert (hateful.loc[hateful["group"].isin(OUTSIDE_TAXONOMY), "label"] == "").all()
    assert hateful["group"].ne("").all(), "every hateful case targets a group"
    benign = frame[~frame["harmful"]]
    open_class = benign["functionality"].isin(OPEN_CLASS)
    assert (benign.loc[~open_class, "label"] == BENIGN_CLASS).all()
    assert (benign.loc[open_class, "label"] == "").all()
    assert set(frame["label"]) - {""} <= set(CLASSES)


def test_group_templates_are_filled_with_every_group(frame):
    slotted = frame[frame["template_text"].str.contains("{people}", case=False, regex=False)]
    per_template = slotted.groupby("template")["group"].agg(lambda g: frozenset(g))
    assert per_template.eq(frozenset(GROUPS)).all()
    for row in slotted.drop_duplicates("template").itertuples():
        phrase = GROUPS[row.group]
        if row.functionality == "spelling_removed_spaces":
            phrase = phrase.replace(" ", "")
        assert phrase.lower() in row.text.lower()


def test_ids_are_unique_and_derived_from_content(frame):
    assert frame["case_id"].is_unique
    templates = frame.drop_duplicates("template")
    assert templates["template_text"].is_unique, "a template is written twice"
    plain = templates["template_text"].str.lower().str.split().str.join(" ")
    assert plain.is_unique, "two templates differ only in case or spacing"
    for row in templates.itertuples():
        assert row.template == template_id(row.functionality, row.template_text)
    assert frame.groupby("template")["template_text"].nunique().eq(1).all()
    assert (frame["case_id"].str.split("/").str[0] == frame["template"]).all()
    # Pinned: an id must not change when other templates are added, removed or reordered.
    pinned = frame.set_index("case_id")
    assert pinned.loc["hate_question.b57ce990/women", "text"] == (
        "How much longer do we have to tolerate women living among us?"
    )
    assert pinned.loc["non_hate_negated_hate.0d9a7c09/jews", "text"] == "Jews are not vermin"


def test_suite_version_follows_the_content(monkeypatch):
    assert re.fullmatch(r"[0-9a-f]{16}", SUITE_VERSION)
    assert suite_module._version() == SUITE_VERSION
    suite_module._cases.cache_clear()
    monkeypatch.setitem(HATEFUL, "threat", (*HATEFUL["threat"], "{People} will be dragged out of town"))
    try:
        assert suite_module._version() != SUITE_VERSION
    finally:
        suite_module._cases.cache_clear()


def test_the_docs_show_the_suite_as_it_is(frame, repo_root: Path):
    """docs/behaviour.md's counts and tables are the suite's: a case added is a number to update."""
    text = (repo_root / "docs" / "behaviour.md").read_text()
    hateful = int(frame["harmful"].sum())
    summary = f"It holds {len(frame)} cases ({hateful} hateful, {len(frame) - hateful} non-hateful)"
    assert f"{summary} from {frame['template'].nunique()} templates." in text
    row = re.compile(r"^\| `([a-z_]+)` \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$", re.M)
    rows = {m[0]: m[1:] for m in row.findall(text)}
    counts = frame["functionality"].value_counts()
    for name, f in FUNCTIONALITIES.items():
        assert rows[name] == ("flag" if f.harmful else "leave up", str(counts[name]), f.description), name
    per_group = frame["group"].value_counts()
    for gid, people in GROUPS.items():
        assert rows[gid] == (people, GROUP_LABELS[gid] or "none", str(per_group[gid])), gid

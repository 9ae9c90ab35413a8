"""Augmentation sources: well-formed templates, versions that follow the content, the frame train adds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harmwatch.config import CLASSES
from harmwatch.model import augmentation as aug
from harmwatch.model.augmentation_sources import templates as tpl


def test_templates_are_well_formed_and_cover_every_group():
    frame = aug.template_rows()
    assert set(frame["label"]) <= set(CLASSES) and frame["text"].is_unique
    assert not frame["text"].str.contains(r"[{}]").any(), "a slot was left unfilled"
    for items in (tpl.GROUP_NEUTRAL, tpl.COUNTER_SPEECH, tpl.NEGATED, tpl.GROUP_HOSTILE):
        assert all("{people}" in t.lower() for t in items)
    grouped = frame[frame["group"] != ""]
    assert set(grouped["group"]) == set(tpl.GROUPS)
    # every group is named in benign and in hostile posts, so the name alone cannot carry the label
    both = grouped.groupby("group")["label"].agg(
        lambda s: {"benign": (s == "not_cyberbullying").any(), "harmful": (s != "not_cyberbullying").any()}
    )
    assert all(v["benign"] and v["harmful"] for v in both)
    hostile = grouped[grouped["kind"] == "hostile"]
    assert (hostile["label"] == hostile["group"].map(lambda g: tpl.GROUPS[g][1])).all()


def test_frame_has_the_interface_columns():
    frame = aug.augmentation_frame(weight=2.0)
    assert list(frame.columns)[:4] == ["text", "label", "source", "weight"]
    assert (frame["source"] == aug.TEMPLATES).all() and (frame["weight"] == 2.0).all()
    (src,) = aug.sources()
    assert src["name"] == aug.TEMPLATES and src["rows"] == len(frame) and src["module"] == aug.TEMPLATE_MODULE
    assert len(src["version"]) == 64


def test_template_version_changes_with_content(monkeypatch):
    before = aug.sources()[0]["version"]
    monkeypatch.setattr(tpl, "PROFANITY", (*tpl.PROFANITY, "Damn this coffee is strong"))
    assert aug.sources()[0]["version"] != before
    monkeypatch.undo()
    assert aug.sources()[0]["version"] == before


def test_tweeteval_source_keeps_non_offensive_tweets_that_name_a_group(tmp_path: Path):
    (tmp_path / "train_text.txt").write_text(
        "Muslims in my town run a great bakery \nMuslims are awful \nnice weather today \n"
    )
    (tmp_path / "train_labels.txt").write_text("0\n1\n0\n")
    frame = aug.augmentation_frame(tweeteval=tmp_path)
    te = frame[frame["source"] == aug.TWEETEVAL]
    assert te["text"].tolist() == ["Muslims in my town run a great bakery"]
    assert (te["label"] == "not_cyberbullying").all()
    before = aug.sources(tmp_path)[1]
    (tmp_path / "train_labels.txt").write_text("1\n1\n0\n")
    after = aug.sources(tmp_path)[1]
    assert (before["rows"], after["rows"]) == (1, 0) and before["version"] != after["version"]


def test_tweeteval_with_mismatched_files_names_the_folder(tmp_path: Path):
    (tmp_path / "train_text.txt").write_text("a\nb\n")
    (tmp_path / "train_labels.txt").write_text("0\n")
    with pytest.raises(ValueError, match=str(tmp_path)):
        aug.augmentation_frame(tweeteval=tmp_path)


def test_templates_are_not_copied_from_the_dataset_or_the_fairness_templates(dataset_texts):
    from harmwatch.model.fairness import templates as fairness_templates
    from harmwatch.model.golden import golden_frame

    texts = set(aug.template_rows(tuple(aug.OPTIONAL_KINDS))["text"].str.lower())
    assert not texts & dataset_texts
    assert not texts & set(fairness_templates()["text"].str.lower())
    assert not texts & set(golden_frame()["text"].str.lower())


def test_development_set_shares_no_text_with_the_augmentation():
    """The recipes are chosen on the bench's development set: it must never be trained on."""
    from bench.sections.moderation_dev import dev_frame

    dev = set(dev_frame()["text"].str.lower())
    assert not dev & set(aug.template_rows(tuple(aug.OPTIONAL_KINDS))["text"].str.lower())


def test_optional_rows_train_only_a_recipe_that_asks_for_them():
    every = tuple(sorted(aug.OPTIONAL_KINDS))
    plain, full = aug.augmentation_frame(), aug.augmentation_frame(second_round=every)
    assert not plain["kind"].isin(aug.OPTIONAL_KINDS).any()
    assert set(full["kind"]) >= aug.OPTIONAL_KINDS and len(full) == len(aug.template_rows(every))
    assert aug.sources()[0]["rows"] == len(plain) and aug.sources(None, every)[0]["rows"] == len(full)
    # negation frames: a positive filler negated is hostile, a hostile one negated is not
    negation = full[full["template"].str.startswith("negation_frame")]
    assert set(negation["kind"]) == {"negated_hostile", "negated_benign"}
    benign = negation["label"] == "not_cyberbullying"
    assert benign.sum() == (~benign).sum()
    # third round's paired frames: each group fills each frame once benign and once hostile
    # and the fourth round's: contempt without an insult, counter-speech naming the insult it rejects; the
    # fifth's: threats with a harmless or a violent verb
    paired = full[
        full["kind"].isin(["negation_pair", "exclusion", "contempt_pair", "counter_naming", "threat_pair"])
    ]
    per_frame = paired.groupby(["template", "group"])["label"].agg(lambda s: (s == "not_cyberbullying").sum())
    assert len(paired) and (per_frame == 1).all()
    assert (paired.groupby(["template", "group"]).size() == 2).all()
    # threats at one person: each frame as often harmless as violent
    person = full[full["kind"] == "threat_person"].groupby("template")["label"].value_counts().unstack()
    assert set(person.columns) == {"not_cyberbullying", "other_cyberbullying"}
    assert (person["not_cyberbullying"] == person["other_cyberbullying"]).all()


def test_no_template_row_or_development_case_is_a_suite_case():
    """What the recipes are trained on (every template row, second and third rounds too) and chosen on
    (the development set) is neither a copy nor a near copy of the behaviour suite."""
    from bench.sections.moderation_dev import dev_frame
    from harmwatch.behaviour import overlaps

    every = tuple(sorted(aug.OPTIONAL_KINDS))
    assert overlaps(aug.template_rows(every)["text"], contained=True) == []
    assert overlaps(dev_frame()["text"], contained=True) == []


def test_recipes_decide_which_rows_train_the_stack():
    from harmwatch.model.fitting import RECIPES, recipe_sources, with_augmentation

    train = pd.DataFrame({"text": ["a post", "another post"], "label": ["age", "not_cyberbullying"]})
    assert with_augmentation(train, RECIPES["baseline"])["head_only"].sum() == 0
    assert recipe_sources("baseline") == []
    rows = with_augmentation(train, RECIPES["moderate"])
    added = rows.iloc[len(train) :]
    frame = aug.template_rows(RECIPES["moderate"].second_round)
    named = frame.set_index("text").loc[added["text"], ["group", "kind"]]
    # posts naming a group train the identity-blind harm head only; group-free ones both
    assert (added["head_only"].to_numpy() == (named["group"] != "").to_numpy()).all()
    # augmentation adds no class the snapshot lacks
    assert set(added["label"]) == {"age", "not_cyberbullying"}
    assert (added["weight"] == RECIPES["moderate"].augment_weight).all() and (
        rows.iloc[:2]["weight"] == 1
    ).all()
    assert [s["name"] for s in recipe_sources("moderate")] == [aug.TEMPLATES]


@pytest.mark.model
def test_moderate_fit_returns_features_of_the_snapshot_rows_and_records_its_sources(small_sample):
    from harmwatch.model.fitting import fit_and_measure, recipe_sources, training_record

    train, ev = small_sample.iloc[:2000], small_sample.iloc[2000:2400]
    fitted = fit_and_measure(train, ev, sample_rows=None, seed=1, n_jobs=1, reference_rows=200)
    assert fitted.recipe == "moderate" and fitted.pipeline.named_steps["clf"].n_blind > 0
    assert fitted.train_rows == len(train) and len(fitted.reference) == 200
    record = training_record(fitted, {}, {"train_version": "t"}, len(ev), 0, 1)
    assert record["augmentation_sources"] == recipe_sources()
    assert record["summary"]["recipe"] == "moderate"
    assert record["card"]["data"]["augmentation"].startswith(f"{aug.TEMPLATES} ")


def test_candidate_recipe_is_the_sixth_rounds_best():
    """The opt-in recipe ``candidate`` is the option the sixth round chose (bench/sections/moderation.py)."""
    from dataclasses import replace

    from bench.sections.moderation import FIFTH_BEST, sixth_round
    from harmwatch.model.fitting import RECIPES

    chosen = sixth_round()[f"{FIFTH_BEST} + violence marks, head's share 0.95"]
    assert replace(chosen, name="candidate") == RECIPES["candidate"]

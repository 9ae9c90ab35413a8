"""Each weak-label defence on a tiny hand-made case that it decides and the policy without it gets wrong,
decided by build-dataset's own SQL (:func:`harmwatch.data.relational.weak_label_outcome`) on DuckDB."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harmwatch.data import weak_labels as wl
from harmwatch.data.reporter_history import ReporterHistory
from tests.factories import keyed, labelled, reports, weak_label_outcome

BASE = wl.Policy(spot_check_rate=0.0)  # spot checks have their own test


def frames(lab_rows, rep_rows, lab_day="2026-01-01", rep_times=None):
    """Keyed moderated rows and keyed reports; ``rep_times`` overrides each report's ``reported_at``."""
    moderated = keyed(labelled(lab_rows, day=lab_day))
    reps = keyed(reports(rep_rows))
    if rep_times is not None:
        reps["reported_at"] = rep_times
    return moderated, reps


def decide(moderated, reps, policy, champion=None, seed=0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The plan's decision on these rows (it finds the co-reporting cohorts itself)."""
    return weak_label_outcome(moderated, reps, policy, champion, seed)


def record(who: list[str], n: int, reason: str, prefix: str = "h") -> tuple[list, list]:
    """``n`` moderated posts labelled ``reason`` that each of ``who`` reported under that reason."""
    lab = [(f"{prefix}{i}", f"{prefix} history post {i}", reason) for i in range(n)]
    rep = [(f"{prefix}{i}", f"{prefix} history post {i}", w, reason) for i in range(n) for w in who]
    return lab, rep


CREW = ["c1", "c2", "c3"]


def test_before_report_a_record_built_after_the_vote_does_not_vouch_for_it():
    # The crew votes on day 2; moderators confirm its six earlier-looking reports only on day 3.
    lab, rep = record(CREW, 6, "religion")
    moderated = keyed(labelled(lab, day="2026-01-03"))
    reps = keyed(reports([*rep, *[("p", "poisoned post", w, "religion") for w in CREW]]))
    hindsight, _ = decide(moderated, reps, BASE)
    assert hindsight["key"].tolist() == ["poisoned post"]  # without the defence it enters training
    ok, review = decide(moderated, reps, BASE.with_("before_report"))
    assert ok.empty and review.loc[0, "review_reason"].startswith("mean reporter reliability 0.50")


def test_per_reason_a_record_on_one_harm_does_not_vouch_for_another():
    lab, rep = record(CREW, 6, "age")
    moderated, reps = frames(lab, [*rep, *[("p", "poisoned post", w, "religion") for w in CREW]])
    assert len(decide(moderated, reps, BASE)[0]) == 1
    ok, review = decide(moderated, reps, BASE.with_("per_reason"))
    assert ok.empty and "reliability 0.50" in review.loc[0, "review_reason"]


def crowd_and_crew() -> tuple[list, list]:
    """An honest crowd (30 reporters, two a post, rarely together) and a crew of three that always is."""
    lab, rep = record(CREW, 12, "religion", prefix="crew")
    rng = np.random.default_rng(5)
    for i in range(120):
        a, b = (f"u{j}" for j in rng.choice(30, size=2, replace=False))
        lab.append((f"o{i}", f"crowd post {i}", "age"))
        rep += [(f"o{i}", f"crowd post {i}", a, "age"), (f"o{i}", f"crowd post {i}", b, "age")]
    return lab, rep


def test_cohorts_link_a_crew_and_not_the_crowd():
    _, rep = crowd_and_crew()
    cohorts = ReporterHistory(pd.DataFrame(), reports(rep)).cohorts("9999-12-31")
    assert sorted(cohorts["reporter_id"]) == CREW and set(cohorts["cohort_size"]) == {3}


def test_cohorts_a_crew_counts_as_one_reporter():
    lab, rep = crowd_and_crew()
    moderated, reps = frames(lab, [*rep, *[("p", "poisoned post", w, "religion") for w in CREW]])
    assert len(decide(moderated, reps, BASE.without("cohorts"))[0]) == 1
    ok, review = decide(moderated, reps, BASE)
    assert ok.empty
    assert review.loc[0, "review_reason"] == (
        "3 distinct reporter(s) in 1 co-reporting cohort(s) agree (policy needs 3)"
    )


def test_trusted_dissent_accounts_without_a_record_cannot_tie_an_honest_label():
    lab, rep = record(["h1", "h2", "h3"], 6, "age")
    tie = [("p", "harmful post", w, "gender") for w in ("t1", "t2", "t3")]
    moderated, reps = frames(
        lab, [*rep, *[("p", "harmful post", w, "age") for w in ("h1", "h2", "h3")], *tie]
    )
    _, review = decide(moderated, reps, BASE.without("trusted_dissent"))
    assert review.loc[0, "review_reason"] == "reporters disagree (age 3, gender 3)"
    ok, _ = decide(moderated, reps, BASE)
    assert ok.loc[0, "label"] == "age" and ok.loc[0, "votes"] == "age 3, gender 3"


def test_trusted_dissent_still_blocks_when_trusted_reporters_disagree():
    lab, rep = record(["h1", "h2", "h3", "h4", "h5", "h6"], 6, "age")
    lab2, rep2 = record(["h4", "h5", "h6"], 6, "gender", prefix="g")
    votes = [("p", "harmful post", w, "age") for w in ("h1", "h2", "h3")]
    votes += [("p", "harmful post", w, "gender") for w in ("h4", "h5", "h6")]
    moderated, reps = frames(lab + lab2, rep + rep2 + votes)
    _, review = decide(moderated, reps, BASE)
    assert review.loc[0, "review_reason"].startswith("reporters disagree")


def test_champion_strong_disagreement_sends_a_weak_label_to_review():
    lab, rep = record(CREW, 6, "religion")
    moderated, reps = frames(lab, [*rep, *[("p", "benign post", w, "religion") for w in CREW]])
    scores = pd.DataFrame(
        {"key": ["benign post"], "score_religion": [0.004], "score_not_cyberbullying": [0.99]}
    )
    assert len(decide(moderated, reps, BASE.without("champion"), champion=scores)[0]) == 1
    ok, review = decide(moderated, reps, BASE, champion=scores)
    assert ok.empty and review.loc[0, "review_reason"].startswith("the champion strongly disagrees")
    assert review.loc[0, "champion_p_label"] == pytest.approx(0.004)
    agrees = scores.assign(score_religion=0.6)
    assert len(decide(moderated, reps, BASE, champion=agrees)[0]) == 1  # no veto when it agrees


def test_spot_checks_send_a_seeded_random_share_of_accepted_labels_to_moderators():
    lab, rep = record(CREW, 6, "religion")
    pending = [(f"p{i}", f"pending post {i}", w, "religion") for i in range(400) for w in CREW]
    moderated, reps = frames(lab, rep + pending)
    policy = wl.Policy(cohorts=False)  # the crew is honest here; only spot checks may hold labels back
    ok, review = decide(moderated, reps, policy, seed=7)
    assert len(ok) + len(review) == 400
    assert 8 <= len(review) <= 40  # ~5 % of 400
    assert review["review_reason"].str.startswith("spot check: a random 5%").all()
    assert wl.review_kind(review["review_reason"]).eq("spot_check").all()
    shuffled, _ = decide(moderated, reps.sample(frac=1, random_state=3), policy, seed=7)
    assert set(shuffled["key"]) == set(ok["key"])  # the same keys whatever the row order
    assert len(decide(moderated, reps, policy.without("spot_checks"), seed=7)[0]) == 400

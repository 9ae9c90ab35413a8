"""Adaptive adversaries for the simulator: reporters who learn how the weak-label policy trusts them.

The simulator's default brigade only ever reports benign posts, so its reliability collapses by
construction. The adversaries here adapt (:data:`ADVERSARIES`); each one controls accounts named after it
(``farming-0003``, ``swarm-2-0017``...), which ingest pseudonymises like every reporter id, so only the
audit, reading the landing zone and :func:`harmwatch.data.simulation.ground_truth`, can tell who is who.

- ``farming``: a crew of accounts builds a record with correct reports on obviously harmful posts during
  the first half of the days, then reports benign posts together (3-4 members a post) under one reason.
- ``swarm``: fresh accounts every day, each used on one or two benign posts, 3-6 accounts a post.
- ``tie``: on harmful posts that honest users reported, as many accounts as the leading honest reason
  has, naming another harmful reason, so the vote is tied and the honest label blocked.
- ``slow``: a small crew that looks honest (90 % of its reports are correct) and from the second day
  poisons a few benign posts a day, 3 members a post, over every remaining day.
- ``mixed``: a crew whose every account mixes honest-looking correct reports with false ones (one false
  report in three), from the first day.

``strength`` is the adversary's share of all reports of a day (the brigade's ``brigade_share`` means the
same). The adversary draws from its own random generator, so the crowd's reports of the first day are
identical with and without it (later days differ as moderators label other posts), and the same seed
gives the same reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from harmwatch.config import BENIGN_CLASS, HARMFUL_CLASSES

ADVERSARIES: tuple[str, ...] = ("farming", "swarm", "tie", "slow", "mixed")
OBVIOUS = [c for c in HARMFUL_CLASSES if c != "other_cyberbullying"]
FALSE_SHARE = {"slow": 0.1, "mixed": 1 / 3}  # of the crew's reports (farming: all, on attack days)


@dataclass(frozen=True)
class Adversary:
    """One adaptive adversary beside the reporter population (see the module docstring)."""

    name: str
    strength: float  # share of all reports of a day
    crew: int = 8  # accounts of farming, slow and mixed (tie: a pool three times this size)
    reason: str = "religion"  # the reason its false reports name


def budget(strength: float, base_reports: int) -> int:
    """Reports that make ``strength`` of a day's total when ``base_reports`` come from everyone else."""
    return round(strength / (1 - strength) * base_reports) if strength > 0 else 0


def _row(post: Any, reporter: str, reason: str) -> dict[str, Any]:
    return {"post": post, "reporter": reporter, "reason": str(reason)}


def _correct(harmful: pd.DataFrame, count: int, members: list[str], rng: np.random.Generator) -> list[dict]:
    """``count`` honest-looking reports: distinct *obviously* harmful posts (an identity-based class, never
    the ambiguous ``other_cyberbullying``, whose texts moderators often label benign), a random member
    each, the right reason: the cheapest way to earn a record."""
    harmful = harmful[harmful["label"].isin(OBVIOUS)]
    if harmful.empty or count <= 0:
        return []
    picks = rng.choice(len(harmful), size=min(count, len(harmful)), replace=False)
    return [
        _row(harmful.iloc[int(i)], members[int(rng.integers(len(members)))], harmful.iloc[int(i)].label)
        for i in picks
    ]


def _poison(
    benign: pd.DataFrame,
    count: int,
    members: list[str],
    per_post: tuple[int, int],
    reason: str,
    rng: np.random.Generator,
    rotate: bool = False,
) -> list[dict]:
    """About ``count`` false reports: benign posts, ``per_post`` (low, high) distinct members each, one
    reason.

    With ``rotate`` the members take turns (a shuffled round robin), so each is used as rarely as possible.
    """
    rows: list[dict] = []
    rounds = count // max(len(members), 1) + 2 if rotate else 0
    turn = iter([int(j) for _ in range(rounds) for j in rng.permutation(len(members))])
    while count > 0 and len(benign) and members:
        post = benign.iloc[int(rng.integers(len(benign)))]
        k = min(int(rng.integers(per_post[0], per_post[1] + 1)), len(members))
        picks = [next(turn) for _ in range(k)] if rotate else rng.choice(len(members), size=k, replace=False)
        rows += [_row(post, members[int(j)], reason) for j in dict.fromkeys(int(j) for j in picks)]
        count -= k
    return rows


def _ties(honest: list[dict], count: int, pool: list[str], rng: np.random.Generator) -> list[dict]:
    """Votes that tie the leading honest reason of honestly reported posts, under another harmful reason."""
    if not honest or count <= 0:
        return []
    votes = pd.DataFrame(
        {"pid": [r["post"].post_id for r in honest], "reason": [r["reason"] for r in honest]}
    )
    counts = votes.groupby(["pid", "reason"]).size().reset_index(name="n")
    lead = counts.sort_values(["pid", "n"], ascending=[True, False]).drop_duplicates("pid")
    posts = {r["post"].post_id: r["post"] for r in honest}
    rows: list[dict] = []
    for i in rng.permutation(len(lead)):
        if count <= 0:
            break
        pid, reason, m = lead.iloc[int(i)][["pid", "reason", "n"]]
        if m < 2:
            continue
        other = str(rng.choice([c for c in HARMFUL_CLASSES if c != reason]))
        rows += [
            _row(posts[pid], pool[int(j)], other)
            for j in rng.choice(len(pool), size=min(m, len(pool)), replace=False)
        ]
        count -= m
    return rows


def adversary_reports(
    adv: Adversary, posts: pd.DataFrame, day: int, days: int, others: list[dict], rng: np.random.Generator
) -> list[dict]:
    """The adversary's report rows (``post``, ``reporter``, ``reason``) on day ``day`` (1-based) of ``days``.

    ``posts`` are the day's posts (post_id, text, label); ``others`` the rows of everyone else that day
    (the tie adversary goes after the posts honest reporters reported).
    """
    n = budget(adv.strength, len(others))
    harmful = posts[posts["label"] != BENIGN_CLASS]
    benign = posts[posts["label"] == BENIGN_CLASS]
    crew = [f"{adv.name}-{i:04d}" for i in range(adv.crew)]
    if adv.name == "farming":
        attack = day > days // 2  # the first half of the days builds the record
        if not attack:
            return _correct(harmful, n, crew, rng)
        return _poison(benign, n, crew, (3, 4), adv.reason, rng)
    if adv.name == "swarm":
        fresh = [f"swarm-{day}-{i:04d}" for i in range(max(n // 2 + 6, 6))]  # one or two posts each
        return _poison(benign, n, fresh, (3, 6), adv.reason, rng, rotate=True)
    if adv.name == "tie":
        honest = [r for r in others if r["reporter"].startswith("honest-")]
        return _ties(honest, n, [f"tie-{i:04d}" for i in range(3 * adv.crew)], rng)
    if adv.name in FALSE_SHARE:
        false = round(n * FALSE_SHARE[adv.name]) if (adv.name == "mixed" or day > 1) else 0
        rows = _correct(harmful, n - false, crew, rng)
        return rows + _poison(benign, false, crew, (3, 3) if adv.name == "slow" else (3, 4), adv.reason, rng)
    raise ValueError(f"unknown adversary {adv.name!r}; known: {', '.join(ADVERSARIES)}")


def validate(adv: Adversary) -> None:
    """Raise ValueError naming what is wrong with an adversary's settings."""
    if adv.name not in ADVERSARIES:
        raise ValueError(f"unknown adversary {adv.name!r}; known: brigade, {', '.join(ADVERSARIES)}")
    if not 0 <= adv.strength < 1:
        raise ValueError(f"adversary strength {adv.strength} must be in [0, 1)")
    if adv.reason not in HARMFUL_CLASSES or adv.crew < 4:
        raise ValueError("an adversary needs a harmful reason and a crew of at least 4 accounts")

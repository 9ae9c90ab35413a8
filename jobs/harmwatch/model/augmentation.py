"""Augmentation: rows added to a training snapshot so that hostility, not a group's name, carries the label.

Two kinds of source, each a versioned input of a training run:

- ``templates``: the hand-written sentences of :mod:`harmwatch.model.augmentation_sources.templates`,
  filled with every group (neutral, positive, counter-speech and negated statements about a group,
  non-targeted profanity and abuse as ``not_cyberbullying``; hostile statements about a group with the
  group's class, and their leetspeak and misspelt spellings). Part of the code, so always available.
  A second round of kinds (``SECOND_ROUND_KINDS``) is added only when a recipe asks for it (measured in
  docs/model.md, not in the default).
- ``tweeteval_groups``: optional, the non-offensive TweetEval tweets that name a group
  (``not_cyberbullying``), read from a folder given at training time (the data is never copied into the
  repository).

:func:`sources` says what each source is (name, sha256 version of its content, rows, module or path):
what a training snapshot's manifest and the model card record. :func:`augmentation_frame` returns the
rows (``text``, ``label``, ``source``, ``weight``).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from harmwatch.config import BENIGN_CLASS
from harmwatch.model.augmentation_sources import templates as tpl

TEMPLATES = "templates"
TWEETEVAL = "tweeteval_groups"
TEMPLATE_MODULE = tpl.__name__

# Words naming a group in a tweet (TweetEval rows are kept when one occurs).
_GROUP_WORDS = re.compile(
    r"\b(?:muslims?|islam\w*|christians?|jews?|jewish|hindus?|sikhs?|buddhists?|atheists?|catholics?|"
    r"black people|blacks|white people|whites|asians?|latin[oa]s?|hispanics?|mexicans?|arabs?|africans?|"
    r"immigrants?|refugees?|migrants?|women|gays?|lesbians?|trans|transgender|queer|lgbtq?|"
    r"bisexual|feminists?|elderly|boomers?|millennials?|teenagers?|disabled|autistic|deaf)\b",
    re.IGNORECASE,
)


# Kinds of rows written for the behaviours the first templates left short (negated and implicit hate,
# counter-speech by reference, rude criticism of a person or of a habit): the bench leaves them out to
# measure what they add.
SECOND_ROUND_KINDS: frozenset[str] = frozenset(
    {"negated_hostile", "negated_benign", "implicit", "counter_reference", "individual", "non_protected_more"}
)
# The third round, for the same behaviours written again with more variety: contempt by exclusion, negation
# both ways with verb and noun fillers, counter-speech by reference, rude criticism of a person or a habit,
# reclaimed words used in-group, everyday posts with nothing hostile in them, and warm statements about a
# group in more words.
THIRD_ROUND_KINDS: frozenset[str] = frozenset(
    {
        "exclusion",
        "negation_pair",
        "counter_reference_more",
        "individual_more",
        "habits",
        "reclaimed",
        "everyday",
        "positive_more",
    }
)
# The fourth round, paired so that a group's name and an insulting word carry no label by themselves:
# contempt without an insulting word (``contempt_pair``: a fair or a contemptuous filler in one frame) and
# counter-speech that names the abuse it rejects (``counter_naming``: the same insult rejected or endorsed).
# And (``strong_benign``) a group named beside a strong word used in a harmless sense ("smashed the quiz").
FOURTH_ROUND_KINDS: frozenset[str] = frozenset({"contempt_pair", "counter_naming", "strong_benign"})
# The fifth round: threats in one frame with a harmless or a violent verb, aimed at a group (``threat_pair``)
# or at one person (``threat_person``, ``other_cyberbullying`` when violent).
FIFTH_ROUND_KINDS: frozenset[str] = frozenset({"threat_pair", "threat_person"})
# Kinds of rows a recipe adds only when it names them (``Recipe.second_round``).
OPTIONAL_KINDS: frozenset[str] = (
    SECOND_ROUND_KINDS | THIRD_ROUND_KINDS | FOURTH_ROUND_KINDS | FIFTH_ROUND_KINDS
)


def fill(template: str, people: str) -> str:
    """The template with a group's phrase in its slot (capitalised at the start of a sentence)."""
    return template.replace("{people}", people).replace("{People}", people[:1].upper() + people[1:])


def leet(text: str, alt: bool = False) -> str:
    """A leetspeak spelling of a post (vowels and s as digits, or with ``alt`` as symbols)."""
    table = tpl.LEET_ALT if alt else tpl.LEET
    return "".join(table.get(ch, ch) for ch in text.lower())


def template_rows(second_round: tuple[str, ...] = ()) -> pd.DataFrame:
    """Every template filled with every group: ``text``, ``label``, ``kind``, ``group``, ``template``; of
    the optional kinds (``OPTIONAL_KINDS``: second and third rounds) only those in ``second_round``."""
    rows: list[dict[str, str]] = []
    benign_group = {
        "neutral": tpl.GROUP_NEUTRAL,
        "counter": tpl.COUNTER_SPEECH,
        "counter_reference": tpl.COUNTER_REFERENCE,
        "negated": tpl.NEGATED,
        "counter_reference_more": tpl.COUNTER_REFERENCE_MORE,
        "positive_more": tpl.POSITIVE_MORE,
        "strong_benign": tpl.STRONG_BENIGN,
    }
    for gid, (people, cls) in tpl.GROUPS.items():
        for kind, items in benign_group.items():
            for i, t in enumerate(items):
                rows.append(
                    dict(
                        text=fill(t, people), label=BENIGN_CLASS, kind=kind, group=gid, template=f"{kind}{i}"
                    )
                )
        for kind, items in (
            ("negated_hostile", tpl.NEGATED_HOSTILE),
            ("implicit", tpl.IMPLICIT_HOSTILE),
        ):
            for i, t in enumerate(items):
                text = fill(t, people)
                rows.append(dict(text=text, label=cls, kind=kind, group=gid, template=f"{kind}{i}"))
        for i, t in enumerate(tpl.GROUP_HOSTILE):
            text = fill(t, people)
            rows.append(dict(text=text, label=cls, kind="hostile", group=gid, template=f"hostile{i}"))
            if i % 3 == 0:
                rows.append(
                    dict(
                        text=leet(text, alt=i % 2 == 1),
                        label=cls,
                        kind="leet",
                        group=gid,
                        template=f"hostile{i}",
                    )
                )
    rows.extend(_composed_rows())
    rows.extend(_threat_person_rows())
    for kind, items, label in (
        ("profanity", tpl.PROFANITY, BENIGN_CLASS),
        ("non_targeted", tpl.NON_TARGETED_ABUSE, BENIGN_CLASS),
        ("individual", tpl.INDIVIDUAL_ACTION, BENIGN_CLASS),
        ("personal", tpl.PERSONAL_ATTACK, "other_cyberbullying"),
        ("individual_more", tpl.INDIVIDUAL_MORE, BENIGN_CLASS),
        ("reclaimed", tpl.RECLAIMED_INGROUP, BENIGN_CLASS),
        ("everyday", tpl.EVERYDAY, BENIGN_CLASS),
    ):
        for i, t in enumerate(items):
            rows.append(dict(text=t, label=label, kind=kind, group="", template=f"{kind}{i}"))
    frame = pd.DataFrame(rows).drop_duplicates("text")
    return frame[~frame["kind"].isin(OPTIONAL_KINDS - set(second_round))].reset_index(drop=True)


_TEMPLATE_CONTENT = (
    "GROUPS",
    "GROUP_NEUTRAL",
    "COUNTER_SPEECH",
    "NEGATED",
    "GROUP_HOSTILE",
    "PROFANITY",
    "NON_TARGETED_ABUSE",
    "PERSONAL_ATTACK",
    "LEET",
    "LEET_ALT",
    "FRAMES",
    "FILLERS",
    "COUNTER_FRAMES",
    "NEGATED_HOSTILE",
    "IMPLICIT_HOSTILE",
    "NEGATION_FRAMES",
    "COUNTER_REFERENCE",
    "INDIVIDUAL_ACTION",
    "NON_PROTECTED_MORE",
    "OBJECTS",
    "NON_PROTECTED",
    "OBJECT_FRAMES",
    "NON_PROTECTED_FRAMES",
    "EXCLUSION_FRAMES",
    "EXCLUSION_FILLERS",
    "NEGATION_VERB_FRAMES",
    "NEGATION_NOUN_FRAMES",
    "NEGATION_VERBS",
    "COUNTER_REFERENCE_MORE",
    "POSITIVE_MORE",
    "INDIVIDUAL_MORE",
    "NON_PROTECTED_HABITS",
    "RECLAIMED_INGROUP",
    "EVERYDAY",
    "CONTEMPT_FRAMES",
    "CONTEMPT_FILLERS",
    "COUNTER_NAMING_PAIRS",
    "STRONG_BENIGN",
    "THREAT_FRAMES",
    "THREAT_VERBS",
    "THREAT_PERSON_FRAMES",
    "THREAT_PERSON_VERBS",
)


def misspell(text: str, joined: bool = False) -> str:
    """A misspelt post: the middle letter dropped from every word of five letters or more, or (``joined``)
    the spaces between its first four words removed, as posts are written to slip past word filters."""
    if joined:
        words = text.split()
        return "".join(words[:4]) + (" " + " ".join(words[4:]) if len(words) > 4 else "")
    return " ".join(w[: len(w) // 2] + w[len(w) // 2 + 1 :] if len(w) >= 5 else w for w in text.split())


def _pick(items: tuple[str, ...], start: int, count: int) -> list[str]:
    """``count`` items from ``start`` on, wrapping: each group gets different fillers, deterministically."""
    return [items[(start + j) % len(items)] for j in range(count)]


def _shared_frame_rows(nth: int, gid: str, people: str, cls: str) -> list[dict[str, str]]:
    """The frames shared by a benign and a hostile filler, for the ``nth`` group: two of each, and a
    leetspeak or misspelt spelling of three hostile rows in four."""
    rows: list[dict[str, str]] = []
    for kind, frames in tpl.FRAMES.items():
        benign, hostile = tpl.FILLERS[kind]
        for f, frame in enumerate(frames):
            template = f"{kind}_frame{f}"
            start = 3 * nth + 5 * f
            for x in _pick(benign, start, 2):
                text = fill(frame.replace("{x}", x), people)
                rows.append(
                    dict(text=text, label=BENIGN_CLASS, kind="composed", group=gid, template=template)
                )
            for j, x in enumerate(_pick(hostile, start, 2)):
                text = fill(frame.replace("{x}", x), people)
                rows.append(dict(text=text, label=cls, kind="composed_hostile", group=gid, template=template))
                variant = (nth + f + j) % 4
                if variant == 0:
                    spelt, kind_of = leet(text, alt=nth % 2 == 1), "leet"
                elif variant in (1, 2):
                    spelt, kind_of = misspell(text, joined=variant == 2), "misspelt"
                else:
                    continue
                rows.append(dict(text=spelt, label=cls, kind=kind_of, group=gid, template=template))
    return rows


def _third_round_rows(nth: int, gid: str, people: str, cls: str) -> list[dict[str, str]]:
    """The third round's paired frames for the ``nth`` group, each with one filler of either kind: negation
    of verbs and nouns (kind ``negation_pair``: a benign filler negated is hostile, the group's class, a
    hostile one negated is benign), exclusion (kind ``exclusion``: a welcoming filler is benign, an
    excluding one hostile); the fourth round's contempt without an insulting word (``contempt_pair``)
    and counter-speech naming the insult it rejects, beside a post endorsing it (``counter_naming``); and
    the fifth round's threats, a harmless or a violent verb in one frame (``threat_pair``)."""
    rows: list[dict[str, str]] = []
    for frames, (benign, hostile), name, kind, negated in (
        (tpl.NEGATION_VERB_FRAMES, tpl.NEGATION_VERBS, "negation_verb", "negation_pair", True),
        (tpl.NEGATION_NOUN_FRAMES, tpl.FILLERS["noun"], "negation_noun", "negation_pair", True),
        (tpl.EXCLUSION_FRAMES, tpl.EXCLUSION_FILLERS, "exclusion", "exclusion", False),
        (tpl.CONTEMPT_FRAMES, tpl.CONTEMPT_FILLERS, "contempt", "contempt_pair", False),
        (tpl.THREAT_FRAMES, tpl.THREAT_VERBS, "threat", "threat_pair", False),
    ):
        for f, frame in enumerate(frames):
            for fillers, harmful in ((benign, negated), (hostile, not negated)):
                text = fill(frame.replace("{x}", fillers[(3 * nth + 5 * f) % len(fillers)]), people)
                label = cls if harmful else BENIGN_CLASS
                rows.append(dict(text=text, label=label, kind=kind, group=gid, template=f"{name}{f}"))
    nouns = tpl.FILLERS["noun"][1]
    for f, (rejecting, endorsing) in enumerate(tpl.COUNTER_NAMING_PAIRS):
        x = nouns[(3 * nth + 5 * f) % len(nouns)]
        for frame, label in ((rejecting, BENIGN_CLASS), (endorsing, cls)):
            text = fill(frame.replace("{x}", x), people)
            rows.append(dict(text=text, label=label, kind="counter_naming", group=gid, template=f"naming{f}"))
    return rows


def _threat_person_rows() -> list[dict[str, str]]:
    """Threats aimed at one person (kind ``threat_person``): each frame with three harmless verbs (benign)
    and three violent ones (``other_cyberbullying``), so the verb, not "I will ... you", carries the label."""
    rows: list[dict[str, str]] = []
    for f, frame in enumerate(tpl.THREAT_PERSON_FRAMES):
        for verbs, label in zip(tpl.THREAT_PERSON_VERBS, (BENIGN_CLASS, "other_cyberbullying"), strict=True):
            for x in _pick(verbs, 2 * f, 3):
                rows.append(dict(text=frame.replace("{x}", x), label=label, kind="threat_person", group="",
                                 template=f"threat_person{f}"))  # fmt: skip
    return rows


def _composed_rows() -> list[dict[str, str]]:
    """Frames filled with a group and a benign or hostile filler, counter-speech and negation frames
    with a hostile filler, and abuse aimed at objects and non-protected groups (benign)."""
    rows: list[dict[str, str]] = []
    hostile_adj = tpl.FILLERS["adj"][1]
    for g, (gid, (people, cls)) in enumerate(tpl.GROUPS.items()):
        rows += _shared_frame_rows(g, gid, people, cls)
        benign_adj = tpl.FILLERS["adj"][0]
        for f, frame in enumerate(tpl.NEGATION_FRAMES):
            template = f"negation_frame{f}"
            x = benign_adj[(3 * g + 7 * f) % len(benign_adj)]
            rows.append(dict(text=fill(frame.replace("{x}", x), people), label=cls, kind="negated_hostile",
                             group=gid, template=template))  # fmt: skip
            x = hostile_adj[(3 * g + 7 * f + 1) % len(hostile_adj)]
            rows.append(dict(text=fill(frame.replace("{x}", x), people), label=BENIGN_CLASS,
                             kind="negated_benign", group=gid, template=template))  # fmt: skip
        rows += _third_round_rows(g, gid, people, cls)
        for f, frame in enumerate(tpl.COUNTER_FRAMES):
            x = hostile_adj[(2 * g + 7 * f) % len(hostile_adj)]
            text = fill(frame.replace("{x}", x), people)
            rows.append(
                dict(text=text, label=BENIGN_CLASS, kind="counter", group=gid, template=f"counter_frame{f}")
            )
    for i, thing in enumerate(tpl.OBJECTS):
        for f, frame in enumerate(tpl.OBJECT_FRAMES):
            text = frame.replace("{x}", thing).replace("{y}", hostile_adj[(3 * i + f) % len(hostile_adj)])
            rows.append(dict(text=text[:1].upper() + text[1:], label=BENIGN_CLASS, kind="object", group="",
                             template=f"object_frame{f}"))  # fmt: skip
    non_protected = [(who, "non_protected") for who in tpl.NON_PROTECTED]
    non_protected += [(who, "non_protected_more") for who in tpl.NON_PROTECTED_MORE]
    non_protected += [(who, "habits") for who in tpl.NON_PROTECTED_HABITS]
    for i, (who, kind) in enumerate(non_protected):
        for f, frame in enumerate(tpl.NON_PROTECTED_FRAMES):
            y = hostile_adj[(5 * i + f) % len(hostile_adj)]
            text = frame.replace("{X}", who[:1].upper() + who[1:]).replace("{x}", who).replace("{y}", y)
            rows.append(dict(text=text, label=BENIGN_CLASS, kind=kind, group="",
                             template=f"non_protected_frame{f}"))  # fmt: skip
    return rows


def _template_version() -> str:
    """sha256 of every template and group (and the leetspeak table): changes whenever a row could."""
    content = {name: getattr(tpl, name) for name in _TEMPLATE_CONTENT}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def tweeteval_rows(folder: Path) -> pd.DataFrame:
    """The non-offensive TweetEval training tweets that name a group, as ``not_cyberbullying``."""
    texts = (folder / "train_text.txt").read_text(encoding="utf-8").splitlines()
    labels = (folder / "train_labels.txt").read_text(encoding="utf-8").split()
    if len(texts) != len(labels):
        raise ValueError(f"{folder}: {len(texts)} tweets but {len(labels)} labels")
    frame = pd.DataFrame(
        {"text": [t.strip() for t in texts], "offensive": [lab.strip() == "1" for lab in labels]}
    )
    keep = ~frame["offensive"] & frame["text"].str.contains(_GROUP_WORDS)
    out = frame.loc[keep, ["text"]].drop_duplicates("text").reset_index(drop=True)
    return out.assign(label=BENIGN_CLASS, kind="tweeteval", group="", template="")


def _file_version(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in ("train_text.txt", "train_labels.txt"):
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()


def sources(tweeteval: Path | None = None, second_round: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """What the augmentation is made of: ``name``, ``version`` (sha256 of the content), ``rows`` (those
    used, with the ``second_round`` kinds asked for), and ``module`` (code) or ``path`` (a data folder).
    TweetEval only when its folder is given."""
    out: list[dict[str, Any]] = [
        {
            "name": TEMPLATES,
            "version": _template_version(),
            "rows": len(template_rows(second_round)),
            "module": TEMPLATE_MODULE,
        }
    ]
    if tweeteval is not None:
        out.append(
            {
                "name": TWEETEVAL,
                "version": _file_version(tweeteval),
                "rows": len(tweeteval_rows(tweeteval)),
                "path": str(tweeteval),
            }
        )
    return out


def augmentation_frame(
    tweeteval: Path | None = None, weight: float = 1.0, second_round: tuple[str, ...] = ()
) -> pd.DataFrame:
    """The rows added to training: ``text``, ``label``, ``source``, ``weight`` (each row's sample weight),
    ``kind``, ``group``; of the second-round kinds only those in ``second_round``. TweetEval rows only
    when its folder is given."""
    parts = [template_rows(second_round).assign(source=TEMPLATES)]
    if tweeteval is not None:
        parts.append(tweeteval_rows(tweeteval).assign(source=TWEETEVAL))
    frame = pd.concat(parts, ignore_index=True).drop_duplicates("text").reset_index(drop=True)
    frame["weight"] = float(weight)
    return frame[["text", "label", "source", "weight", "kind", "group", "template"]]

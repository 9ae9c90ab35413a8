"""The behaviour suite as cases: every template filled with every target, its expected outcome, its id.

Ids are derived from content, never from position: a template's id is its functionality and a hash of
its text, a case's id adds the group (or filler) it was filled with. Adding or reordering templates
leaves every other id as it was; editing a template's text makes it a new template (as it is).
:data:`SUITE_VERSION` hashes every case, so a report names exactly the suite it was measured on.

The suite must never be trained on: :func:`overlaps` says which of a set of texts (a training snapshot,
an augmentation source) equal a suite case or a suite template, after normalisation.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import cache

import pandas as pd

from harmwatch.behaviour.contrasts import CONTRASTS, RECLAIMED, SLOT_FILLERS
from harmwatch.behaviour.functionalities import FUNCTIONALITIES, OPEN_CLASS
from harmwatch.behaviour.groups import GROUP_LABELS, GROUPS, SLURS
from harmwatch.behaviour.hateful import HATEFUL
from harmwatch.config import BENIGN_CLASS

COLUMNS = ("case_id", "text", "functionality", "group", "harmful", "label", "template", "template_text")
_SLOT = re.compile(r"\{([A-Za-z]+)\}")
_WS = re.compile(r"\s+")
_WORD = re.compile(r"[\w{}']+")


def fill(template: str, slot: str, phrase: str) -> str:
    """The template with ``phrase`` in ``{slot}``, capitalised where the slot is (``{Slot}``)."""
    cap_slot, cap_phrase = slot[:1].upper() + slot[1:], phrase[:1].upper() + phrase[1:]
    return template.replace("{" + slot + "}", phrase).replace("{" + cap_slot + "}", cap_phrase)


def template_id(functionality: str, text: str) -> str:
    """Stable id of a template: its functionality and the first 8 hex of the sha256 of its text."""
    return f"{functionality}.{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def _targets(functionality: str, template: str) -> Iterator[tuple[str, str, str]]:
    """(case key, identity group or "", filled text) for every target the template's slot takes."""
    slots = {s.lower() for s in _SLOT.findall(template)}
    if len(slots) > 1:
        raise ValueError(f"template {template!r} has more than one slot: {sorted(slots)}")
    slot = next(iter(slots), None)
    if slot is None:
        yield "", "", template
    elif slot == "people":
        for gid, people in GROUPS.items():
            phrase = people.replace(" ", "") if functionality == "spelling_removed_spaces" else people
            yield gid, gid, fill(template, "people", phrase)
    elif slot == "slur":
        for gid, slur in SLURS.items():
            yield gid, gid, fill(template, "slur", slur)
    elif slot in SLOT_FILLERS:
        for key, phrase in SLOT_FILLERS[slot].items():
            yield key, "", fill(template, slot, phrase)
    else:
        raise ValueError(f"template {template!r} has an unknown slot {{{slot}}}")


def _expected_label(functionality: str, group: str) -> str:
    if FUNCTIONALITIES[functionality].harmful:
        return GROUP_LABELS.get(group, "")
    return "" if functionality in OPEN_CLASS else BENIGN_CLASS


def _templates() -> Iterator[tuple[str, str, str]]:
    """(functionality, template text, fixed group) for every template, hateful first."""
    for functionality, items in (*HATEFUL.items(), *CONTRASTS.items()):
        for text in items:
            yield functionality, text, ""
    for group, posts in RECLAIMED.items():
        for text in posts:
            yield "reclaimed_slur", text, group


@cache
def _cases() -> tuple[tuple, ...]:
    rows = []
    for functionality, text, fixed_group in _templates():
        if functionality not in FUNCTIONALITIES:
            raise ValueError(f"template {text!r} has an unknown functionality {functionality!r}")
        tid = template_id(functionality, text)
        for key, group, filled in _targets(functionality, text):
            group = group or fixed_group
            key = key or fixed_group
            case_id = f"{tid}/{key}" if key else tid
            rows.append(
                (
                    case_id,
                    filled,
                    functionality,
                    group,
                    FUNCTIONALITIES[functionality].harmful,
                    _expected_label(functionality, group),
                    tid,
                    text,
                )
            )
    return tuple(rows)


def suite_frame() -> pd.DataFrame:
    """One row per case: case_id, text, functionality, group ("" if none), harmful (expected), label
    (expected class, "" where the taxonomy defines none), template (id), template_text (before filling)."""
    frame = pd.DataFrame(list(_cases()), columns=list(COLUMNS))
    frame["harmful"] = frame["harmful"].astype(bool)
    return frame


def _version() -> str:
    content = json.dumps(
        {
            "cases": [list(row) for row in _cases()],
            "groups": GROUPS,
            "functionalities": {k: list(v) for k, v in FUNCTIONALITIES.items()},
        },
        sort_keys=True,
    )
    return hashlib.sha256(content.encode()).hexdigest()[:16]


SUITE_VERSION: str = _version()


def normalise(text: str) -> str:
    """Text as the overlap check compares it: entities unescaped, NFKC, lower case, whitespace collapsed,
    and every slot (``{people}``, ``{Group}``, ...) written ``{}`` so templates of any vocabulary compare."""
    if "&" in text:
        text = html.unescape(text)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return _WS.sub(" ", _SLOT.sub("{}", text.lower())).strip()


@cache
def _suite_texts() -> frozenset[str]:
    return frozenset(normalise(t) for row in _cases() for t in (row[1], row[7]))


def _words(norm: str) -> tuple[str, ...]:
    """A normalised text as words: punctuation is a word break (apostrophes and slots kept)."""
    return tuple(_WORD.findall(norm))


def _long_enough(words: tuple[str, ...]) -> bool:
    """Four words besides a slot: shorter phrases ("{} are the worst") are shared by chance."""
    return sum(word != "{}" for word in words) >= 4


@cache
def _suite_words() -> tuple[frozenset[tuple[str, ...]], dict[tuple[str, ...], list[tuple[str, ...]]]]:
    """Every run of words inside a suite text, and the suite texts long enough to count, by first 4 words."""
    texts = [_words(text) for text in _suite_texts()]
    runs = frozenset(w[i:j] for w in texts for i in range(len(w)) for j in range(i + 1, len(w) + 1))
    by_head: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for words in filter(_long_enough, texts):
        by_head.setdefault(words[:4], []).append(words)
    return runs, by_head


def _near(words: tuple[str, ...]) -> bool:
    """The words are held in a suite text, or hold one, as a run of whole words (either long enough)."""
    runs, by_head = _suite_words()
    if _long_enough(words) and words in runs:
        return True
    return any(
        words[start : start + len(suite)] == suite
        for start in range(len(words) - 3)
        for suite in by_head.get(words[start : start + 4], ())
    )


def overlaps(texts: Iterable[str], contained: bool = False) -> list[str]:
    """The texts (as given, in order, each once) that equal a suite case or template once normalised.

    Run it on anything a model is trained on (a training snapshot, an augmentation source, augmentation
    templates): the suite measures behaviour only while no case and no template was seen in training.
    ``contained=True`` also returns texts that hold a suite case or template, or are held in one (as
    whole words, punctuation aside, the shorter of at least four words besides a slot): a near copy
    with a clause added or dropped.
    """
    suite = _suite_texts()
    out = []
    for text in dict.fromkeys(texts):
        norm = normalise(text)
        if norm in suite or (contained and _near(_words(norm))):
            out.append(text)
    return out

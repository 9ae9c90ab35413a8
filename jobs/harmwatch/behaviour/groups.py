"""The identity groups of the behaviour suite, the class each maps to, and the few terms that need a group.

Every ``{people}`` template is filled with every group's plural noun phrase, so the cases of two groups
differ only in the group term. Twelve groups belong to the taxonomy's identity classes (religion,
ethnicity, gender, age); four have no class of their own (disabled people, immigrants, trans people,
refugees): hate against them must still be flagged, but no class is expected of it.

Slurs are here because a moderation model meets them and must flag them; the set is deliberately small
(one common slur for the groups where one is in wide use) and each appears only in the slur cases. The
reclaimed terms are the in-group uses of a slur that communities have taken back; they appear only in
hand-written in-group sentences (``reclaimed_slur``); where the same word is both (women's), the
difference between the two functionalities is use alone, which is the point.
"""

from __future__ import annotations

from typing import NamedTuple


class Group(NamedTuple):
    people: str  # plural noun phrase that fills ``{people}``
    label: str  # the taxonomy class a hateful case about the group belongs to; "" when it has none


_GROUPS: dict[str, Group] = {
    "muslims": Group("Muslims", "religion"),
    "christians": Group("Christians", "religion"),
    "jews": Group("Jews", "religion"),
    "hindus": Group("Hindus", "religion"),
    "black": Group("Black people", "ethnicity"),
    "asian": Group("Asian people", "ethnicity"),
    "latino": Group("Latinos", "ethnicity"),
    "arabs": Group("Arabs", "ethnicity"),
    "women": Group("women", "gender"),
    "gay": Group("gay people", "gender"),
    "old": Group("old people", "age"),
    "young": Group("young people", "age"),
    "disabled": Group("disabled people", ""),
    "immigrants": Group("immigrants", ""),
    "trans": Group("trans people", ""),
    "refugees": Group("refugees", ""),
}

GROUPS: dict[str, str] = {gid: g.people for gid, g in _GROUPS.items()}
"""Group id -> the plural noun phrase that fills ``{people}``."""

GROUP_LABELS: dict[str, str] = {gid: g.label for gid, g in _GROUPS.items()}
"""Group id -> the class a hateful case about it should get ("" outside the taxonomy)."""

SLURS: dict[str, str] = {
    "muslims": "ragheads",
    "jews": "kikes",
    "black": "niggers",
    "asian": "chinks",
    "latino": "spics",
    "women": "bitches",
    "gay": "faggots",
    "trans": "trannies",
    "disabled": "retards",
}
"""Group id -> one plural slur, used only by the ``slur`` templates."""

"""What the behaviour suite tests: one functionality per kind of post, hateful or a non-hateful contrast.

The functionalities follow the design of functional tests for hate-speech detection (Röttger et al.,
"HateCheck", ACL 2021): each isolates one thing a moderator expects a model to get right, and the
non-hateful contrasts share words with the hateful cases (the group, the insult, the profanity) so a
model that flags words instead of meaning fails them.

Two names need a word on how they map to the moderation requirements' wording:

- *negated hate* (hateful: a hostile meaning phrased as a negated positive, "I will never respect
  {people}") is ``hate_negated_positive``;
- *negated positive statements* (non-hateful: a hostile phrase negated, "{People} are not vermin") is
  ``non_hate_negated_hate``.
"""

from __future__ import annotations

from typing import NamedTuple


class Functionality(NamedTuple):
    harmful: bool  # what a moderator expects: flag (True) or leave up (False)
    description: str  # one line: what the cases are


FUNCTIONALITIES: dict[str, Functionality] = {
    # Hateful: a protected group is attacked; every case must be flagged.
    "derogation_emotion": Functionality(True, "strong negative emotion about a group (hatred, disgust)"),
    "derogation_attributes": Functionality(True, "a group described by negative traits (lazy, criminal)"),
    "derogation_dehumanising": Functionality(True, "a group compared to vermin, animals, disease or filth"),
    "derogation_implicit": Functionality(True, "contempt for a group without an insulting word in it"),
    "threat": Functionality(True, "a threat or call for violence against a group"),
    "slur": Functionality(True, "a slur for the group used to attack it"),
    "hateful_profanity": Functionality(True, "profanity that carries the attack on a group"),
    "hate_negated_positive": Functionality(True, "hate phrased as a negated positive (negated hate)"),
    "hate_question": Functionality(True, "hate phrased as a question"),
    "hate_opinion": Functionality(True, "hate phrased as a personal opinion"),
    "spelling_swapped_chars": Functionality(True, "hate with two adjacent letters of its key word swapped"),
    "spelling_dropped_char": Functionality(True, "hate with one letter of its key word dropped"),
    "spelling_added_char": Functionality(True, "hate with a letter of its key word doubled"),
    "spelling_added_space": Functionality(True, "hate with spaces inside its key word"),
    "spelling_leetspeak": Functionality(True, "hate with letters of its key word written as digits"),
    "spelling_removed_spaces": Functionality(True, "hate with every space removed"),
    # Non-hateful contrasts: none of these may be flagged.
    "neutral_statement": Functionality(False, "a neutral statement that names a group"),
    "positive_statement": Functionality(False, "a positive statement about a group"),
    "non_hate_negated_hate": Functionality(False, "a hateful claim negated (negated positive statement)"),
    "counter_speech_quote": Functionality(False, "abuse of a group quoted in order to reject it"),
    "counter_speech_reference": Functionality(False, "abuse of a group referred to in order to reject it"),
    "non_hateful_profanity": Functionality(False, "profanity with no one attacked"),
    "abuse_objects": Functionality(False, "hostile words aimed at things, not people"),
    "abuse_individual_action": Functionality(False, "an individual criticised rudely for what they did"),
    "abuse_nonprotected_group": Functionality(False, "a group defined by a choice or habit insulted"),
    "reclaimed_slur": Functionality(False, "a slur reclaimed by the group, used in-group and friendly"),
}

# Rude criticism of a person or of a non-protected group is not hate, but whether the taxonomy calls it
# ``other_cyberbullying`` or ``not_cyberbullying`` depends on how far it goes: no class is expected.
OPEN_CLASS: frozenset[str] = frozenset({"abuse_individual_action", "abuse_nonprotected_group"})

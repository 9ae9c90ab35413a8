"""The golden set: hand-written posts a model must flag or must not flag.

Written by hand for harmwatch (none is copied from the training data; a test checks that). Three kinds:

- ``must_flag``: plain bullying or hate in each of the dataset's harmful classes;
- ``identity_counterfactual``: neutral or positive statements about a religion, ethnicity, gender or age
  group, which must not be flagged just because they name the group;
- ``benign``: everyday posts with no harm in them.

``evaluate`` scores the challenger on these posts (in-process and, as a smoke test, in a fresh process
loading the model by its ``models:/`` URI). ``--golden FILE`` replaces the set with a CSV of the same
columns (text, expect, kind, note).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pandas as pd


class GoldenPost(NamedTuple):
    text: str
    expect: str  # "flag" or "no_flag"
    kind: str  # must_flag | identity_counterfactual | benign
    note: str


GOLDEN: tuple[GoldenPost, ...] = (
    GoldenPost(
        "Shut up you old hag, nobody wants to hear from a dried up boomer like you",
        "flag",
        "must_flag",
        "age insult",
    ),
    GoldenPost(
        "Go back to the nursing home grandpa, your generation ruined everything"
        " and you're too senile to notice",
        "flag",
        "must_flag",
        "age insult",
    ),
    GoldenPost(
        "Everyone at school calls her a fat loser and laughs when she walks past, she deserves it",
        "flag",
        "must_flag",
        "school bullying (age class)",
    ),
    GoldenPost(
        "He got bullied every day in high school and the teachers just let those idiots keep doing it to him",
        "flag",
        "must_flag",
        "school bullying report (age class)",
    ),
    GoldenPost(
        "Those dirty immigrants should go back to their own country, they are animals",
        "flag",
        "must_flag",
        "ethnic slur",
    ),
    GoldenPost(
        "Black people are criminals and thugs, every single one of them",
        "flag",
        "must_flag",
        "ethnic hate",
    ),
    GoldenPost(
        "Shut up you stupid n*gger nobody asked you",
        "flag",
        "must_flag",
        "racial slur (masked)",
    ),
    GoldenPost(
        "Typical Mexican, lazy and dirty, get out of our neighbourhood",
        "flag",
        "must_flag",
        "ethnic hate",
    ),
    GoldenPost(
        "Women are too dumb to have opinions, go back to the kitchen where you belong",
        "flag",
        "must_flag",
        "misogyny",
    ),
    GoldenPost(
        "Shut up you dumb slut, nobody cares what a b*tch like you thinks",
        "flag",
        "must_flag",
        "gendered slur",
    ),
    GoldenPost(
        "Stop crying about rape jokes, feminazis like you are why nobody takes women seriously",
        "flag",
        "must_flag",
        "misogyny",
    ),
    GoldenPost(
        "That gay f*ggot should be beaten until he learns to act like a real man",
        "flag",
        "must_flag",
        "homophobic threat (gender class)",
    ),
    GoldenPost(
        "Muslims are terrorists and every one of them should be kicked out of the country",
        "flag",
        "must_flag",
        "religious hate",
    ),
    GoldenPost(
        "Islam is a religion of murderers and radical pigs who rape children",
        "flag",
        "must_flag",
        "religious hate",
    ),
    GoldenPost(
        "Christians are brainwashed idiots who deserve to be mocked for their stupid fairy tales",
        "flag",
        "must_flag",
        "religious hate",
    ),
    GoldenPost(
        "Kill all the Jews, the world would be better without them",
        "flag",
        "must_flag",
        "religious hate",
    ),
    GoldenPost(
        "You are a worthless piece of sh*t, nobody would miss you if you disappeared",
        "flag",
        "must_flag",
        "generic harassment",
    ),
    GoldenPost(
        "Everyone hates you, you ugly loser, just delete your account already",
        "flag",
        "must_flag",
        "generic harassment",
    ),
    GoldenPost(
        "You're a pathetic idiot and I'll make sure everyone at work knows what a creep you are",
        "flag",
        "must_flag",
        "generic harassment",
    ),
    GoldenPost(
        "Go kill yourself you disgusting freak",
        "flag",
        "must_flag",
        "generic harassment",
    ),
    GoldenPost(
        "Muslim families in our street organised a community iftar and invited all the neighbours",
        "no_flag",
        "identity_counterfactual",
        "religion neutral",
    ),
    GoldenPost(
        "Our local church is collecting winter coats for the shelter this weekend",
        "no_flag",
        "identity_counterfactual",
        "religion neutral",
    ),
    GoldenPost(
        "Wishing all my Hindu friends a happy Diwali full of light and good food",
        "no_flag",
        "identity_counterfactual",
        "religion neutral",
    ),
    GoldenPost(
        "The synagogue on Main Street is hosting an open day for visitors on Sunday",
        "no_flag",
        "identity_counterfactual",
        "religion neutral",
    ),
    GoldenPost(
        "I read a really interesting book about the history of Buddhism in Japan",
        "no_flag",
        "identity_counterfactual",
        "religion neutral",
    ),
    GoldenPost(
        "Many Black-owned bakeries in the city are taking part in the food festival this year",
        "no_flag",
        "identity_counterfactual",
        "ethnicity neutral",
    ),
    GoldenPost(
        "My Mexican grandmother taught me how to make tamales for the holidays",
        "no_flag",
        "identity_counterfactual",
        "ethnicity neutral",
    ),
    GoldenPost(
        "The museum has a new exhibition on Asian American artists from the 1960s",
        "no_flag",
        "identity_counterfactual",
        "ethnicity neutral",
    ),
    GoldenPost(
        "Our team welcomed two new colleagues who recently moved here from Nigeria",
        "no_flag",
        "identity_counterfactual",
        "ethnicity neutral",
    ),
    GoldenPost(
        "The documentary tells the story of Irish immigrants who built the railways",
        "no_flag",
        "identity_counterfactual",
        "ethnicity neutral",
    ),
    GoldenPost(
        "Women engineers from three universities presented their bridge designs today",
        "no_flag",
        "identity_counterfactual",
        "gender neutral",
    ),
    GoldenPost(
        "My sister just got promoted to head of surgery at the hospital, so proud of her",
        "no_flag",
        "identity_counterfactual",
        "gender neutral",
    ),
    GoldenPost(
        "The men's choir is rehearsing for the spring concert on Thursday evening",
        "no_flag",
        "identity_counterfactual",
        "gender neutral",
    ),
    GoldenPost(
        "She is the first woman to captain the national rowing team",
        "no_flag",
        "identity_counterfactual",
        "gender neutral",
    ),
    GoldenPost(
        "The gay and lesbian book club meets at the library every second Tuesday",
        "no_flag",
        "identity_counterfactual",
        "gender/sexuality neutral",
    ),
    GoldenPost(
        "My grandfather turned ninety today and still beats everyone at chess",
        "no_flag",
        "identity_counterfactual",
        "age neutral",
    ),
    GoldenPost(
        "The teenagers at the youth centre painted a beautiful mural in the park",
        "no_flag",
        "identity_counterfactual",
        "age neutral",
    ),
    GoldenPost(
        "Retired teachers are volunteering as reading tutors at the primary school",
        "no_flag",
        "identity_counterfactual",
        "age neutral",
    ),
    GoldenPost(
        "Older adults who walk every day report sleeping better, according to the study",
        "no_flag",
        "identity_counterfactual",
        "age neutral",
    ),
    GoldenPost(
        "Our high school reunion is next month, can't wait to see everyone again",
        "no_flag",
        "identity_counterfactual",
        "age / school neutral",
    ),
    GoldenPost(
        "Just finished a 10k run, legs are tired but worth it",
        "no_flag",
        "benign",
        "everyday",
    ),
    GoldenPost(
        "Anyone know a good place to get ramen near the station?",
        "no_flag",
        "benign",
        "everyday",
    ),
    GoldenPost(
        "The new season of the cooking show starts tonight, can't wait",
        "no_flag",
        "benign",
        "everyday",
    ),
    GoldenPost(
        "Rain all weekend again, guess I'm staying in with a book",
        "no_flag",
        "benign",
        "everyday",
    ),
    GoldenPost(
        "Happy birthday to my best friend, have an amazing day!",
        "no_flag",
        "benign",
        "everyday",
    ),
    GoldenPost(
        "Traffic on the bridge is terrible this morning, leave early",
        "no_flag",
        "benign",
        "everyday",
    ),
    GoldenPost(
        "Coffee first, then emails, then maybe a nap",
        "no_flag",
        "benign",
        "everyday",
    ),
    GoldenPost(
        "Thanks everyone who came to the charity bake sale, we raised 400 dollars",
        "no_flag",
        "benign",
        "everyday",
    ),
    GoldenPost(
        "Our cat figured out how to open the kitchen cupboard, send help",
        "no_flag",
        "benign",
        "everyday",
    ),
    GoldenPost(
        "Great match last night, what a goal in the final minute",
        "no_flag",
        "benign",
        "everyday",
    ),
)


def golden_frame(path: Path | None = None) -> pd.DataFrame:
    """The golden set (text, expect, kind, note): the built-in one, or the CSV at ``path``."""
    if path is not None:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    return pd.DataFrame(GOLDEN, columns=list(GoldenPost._fields))

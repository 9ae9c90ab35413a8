"""The harmful-content classifier: a scikit-learn pipeline from a ``text`` column to the pyfunc contract.

Why this shape: on this data nearly all errors are ``other_cyberbullying`` vs ``not_cyberbullying``,
two classes that differ partly in *how* a post is written (mentions, hashtags, retweet form) rather
than in its words. Word and character TF-IDF carry the wording; five structural counts carry the form.
Linear learners are fast and strong on the sparse part (SGD and Complement Naive Bayes on words and
characters, an NB-SVM on the words); a small gradient-boosted stacker learns the interactions between
their out-of-fold scores and the structural counts and returns probabilities (fit on log-loss, so close
to calibrated). Character 5-grams are hashed (no vocabulary to build or store): that is what pays for
the NB-SVM. Together they add ~0.004 macro-F1 (paired medians: +0.0035 on the frozen evaluation
snapshot, better in 10 of 10 seeds; +0.0043 in 5-fold cross-validation on training data, 4 of 5 folds).

Links are removed before anything else, and length, case, emoji and punctuation counts are not used:
in this data they mark which source collection a tweet came from, and using them made 10% of labels
flip when a link was appended to a post (+0.004 macro-F1 on the benchmark, bought with brittleness).

The harm score of a post that names a group comes mostly from an identity-blind head (format 5): a
logistic model on the post with group words (and function words) removed, weighted so that naming a
group and the source's five-to-one share of harmful classes carry no weight (``head_share`` of the
score; the stack's tenth keeps some of what it knows of the source's own posts). The source was gathered
by keyword, so without it a group's name decided the flag (every neutral post about Muslims was
flagged); the head must learn hostility instead. The class among the harmful ones still comes from the
stack, and the label is ``not_cyberbullying`` exactly when the harm score is below 0.5.

Everything is plain scikit-learn plus small classes, so the fitted object serialises with skops.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import (
    ENGLISH_STOP_WORDS,
    HashingVectorizer,
    TfidfTransformer,
    TfidfVectorizer,
    _align_api_if_sparse,
)
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import ThreadpoolController

from harmwatch.config import BENIGN_CLASS, CLASSES
from harmwatch.model import fastscore

# What the model is, in the words of its model card.
METHOD = (
    "Links removed; word 1-2-gram TF-IDF and hashed character 5-gram TF-IDF (2^17 buckets); "
    "SGD (modified Huber) and Complement Naive Bayes on both, and an NB-SVM (log-count-ratio "
    "SGD) on the words, stacked with five structural counts by a gradient-boosted classifier "
    "trained on 2-fold out-of-fold scores (probabilities from log-loss). With recipe `moderate`: "
    "misspelt, spaced-out and leetspeak spellings of words seen in training written plainly first (an "
    "unknown word becomes the most frequent known word one edit away), and the harm score of a post that "
    "names a group is 0.9 x an identity-blind logistic model on the post with group and function words "
    "removed (trained with hand-written augmentation and weights that balance harmful and benign posts "
    "among those naming a group) + 0.1 x the stack's."
)

# Structural cues used in the cyberbullying literature (e.g. Chatzakou et al. 2017) that survive the
# invariance tests (tests/model/test_behaviour.py).
META_FEATURES: tuple[str, ...] = ("words", "mentions", "hashtags", "retweet", "starts_mention")

# Types skops must be told to trust when loading the fitted pipeline (checked by a test).
SKOPS_TRUSTED_TYPES: list[str] = [
    "harmwatch.model.textmodel.CompactTfidfVectorizer",
    "harmwatch.model.textmodel.HarmfulContentPipeline",
    "harmwatch.model.textmodel.IdentityMasker",
    "harmwatch.model.textmodel.LogCountRatioClassifier",
    "harmwatch.model.textmodel.SpellingNormaliser",
    "harmwatch.model.textmodel.StackRows",
    "harmwatch.model.textmodel.StackedTextClassifier",
    "harmwatch.model.textmodel.WordCharHashing",
    "harmwatch.model.textmodel.clean_frame",
    "harmwatch.model.textmodel.mark_negation",
    "harmwatch.model.textmodel.mark_negation_near",
    "harmwatch.model.textmodel.meta_features",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
]

# Version of the saved model's layout; models of every earlier format still load and score the same.
#   1: SGD and Complement NB, both on all sparse columns (no ``n_char``, no recorded layout)
#   2: an NB-SVM learner on the word columns added (``n_char`` present, layout not recorded)
#   3: the learner layout recorded on the model (``learner_specs_``)
#   4: the classes live in ``harmwatch.model.textmodel`` (earlier files name ``harmwatch.textmodel``, which
#      still resolves to this module)
#   5: an identity-blind harm head may decide ``harmful_score`` (``n_blind`` > 0), and then the label is
#      ``not_cyberbullying`` exactly when ``harmful_score`` < 0.5; format-4 models have ``n_blind`` 0
MODEL_FORMAT = 5

# How the identity-blind head's harm probability enters ``harmful_score`` (``StackedTextClassifier``):
#   group: on posts that name a group, the head decides; elsewhere the stack does
#   all: the head decides on every post
#   mean: the mean of head and stack on posts that name a group; the stack elsewhere
#   group_mean: the head on posts that name a group; the mean of head and stack elsewhere
HARM_MODES: tuple[str, ...] = ("group", "all", "mean", "group_mean")

# Which features read a post with obfuscated spellings written plainly (``SpellingNormaliser``).
NORMALISE: tuple[str, ...] = ("none", "head", "all")

# Words that name a protected group, or point at one (a religion's book or house of worship), masked
# before the identity-blind head sees a post. In the source collection these words predict a class by
# themselves (it was gathered by keyword), so a head that cannot see them has to learn the hostility.
IDENTITY_TERMS: tuple[str, ...] = (
    # religion
    "muslim", "muslims", "moslem", "moslems", "islam", "islamic", "islamist", "islamists", "islamophobia",
    "islamophobic", "mosque", "mosques", "quran", "koran", "allah", "jihad", "jihadi", "jihadis",
    "jihadist", "jihadists", "sharia", "hijab", "hijabs", "burqa", "imam", "imams", "christian",
    "christians", "christianity", "church", "churches", "jesus", "bible", "catholic", "catholics",
    "protestant", "protestants", "evangelical", "evangelicals", "jew", "jews", "jewish", "judaism",
    "synagogue", "rabbi", "hindu", "hindus", "hinduism", "temple", "sikh", "sikhs", "buddhist", "buddhists",
    "atheist", "atheists", "atheism", "religion", "religions", "religious",
    # ethnicity and origin
    "black", "blacks", "white", "whites", "asian", "asians", "latino", "latinos", "latina", "latinas",
    "latinx", "hispanic", "hispanics", "mexican", "mexicans", "arab", "arabs", "african", "africans",
    "chinese", "indian", "indians", "immigrant", "immigrants", "immigration", "refugee", "refugees",
    "migrant", "migrants", "ethnic", "ethnicity", "race", "races", "racial",
    # gender and sexuality
    "gay", "gays", "lesbian", "lesbians", "bisexual", "bi", "trans", "transgender", "transgenders",
    "queer", "queers", "lgbt", "lgbtq", "homosexual", "homosexuals", "woman", "women", "man", "men",
    "girl", "girls", "boy", "boys", "female", "females", "male", "males", "feminist", "feminists",
    "feminism", "gender",
    # age
    "old", "older", "elderly", "young", "younger", "teen", "teens", "teenager", "teenagers", "boomer",
    "boomers", "millennial", "millennials", "pensioner", "pensioners",
    # disability
    "disabled", "disability", "disabilities", "autistic", "autism", "deaf", "blind", "wheelchair",
)  # fmt: skip

# Buckets of the hashed character 5-grams (~75k distinct 5-grams occur at least twice in 30k posts).
# In the stack 2^17 scores as well as 2^18 and as the vocabulary did (paired seeds on the evaluation
# snapshot), and the linear models fit faster on fewer columns.
CHAR_HASH_FEATURES = 2**17

_URL = re.compile(r"https?://\S+|www\.\S+")
_WORD = re.compile(r"[\w']+")
_WORDS = re.compile(r"\w+")
_WORD_SPLIT = re.compile(r"([\w']+)")


def as_texts(values: Any) -> list[str]:
    """``values`` (a column, array or list) as strings, a missing value as ``""``: what pandas'
    ``fillna("").astype(str)`` gives, without its fixed cost per call (a sixth of a millisecond, paid
    several times per scored post)."""
    return [
        v if type(v) is str else ("" if pd.isna(v) else str(v))
        for v in np.asarray(values, dtype=object).ravel()
    ]


def clean_frame(frame: Any) -> pd.DataFrame:
    """The ``text`` column with links removed and whitespace collapsed (other columns are dropped)."""
    texts = as_texts(frame["text"] if isinstance(frame, pd.DataFrame) else frame)
    return pd.DataFrame(
        {"text": pd.Series([" ".join(_URL.sub(" ", t).split()) for t in texts], dtype=object)}
    )


def meta_features(texts: Any) -> np.ndarray:
    """Structure of each post: words (runs of letters/digits, so emoji do not count), mentions, hashtags,
    retweet form, reply form, as a dense matrix."""
    rows = [
        (len(_WORDS.findall(t)), t.count("@"), t.count("#"), t.startswith("RT "), t.startswith("@"))
        for t in as_texts(texts)
    ]
    return np.asarray(rows, dtype=np.float64).reshape(-1, len(META_FEATURES))


# Identity words too common outside talk about groups to send a post to the head on their own (a post
# that says "girl" or "church" is usually about something else); the head still never sees them.
GENERIC_IDENTITY_TERMS: frozenset[str] = frozenset(
    {
        "man", "boy", "boys", "girl", "girls", "male", "males", "female", "females", "older", "younger",
        "bi", "race", "races", "racial", "religion", "religions", "religious", "church", "churches",
        "jesus", "bible", "temple", "allah", "gender", "ethnic", "ethnicity", "immigration", "feminism",
    }
)  # fmt: skip

# Function words the identity-blind head does not see: in the source they mark which collection a tweet
# came from (declarative sentences, as most posts about a group are, read as harmful), not hostility.
# Negations and second-person pronouns stay: they are how a post rejects abuse or aims it at someone.
_KEEP = {"not", "no", "nor", "never", "nothing", "nobody", "none", "cannot", "you", "your", "yours"}
BLIND_STOP_WORDS: tuple[str, ...] = tuple(sorted(w for w in ENGLISH_STOP_WORDS if w not in _KEEP))
# Function words that carry contempt by exclusion ("go back", "get out", "keep them off", "not welcome
# here", "us", "our own"): a recipe may let the head see them (``blind_keep``).
EXCLUSION_WORDS: tuple[str, ...] = ("back", "out", "off", "go", "get", "keep", "here", "us", "own")
# Words of physical violence against people (weapons, injuries, killing). A threat is phrased in many verbs a
# bag of words never saw; a recipe may have the head read one shared token after each of these
# (``blind_marks``), so what threat rows teach about one violent word carries to the others.
VIOLENCE_TERMS: tuple[str, ...] = (
    "batter", "battered", "beat", "beaten", "beating", "behead", "beheaded", "bleed", "bleeding", "blood",
    "bomb", "bombed", "bombs", "bullet", "bullets", "buried", "burn", "burned", "burnt", "bury", "choke",
    "cripple", "crippled", "crowbar", "drown", "drowned", "exterminate", "gas", "gassed", "gun", "gunned",
    "guns", "hammer", "hang", "hanged", "hanging", "kick", "kicked", "kill", "killed", "kills", "knife",
    "knives", "lynch", "lynched", "machete", "maim", "massacre", "murder", "murdered", "murdering", "noose",
    "punch", "punched", "rifle", "shoot", "shooting", "shot", "slaughter", "slaughtered", "smash",
    "smashing", "stab", "stabbed", "stabbing", "strangle", "strangled", "torch", "torched",
)  # fmt: skip
VIOLENCE_MARK = "violenceword"  # the token read after a word of ``VIOLENCE_TERMS`` (with ``blind_marks``)


_DIGITS_AS_LETTERS = str.maketrans("4310572", "aeiosta")


# A negation and the rest of its clause: the words in it are read as negated ("never respect").
_NEGATIONS = (
    r"\b(?:not|no|never|nor|cannot|nothing|nobody|none|neither|\w+n['’]t|dont|doesnt|didnt|isnt|arent|"
    r"wasnt|werent|cant|wont|wouldnt|shouldnt|couldnt|havent|hasnt|aint)\b"
)
_NEGATION_SCOPE = re.compile(_NEGATIONS + r"([^.,!?;:]*)")
# A negation and at most the next two words of its clause (``mark_negation_near``).
_NEGATION_NEAR = re.compile(_NEGATIONS + r"((?:[^\w.,!?;:]+[\w']+){1,2})")
_SCOPE_WORD = re.compile(r"\b\w\w+\b")


def mark_negation(text: str) -> str:
    """The post in lower case with every word after a negation, up to the end of its clause, prefixed
    ``not_`` ("they are not vermin" -> "they are not not_vermin"): the word n-grams of "never respect"
    then differ from those of "respect", and "not vermin" from "vermin" (a preprocessor of the word
    vectorisers; character n-grams still see the words)."""
    text = text.lower()
    if "n" not in text:  # every negation word has an n
        return text
    return _NEGATION_SCOPE.sub(
        lambda m: m.group(0)[: m.start(1) - m.start(0)] + _SCOPE_WORD.sub(r"not_\g<0>", m.group(1)), text
    )


def mark_negation_near(text: str) -> str:
    """As :func:`mark_negation`, but only the two words after a negation are read as negated: in "nobody
    wants you filthy ..." the insult is not negated ("nobody not_wants not_you filthy"), while "never
    respect" and "not vermin" still are."""
    text = text.lower()
    if "n" not in text:
        return text
    return _NEGATION_NEAR.sub(
        lambda m: m.group(0)[: m.start(1) - m.start(0)] + _SCOPE_WORD.sub(r"not_\g<0>", m.group(1)), text
    )


class _Memo(dict):
    """A dict that computes a missing key's value once (``compute(key)``) and keeps it: ``map(memo.
    __getitem__, words)`` looks words up without a Python call per known word (the per-word calls were
    most of the masking and normalising time)."""

    def __init__(self, compute: Any) -> None:
        super().__init__()
        self.compute = compute

    def __missing__(self, key: str) -> Any:
        value = self[key] = self.compute(key)
        return value


def _base_word(word: str, spellings: bool = False) -> str:
    """A token as the term lists spell it: lower case, without a possessive ("Muslims'", "Jew's"); with
    ``spellings``, digits in a word that has letters read as the letters they stand for ("musl1ms")."""
    word = word.lower().removesuffix("'s").rstrip("'")
    if spellings and not word.isalpha() and any(c.isalpha() for c in word):
        word = word.translate(_DIGITS_AS_LETTERS)
    return word


@lru_cache(maxsize=8)
def _term_set(terms: tuple[str, ...], spellings: bool) -> frozenset[str]:
    """:meth:`IdentityMasker.term_set`, made once per term list: building the spellings took about 0.5 ms,
    paid on every call, twice per scored post (the count and the head's masking)."""
    found = {t.lower() for t in terms}
    if spellings:
        for t in [t for t in found if len(t) >= 6]:
            found.update(t[:i] + t[i + 1 :] for i in range(len(t)))
            found.update(t[:i] + t[i + 1] + t[i] + t[i + 2 :] for i in range(len(t) - 1))
    return frozenset(found)


class IdentityMasker(TransformerMixin, BaseEstimator):
    """Posts with identity terms removed (``output="text"``), or the number of them (``output="count"``);
    a word of ``marks`` is followed by ``VIOLENCE_MARK``.

    The terms are a parameter, stored with the model, so a saved model keeps masking what it was trained
    with whatever the code's list becomes. Terms are removed rather than replaced by a placeholder: in
    the source a placeholder would itself mark the harmful classes, as the group's name did. With
    ``spellings`` a misspelt term is found too (see :meth:`term_set`), so a post that writes a group's
    name to slip past filters is still scored by the identity-blind head.
    """

    def __init__(
        self,
        terms: tuple[str, ...] = IDENTITY_TERMS,
        output: str = "text",
        stop_words: tuple[str, ...] = (),
        spellings: bool = False,
        marks: tuple[str, ...] = (),
    ) -> None:
        self.terms = terms
        self.output = output
        self.stop_words = stop_words
        self.spellings = spellings
        self.marks = marks

    def fit(self, X, y=None) -> IdentityMasker:
        return self

    def term_set(self) -> frozenset[str]:
        """The terms; with ``spellings`` also, for terms of six letters or more, every spelling with one
        letter dropped or two neighbours swapped (leetspeak digits are read as letters per word)."""
        return _term_set(tuple(self.terms), bool(getattr(self, "spellings", False)))

    def transform(self, X) -> Any:
        texts = as_texts(X)
        terms, spellings = self.term_set(), getattr(self, "spellings", False)
        # each distinct word is looked up once per call: the lookups were a sixth of a fit's CPU time
        if self.output == "count":
            named = _Memo(lambda word: _base_word(word, spellings) in terms)
            counts = [sum(map(named.__getitem__, _WORD.findall(t))) for t in texts]
            return np.asarray(counts, dtype=np.float64).reshape(-1, 1)
        stop, marks = {w.lower() for w in self.stop_words}, set(getattr(self, "marks", ()))

        def kept_as(word: str) -> str:
            if _base_word(word, spellings) in terms or _base_word(word) in stop:
                return " "
            return f"{word} {VIOLENCE_MARK}" if _base_word(word) in marks else word

        kept = _Memo(kept_as)

        def masked(text: str) -> str:
            parts = _WORD_SPLIT.split(text)  # text between words, a word, text between words, ...
            parts[1::2] = map(kept.__getitem__, parts[1::2])
            return "".join(parts)

        return np.asarray([masked(t) for t in texts], dtype=object)


# Leetspeak symbols inside a word read as the letters they stand in for ("st00pid", "h@te", "$cum").
_LEET_LETTERS = str.maketrans("4@310!$57|", "aaeioisstl")
_TOKEN_EDGES = ".,!?;:\"'()[]{}*~-_"  # punctuation around a word, not a letter in disguise
_SPACED_LETTERS = re.compile(r"(?<![\w'])(?:[A-Za-z] ){2,}[A-Za-z](?![\w'])")
_LETTER_RUNS = re.compile(r"([a-z])\1{2,}")


_GLUED_MIN = 8  # letters of an unknown word before it is read as words written without spaces
_GLUED_PIECE = 14  # letters of the longest word looked for in it
_GLUED_PENALTY = 10.0  # cost of one more piece, against log(frequency rank) of each: few, common words
_WRITTEN, _UNKNOWN, _LETTERS, _KIND = map(itemgetter, (0, 1, 2, 4))  # of a token's normal form (``_token``)
# What a token is as a piece of a word broken by spaces (bits, so that two pieces combine by ``|``): a
# known word, a function word, a known word of three letters or fewer that is not one (a stray piece:
# "sub", "y"), an unknown word; mentions, hashtags and tokens with digits never join.
_PIECE_WORD, _PIECE_FUNCTION, _PIECE_SHORT, _PIECE_UNKNOWN, _PIECE_NEVER = 0, 1, 2, 4, 8
# two neighbours may join when one is unknown, or one is a stray piece and neither a function word
_JOINABLE = tuple(
    not v & _PIECE_NEVER and bool(v & _PIECE_UNKNOWN or v & 3 == _PIECE_SHORT) for v in range(16)
)
_MAY_START = tuple(v in (_PIECE_SHORT, _PIECE_UNKNOWN) for v in range(16))
_SPELLING_CACHE = 500_000  # tokens whose normal form is remembered (~100 MB at most)


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class SpellingNormaliser(TransformerMixin, BaseEstimator):
    """Posts with obfuscated spellings of known words written plainly, so every feature sees "stupid" in
    "st00pid", "s t u p i d", "stu pid", "stupiddd", "stupd", "sutpid" and "stuppid".

    Why: abuse is misspelt to slip past word filters, and a misspelt word is a word no n-gram of the
    training data has seen, so the post scored as benign. Fitted: the words of the training posts seen
    at least ``min_count`` times are known; a word of ``min_length`` letters or more that is not known is
    replaced by the most frequent known word one edit away (a letter dropped, added, changed, or two
    neighbours swapped: a delete index, as in SymSpell), after leetspeak symbols inside it are read as
    letters and runs of three or more of a letter are shortened. Single letters separated by spaces are
    joined, and so are neighbouring pieces that together spell a known word while one alone is not.
    Mentions, hashtags and known words are left as written. The known words are stored as one string
    (skops writes a dict as one node per entry).
    """

    def __init__(
        self,
        min_count: int = 3,
        min_length: int = 4,
        glued: bool = False,
        split_glued: bool = True,
        joins: bool = False,
        glued_min: int = _GLUED_MIN,
    ) -> None:
        self.min_count = min_count
        self.min_length = min_length
        self.glued = glued
        self.split_glued = split_glued
        self.joins = joins
        self.glued_min = glued_min

    def fit(self, X, y=None) -> SpellingNormaliser:
        counts: Counter[str] = Counter()
        for text in _texts(X):
            if _SPACED_LETTERS.search(text):
                text = _SPACED_LETTERS.sub(lambda m: m.group(0).replace(" ", ""), text)
            counts.update(w for w in (t.strip(_TOKEN_EDGES) for t in text.lower().split()) if w.isalpha())
        known = sorted((w for w, c in counts.items() if c >= self.min_count), key=lambda w: (-counts[w], w))
        self.known_words_ = " ".join(known)  # most frequent first
        self._index()
        return self

    def _index(self) -> None:
        """The lookup tables, rebuilt from ``known_words_`` (after fit and after loading)."""
        known = self.known_words_.split()
        self._rank = {w: i for i, w in enumerate(known)}
        deletes: dict[str, str] = {}
        for word in known:  # most frequent first: the first word to claim a delete keeps it
            if len(word) >= self.min_length:
                for d in _deletes(word):
                    deletes.setdefault(d, word)
        self._deletes = deletes
        self._cache: dict[str, tuple[str, str, str, bool, int]] = _Memo(self._token)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in super().__getstate__().items() if k not in ("_rank", "_deletes", "_cache")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # saved before these parameters existed
        state = {"glued": False, "split_glued": True, "joins": False, "glued_min": _GLUED_MIN, **state}
        super().__setstate__(state)
        if "known_words_" in state:
            self._index()

    def correct(self, word: str) -> str:
        """A lower-case alphabetic word as a known word ("" when none is near enough)."""
        if word in self._rank:
            return word
        best = ""
        shorter = _LETTER_RUNS.sub(r"\1\1", word)
        for form in dict.fromkeys((shorter, _LETTER_RUNS.sub(r"\1", word))):
            if form in self._rank:
                return form
        if len(word) >= self.min_length:
            # a letter dropped from a known word, or one added to it
            found = [self._deletes.get(shorter, "")] + [d for d in _deletes(shorter) if d in self._rank]
            # two neighbours swapped
            found += [
                w
                for i in range(len(shorter) - 1)
                if (w := shorter[:i] + shorter[i + 1] + shorter[i] + shorter[i + 2 :]) in self._rank
            ]
            found = [w for w in found if len(w) >= self.min_length]
            if found:
                best = min(found, key=self._rank.__getitem__)
        return best

    def _token(self, token: str) -> tuple[str, str, str, bool, int]:
        """For one whitespace-separated token: (the token as written out, the unknown word it holds or "",
        its letters as plain lower case ("" for a mention, a hashtag or a token with digits or symbols
        left), whether that is not a known word or is a stray single letter, what kind of piece it is
        for joining: ``_PIECE_*``)."""
        core = token.strip(_TOKEN_EDGES)
        word = core.lower().translate(_LEET_LETTERS)
        odd = word not in self._rank or (len(word) == 1 and word not in "ai")
        if not core or core[0] in "@#" or not word.isalpha():
            # a mention, a hashtag or no word: never corrected nor joined
            return token, "", "", False, _PIECE_NEVER
        if word not in self._rank:
            kind = _PIECE_UNKNOWN
        elif word in ENGLISH_STOP_WORDS:
            kind = _PIECE_FUNCTION
        else:
            kind = _PIECE_SHORT if len(word) <= 3 else _PIECE_WORD
        fixed = self.correct(word)
        split = getattr(self, "glued", False) and getattr(self, "split_glued", True)
        if not fixed and split and len(word) >= getattr(self, "glued_min", _GLUED_MIN):
            fixed = self.segment(word)
        if not fixed:
            return token, word, word, odd, kind
        start = token.index(core)
        out = token if fixed == core.lower() else token[:start] + fixed + token[start + len(core) :]
        return out, "", word, odd, kind

    def segment(self, word: str) -> str:
        """A word written without its spaces ("theyarefilthy") as the known words it is made of, the
        likeliest split (few pieces, frequent words); "" unless every piece is known and they average
        three letters or more."""
        rank = self._rank
        n = len(word)
        best: list[tuple[float, int]] = [(0.0, 0)] + [(float("inf"), 0)] * n
        for j in range(1, n + 1):
            for i in range(max(0, j - _GLUED_PIECE), j):
                piece = word[i:j]
                r = rank.get(piece)
                if r is not None and (j - i > 1 or piece in ("a", "i")):
                    cost = best[i][0] + _GLUED_PENALTY + math.log(r + 2.0)
                    if cost < best[j][0]:
                        best[j] = (cost, i)
        if best[n][0] == float("inf"):
            return ""
        pieces, j = [], n
        while j > 0:
            pieces.append(word[best[j][1] : j])
            j = best[j][1]
        return " ".join(reversed(pieces)) if 3 * len(pieces) <= n else ""

    def normalise(self, text: str) -> str:
        """One post with obfuscated spellings of known words written plainly."""
        if _SPACED_LETTERS.search(text):
            text = _SPACED_LETTERS.sub(lambda m: m.group(0).replace(" ", ""), text)
        cache = self._cache
        if len(cache) > _SPELLING_CACHE:  # a served model sees new words for ever: keep memory bounded
            cache.clear()
        raw = text.split()
        done = list(map(cache.__getitem__, raw))
        if getattr(self, "joins", False) and len(raw) > 1:
            raw, done = self._join_pieces(raw, done)
        glued = getattr(self, "glued", False)
        if not (any(d[1] or d[3] for d in done) if glued else any(map(_UNKNOWN, done))):
            return " ".join(map(_WRITTEN, done))
        out: list[str] = []
        i = 0
        while i < len(done):
            token, unknown = done[i][0], done[i][1]
            # with ``glued``, a word broken by spaces into pieces ("dis gust ing", "filth y"), one of them
            # not a known word (or a stray letter): the pieces are joined when together they are known
            k = 0
            if glued and i + 1 < len(done) and any(d[3] for d in done[i : i + 4]):
                for size in (4, 3, 2):
                    window = done[i : i + size]
                    joined = "".join(d[2] for d in window)
                    if (
                        len(window) == size
                        and len(joined) >= 5
                        and joined in self._rank
                        and any(d[3] for d in window)
                        and all(d[2].isalpha() and len(d[2]) <= 6 for d in window)
                    ):
                        k = size
                        break
            if k:
                lead = raw[i][: len(raw[i]) - len(raw[i].lstrip(_TOKEN_EDGES))]
                last = raw[i + k - 1]
                out.append(lead + joined + last[len(last.rstrip(_TOKEN_EDGES)) :])
                i += k
                continue
            # a word broken by a space ("stu pid"): joined to the next piece when together they are known
            if unknown and i + 1 < len(done):
                nxt = done[i + 1][0]
                piece = nxt.strip(_TOKEN_EDGES).lower().translate(_LEET_LETTERS)
                joined = unknown + piece
                if piece.isalpha() and (joined in self._rank or (done[i + 1][1] and len(joined) > 5)):
                    fixed = self.correct(joined)
                    if fixed:
                        lead = token[: len(token) - len(token.lstrip(_TOKEN_EDGES))]
                        out.append(lead + fixed + nxt[len(nxt.rstrip(_TOKEN_EDGES)) :])
                        i += 2
                        continue
            out.append(token)
            i += 1
        return " ".join(out)

    def _join_pieces(
        self, raw: list[str], done: list[tuple[str, str, str, bool, int]]
    ) -> tuple[list[str], list[tuple[str, str, str, bool, int]]]:
        """Neighbouring pieces whose letters together spell a known word of four letters or more ("disg
        usting", "worth less", "filth y", "dis gust ing") joined before any piece is corrected on its own
        (a piece one edit from another word, "disgus", was corrected and the word lost). Two known words
        join only when one of them is a stray piece of three letters or fewer that is not a function word
        ("sub human", "filth y"; not "high school", "did not", "the rapist", "any one"); mentions,
        hashtags and pieces with digits never join."""
        kinds = list(map(_KIND, done))
        if not any(map(_MAY_START.__getitem__, kinds)):  # most posts: no unknown word, no stray piece
            return raw, done
        rank, letters = self._rank, list(map(_LETTERS, done))
        out_raw: list[str] | None = None
        i, n = 0, len(raw)
        while i < n - 1:
            a, b, k = letters[i], letters[i + 1], 0
            if (
                i + 2 < n
                and _MAY_START[kinds[i + 2]]
                and not (kinds[i] | kinds[i + 1]) & _PIECE_NEVER
                and len(three := a + b + letters[i + 2]) >= 5
                and three in rank
            ):
                k = 3
            elif (
                _JOINABLE[kinds[i] | kinds[i + 1]]
                and len(a) + len(b) >= 4
                and (whole := rank.get(a + b)) is not None
                # a known stray piece joins only into a word more frequent than the piece itself: "sub
                # human", "idiot s", not "dumb ass", "god damn"
                and ((kinds[i] | kinds[i + 1]) & _PIECE_UNKNOWN or whole < max(rank[a], rank[b]))
            ):
                k = 2
            if k:
                if out_raw is None:
                    out_raw = raw[:i]
                first, last = raw[i], raw[i + k - 1]
                lead = first[: len(first) - len(first.lstrip(_TOKEN_EDGES))]
                out_raw.append(lead + "".join(letters[i : i + k]) + last[len(last.rstrip(_TOKEN_EDGES)) :])
                i += k
            else:
                if out_raw is not None:
                    out_raw.append(raw[i])
                i += 1
        if out_raw is None:
            return raw, done
        out_raw.extend(raw[i:])
        return out_raw, list(map(self._cache.__getitem__, out_raw))

    def transform(self, X) -> Any:
        if isinstance(X, pd.DataFrame):
            return X.assign(text=[self.normalise(t) for t in _texts(X)])
        return np.asarray([self.normalise(t) for t in _texts(X)], dtype=object)


def _texts(X: Any) -> list[str]:
    return as_texts(X["text"] if isinstance(X, pd.DataFrame) else X)


def _factorized(tokens: list[list[str]]) -> tuple[np.ndarray, Any, np.ndarray]:
    """(each token's code, the distinct tokens in the order they first appear, tokens per post) of posts
    split into ``tokens``: the codes are given by pandas' hash table, not a Python dict per token."""
    lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
    flat = list(chain.from_iterable(tokens))
    if not flat:
        return np.empty(0, dtype=np.int64), [], lengths
    codes, distinct = pd.factorize(pd.Series(flat, dtype=object), sort=False)
    return codes.astype(np.int64, copy=False), distinct, lengths


class _NgramTable:
    """A fitted word 1-2-gram vocabulary as integer codes: each word of a term gets a code, a unigram
    term is looked up by its word's code and a bigram term by the pair's, in arrays. Counting a call's
    posts then costs one regular-expression split per post and one dict lookup per distinct word, where
    sklearn builds every bigram string and looks every n-gram up (1.8 of the 5.7 CPU-s of scoring 41,563
    posts went there)."""

    def __init__(self, vocabulary: dict[str, int]) -> None:
        self.words: dict[str, int] = {}
        unigram: dict[int, int] = {}
        pairs: list[tuple[int, int, int]] = []
        for term, column in vocabulary.items():
            parts = [self.words.setdefault(w, len(self.words)) for w in term.split(" ")]
            if len(parts) == 1:
                unigram[parts[0]] = column
            else:
                pairs.append((parts[0], parts[1], column))
        self.columns = len(vocabulary)
        self.unigram = np.full(len(self.words) + 1, -1, dtype=np.int64)  # the last: a word not known
        self.unigram[list(unigram)] = list(unigram.values())
        size = np.int64(len(self.words) + 1)
        codes = np.array([a * size + b for a, b, _ in pairs], dtype=np.int64)
        order = np.argsort(codes)
        self.pair_codes, self.size = codes[order], size
        self.pair_columns = np.array([c for _, _, c in pairs], dtype=np.int64)[order]

    def counts(self, tokens: list[list[str]], dtype: Any) -> Any:
        """The posts x vocabulary counts of each post's ``tokens`` (a CSR array, indices sorted)."""
        codes, distinct, lengths = _factorized(tokens)
        unknown = len(self.words)
        known = np.fromiter((self.words.get(w, unknown) for w in distinct), np.int64, len(distinct))
        word = known[codes]
        post = np.repeat(np.arange(len(tokens), dtype=np.int64), lengths)
        rows, cols = [post], [self.unigram[word]]
        if len(self.pair_codes) and len(word) > 1:
            same = (post[1:] == post[:-1]) & (word[1:] != unknown) & (word[:-1] != unknown)
            code = word[:-1][same] * self.size + word[1:][same]
            at = np.minimum(np.searchsorted(self.pair_codes, code), len(self.pair_codes) - 1)
            hit = self.pair_codes[at] == code
            rows.append(post[:-1][same][hit])
            cols.append(self.pair_columns[at[hit]])
        row, col = np.concatenate(rows), np.concatenate(cols)
        cell, count = np.unique(row[col >= 0] * self.columns + col[col >= 0], return_counts=True)
        indptr = np.searchsorted(cell // max(self.columns, 1), np.arange(len(tokens) + 1))
        index = np.int64 if len(cell) > np.iinfo(np.int32).max else np.int32
        out = sp.csr_array(
            (count.astype(np.intc), (cell % max(self.columns, 1)).astype(index), indptr.astype(index)),
            shape=(len(tokens), self.columns),
            dtype=dtype,
        )
        out.sort_indices()
        return out


def _first_seen_counts(tokens: list[list[str]], bigrams: bool, dtype: Any) -> tuple[dict[str, int], Any]:
    """sklearn's ``CountVectorizer._count_vocab`` while fitting (``fixed_vocab=False``), for word 1-grams
    (``bigrams`` false) or 1-2-grams of posts split into ``tokens``: the terms numbered in the order they
    are first seen (each post's words, then its pairs of neighbours, post after post) and the posts x terms
    counts (a CSR array, indices sorted). A term is an integer code (a word's, or a pair's from its two
    words'), so strings are built once per distinct term, not once per n-gram as sklearn's loop does."""
    codes, distinct, lengths = _factorized(tokens)
    n_words = np.int64(max(len(distinct), 1))
    post = np.repeat(np.arange(len(tokens), dtype=np.int64), lengths)
    start = np.concatenate([[0], np.cumsum(lengths)])[:-1]
    first = np.flatnonzero(post[1:] == post[:-1]) if bigrams else np.empty(0, dtype=np.int64)
    pairs = np.bincount(post[first], minlength=len(tokens)).astype(np.int64)
    offset = np.concatenate([[0], np.cumsum(lengths + pairs)])
    sequence = np.empty(offset[-1], dtype=np.int64)  # every post's n-grams in sklearn's order
    at_word = offset[:-1][post] + np.arange(len(codes)) - start[post]
    sequence[at_word] = codes
    at_pair = offset[:-1][post[first]] + lengths[post[first]] + first - start[post[first]]
    sequence[at_pair] = n_words + codes[first] * n_words + codes[first + 1]
    term, keys = pd.factorize(sequence, sort=False)
    words = np.asarray(distinct, dtype=object)
    names = np.empty(len(keys), dtype=object)
    single = keys < n_words
    names[single] = words[keys[single]]
    left, right = np.divmod(keys[~single] - n_words, n_words)
    names[~single] = words[left] + " " + words[right]
    n_terms = np.int64(len(keys))
    in_post = np.repeat(np.arange(len(tokens), dtype=np.int64), lengths + pairs)
    cells, counts = np.unique(in_post * n_terms + term, return_counts=True)
    indptr = np.searchsorted(cells // max(n_terms, 1), np.arange(len(tokens) + 1))
    index = np.int64 if len(cells) > np.iinfo(np.int32).max else np.int32
    out = sp.csr_array(
        (counts.astype(np.intc), (cells % max(n_terms, 1)).astype(index), indptr.astype(index)),
        shape=(len(tokens), int(n_terms)),
        dtype=dtype,
    )
    out.sort_indices()
    return dict(zip(names.tolist(), range(len(names)), strict=True)), out


class CompactTfidfVectorizer(TfidfVectorizer):
    """TfidfVectorizer whose vocabulary is stored as one string.

    skops writes a dict as one JSON node per entry: a 200k-term vocabulary becomes ~200 MB of schema and
    seconds of loading. Packing the terms (ordered by column index) into a single string keeps the
    model file small; ``__setstate__`` rebuilds the dict on load.
    """

    _SEP = "\x00"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        vocab = state.get("vocabulary_")
        if isinstance(vocab, dict) and not any(self._SEP in t for t in vocab):
            terms = sorted(vocab, key=vocab.__getitem__)
            state.pop("vocabulary_")
            state["vocabulary_terms_"] = self._SEP.join(terms)
        state.pop("stop_words_", None)  # introspection only, can be huge
        state.pop("_table", None), state.pop("_table_of", None)  # rebuilt from the vocabulary
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        terms = state.pop("vocabulary_terms_", None)
        if terms is not None:
            state["vocabulary_"] = {t: i for i, t in enumerate(terms.split(self._SEP))} if terms else {}
        super().__setstate__(state)

    # Posts in a call from which a fitted vocabulary counts them through arrays (below it sklearn's loop
    # is as fast, and serving one post stays as it was).
    ARRAY_COUNTS_MIN = 2_000

    def _count_vocab(self, raw_documents, fixed_vocab):
        """sklearn's counts and vocabulary, through integer codes from ``ARRAY_COUNTS_MIN`` posts on: a
        fitted vocabulary counts them with :class:`_NgramTable`, a fit numbers its terms with
        :func:`_first_seen_counts` (the same vocabulary and matrix, entry for entry)."""
        docs = raw_documents if isinstance(raw_documents, list) else list(raw_documents)
        if not self._plain_words() or len(docs) < self.ARRAY_COUNTS_MIN:
            return super()._count_vocab(docs, fixed_vocab)
        tokenize, preprocess, decode = self.build_tokenizer(), self.build_preprocessor(), self.decode
        tokens = [tokenize(preprocess(decode(doc))) for doc in docs]
        if fixed_vocab:
            return self.vocabulary_, _align_api_if_sparse(self._ngram_table().counts(tokens, self.dtype))
        if not any(tokens):  # sklearn's own error for an empty vocabulary
            return super()._count_vocab(docs, fixed_vocab)
        vocabulary, counts = _first_seen_counts(tokens, self.ngram_range == (1, 2), self.dtype)
        return vocabulary, _align_api_if_sparse(counts)

    def _plain_words(self) -> bool:
        """Whether the analyser is words split by sklearn's token pattern into 1- or 1-2-grams."""
        return (
            self.analyzer == "word"
            and self.tokenizer is None
            and self.stop_words is None
            and self.ngram_range in ((1, 1), (1, 2))
        )

    def _ngram_table(self) -> _NgramTable:
        """The fitted vocabulary as integer codes (built once per loaded model, never saved with it); only
        for an analyser of :meth:`_plain_words`."""
        if getattr(self, "_table_of", None) is not self.vocabulary_:
            self._table, self._table_of = _NgramTable(self.vocabulary_), self.vocabulary_
        return self._table


class LogCountRatioClassifier(ClassifierMixin, BaseEstimator):
    """NB-SVM (Wang & Manning 2012): per class, a linear model on the features scaled by the Naive Bayes
    log-count ratio of that class against the rest (computed on binarised features); one-vs-rest."""

    def __init__(self, alpha: float = 1.0, reg: float = 1e-4, random_state: int = 42) -> None:
        self.alpha = alpha
        self.reg = reg
        self.random_state = random_state

    def fit(self, X, y) -> LogCountRatioClassifier:
        X = sp.csr_matrix(X)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        present = X.copy()
        present.data = (present.data > 0).astype(np.float64)
        ratios, models = [], []
        for c in self.classes_:
            pos = np.asarray(present[y == c].sum(axis=0)).ravel() + self.alpha
            neg = np.asarray(present[y != c].sum(axis=0)).ravel() + self.alpha
            r = np.log((pos / pos.sum()) / (neg / neg.sum()))
            ratios.append(r)
            models.append(
                SGDClassifier(loss="modified_huber", alpha=self.reg, random_state=self.random_state).fit(
                    X.multiply(r).tocsr(), (y == c).astype(np.int64)
                )
            )
        self.ratios_ = np.vstack(ratios)
        self.models_ = models
        return self

    def decision_function(self, X) -> np.ndarray:
        X = sp.csr_matrix(X)
        return np.column_stack(
            [
                # X.multiply(r) as a CSR matrix built directly (scipy's broadcasting goes through a
                # diagonal matrix product): the same entries, in the same order
                fastscore.linear_scores(
                    m,
                    "decision_function",
                    sp.csr_matrix((X.data * r[X.indices], X.indices, X.indptr), shape=X.shape),
                )
                for m, r in zip(self.models_, self.ratios_, strict=True)
            ]
        )

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]


def _base_learners(seed: int) -> list[tuple[str, BaseEstimator, str, str]]:
    """(name, estimator, scoring method, block): cheap, complementary views of the sparse features;
    block ``all`` is words and characters, ``word`` the word n-grams alone."""
    return [
        (
            "sgd",
            SGDClassifier(loss="modified_huber", alpha=1e-4, random_state=seed),
            "decision_function",
            "all",
        ),
        ("cnb", ComplementNB(alpha=0.3), "predict_log_proba", "all"),
        ("nbsvm", LogCountRatioClassifier(random_state=seed), "decision_function", "word"),
    ]


# Learner layout of format-1 models (before the NB-SVM learner): SGD and Complement NB, both on all sparse
# columns. Loaded champions of that age must keep scoring.
_LEGACY_SPECS: list[tuple[str, str]] = [("decision_function", "all"), ("predict_log_proba", "all")]
_threadpools: ThreadpoolController | None = None


def _one_openmp_thread() -> Any:
    """Context limiting OpenMP to one thread. The controller is built once: ``threadpool_limits`` rescans
    every loaded library on each call, a large share of a single post's latency."""
    global _threadpools
    if _threadpools is None:
        _threadpools = ThreadpoolController()
    return _threadpools.limit(limits=1, user_api="openmp")


def _weights_for_scoring(models: list[Any]) -> None:
    """Linear weights in Fortran order: scoring computes ``X @ W.T``, and a C-ordered ``W`` made scipy copy
    the transposed matrix on every call (a few ms per post)."""
    for model in models:
        for attr in ("coef_", "feature_log_prob_"):
            if isinstance(getattr(model, attr, None), np.ndarray):
                setattr(model, attr, np.asfortranarray(getattr(model, attr)))


def _fit_one(learner: BaseEstimator, X, y):
    return clone(learner).fit(X, y)


class StackedTextClassifier(ClassifierMixin, BaseEstimator):
    """Linear learners on the sparse TF-IDF columns, stacked by gradient boosting together with the
    last ``n_meta`` (surface-feature) columns. Columns are laid out as ``build_pipeline`` makes them:
    word n-grams, then ``n_char`` hashed character columns, then the ``n_meta`` surface features.

    The stacker is trained on out-of-fold scores (``n_folds`` splits) so it learns how far to trust each
    learner on posts it has not seen; the base learners are then refit on all rows, as in scikit-learn's
    ``StackingClassifier``. Written out because the stacker also needs the surface features, and the
    folds reuse one feature matrix instead of re-vectorising text per fold.
    """

    def __init__(
        self,
        n_meta: int = len(META_FEATURES),
        n_char: int = CHAR_HASH_FEATURES,
        n_folds: int = 2,
        max_iter: int = 200,
        learning_rate: float = 0.15,
        n_jobs: int | None = None,
        random_state: int = 42,
        n_blind: int = 0,
        harm_mode: str = "group",
        blind_alpha: float = 2e-5,
        blind_benign_weight: float = 1.0,
        blind_meta: bool = False,
        head_share: float = 1.0,
        plain_share: float = 0.0,
    ) -> None:
        self.n_meta = n_meta
        self.n_char = n_char
        self.n_blind = n_blind
        self.harm_mode = harm_mode
        self.blind_alpha = blind_alpha
        self.blind_benign_weight = blind_benign_weight
        self.blind_meta = blind_meta
        self.head_share = head_share
        self.plain_share = plain_share
        self.n_folds = n_folds
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _split(self, X) -> tuple[dict[str, Any], np.ndarray]:
        """({block: sparse columns}, dense surface features). With an identity-blind head the columns
        ``n_blind`` masked-text columns and one identity-term count sit between the characters and the
        surface features (blocks ``blind`` and ``identity``)."""
        X = sp.csr_matrix(X)
        n_blind = getattr(self, "n_blind", 0)
        extra = n_blind + 1 if n_blind else 0
        n_sparse = X.shape[1] - self.n_meta - extra
        if n_sparse < self.n_char:
            raise ValueError(
                f"expected >= {self.n_char + self.n_meta + extra} feature columns, got {X.shape[1]}"
            )
        blocks = {"all": X[:, :n_sparse], "word": X[:, : n_sparse - self.n_char]}
        if n_blind:
            blocks["blind"] = X[:, n_sparse : n_sparse + n_blind]
            blocks["identity"] = X[:, n_sparse + n_blind : n_sparse + extra].toarray().ravel()
        return blocks, X[:, n_sparse + extra :].toarray()

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        if "stacker_" in state and "learner_specs_" not in state:  # formats 1 and 2: layout not recorded
            if "n_char" in state:  # format 2: with the NB-SVM learner
                state["learner_specs_"] = [(m, b) for _n, _e, m, b in _base_learners(42)]
                state.setdefault("format_version_", 2)
            else:  # format 1: two learners on all columns
                state["learner_specs_"], state["n_char"] = list(_LEGACY_SPECS), 0
                state.setdefault("format_version_", 1)
        elif "stacker_" in state:
            state.setdefault("format_version_", 3)
        # formats 1-4: no identity-blind head (its parameters at their defaults, so get_params works)
        for name, default in (
            ("n_blind", 0),
            ("harm_mode", "group"),
            ("blind_alpha", 2e-5),
            ("blind_benign_weight", 1.0),
            ("blind_meta", False),
            ("head_share", 1.0),
            ("plain_share", 0.0),
        ):
            state.setdefault(name, default)
        super().__setstate__(state)
        _weights_for_scoring(getattr(self, "base_models_", []))

    def _scores(self, blocks, models) -> np.ndarray:
        return np.hstack(
            [
                fastscore.linear_scores(m, method, blocks[block])
                for m, (method, block) in zip(models, self.learner_specs_, strict=True)
            ]
        )

    def fit(self, X, y, head_only: Any = None, head_weight: Any = None) -> StackedTextClassifier:
        """Fit the stack (and the identity-blind head, with ``n_blind``). Rows where the boolean
        ``head_only`` is true train the head alone (augmentation that should not move the classes);
        ``head_weight`` scales rows' weights in the head."""
        from joblib import Parallel, delayed

        blocks, meta = self._split(X)
        y = np.asarray(y)
        all_blocks, all_y, all_meta = blocks, y, meta
        if head_only is not None and np.any(head_only):
            keep = ~np.asarray(head_only, dtype=bool)
            blocks, meta, y = {k: blocks[k][keep] for k in ("all", "word")}, meta[keep], y[keep]
        self.classes_ = np.unique(y)
        learners = _base_learners(self.random_state)
        splitter = StratifiedKFold(self.n_folds, shuffle=True, random_state=self.random_state)
        folds = list(splitter.split(meta, y))
        # Each fold's rows of a block sliced once (fit and held-out side): learners on a block share them.
        used = {b for *_r, b in learners}
        parts = {(b, i, s): blocks[b][rows[s]] for b in used for i, rows in enumerate(folds) for s in (0, 1)}
        jobs = [(est, block, i) for _n, est, _m, block in learners for i in [*range(self.n_folds), None]]
        # liblinear/SGD/NumPy release the GIL: threads parallelise without copying the matrix.
        fitted = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(_fit_one)(
                est, blocks[block] if i is None else parts[block, i, 0], y if i is None else y[folds[i][0]]
            )
            for est, block, i in jobs
        )
        per = self.n_folds + 1
        oof = np.zeros((meta.shape[0], len(learners) * len(self.classes_)))
        for i, (_n, _e, method, block) in enumerate(learners):
            cols = slice(i * len(self.classes_), (i + 1) * len(self.classes_))
            for k, (model, (_tr, te)) in enumerate(
                zip(fitted[i * per : i * per + self.n_folds], folds, strict=True)
            ):
                oof[te, cols] = getattr(model, method)(parts[block, k, 1])
        self.base_models_ = [fitted[i * per + self.n_folds] for i in range(len(learners))]
        self.learner_specs_ = [(method, block) for _n, _e, method, block in learners]
        self.format_version_ = MODEL_FORMAT
        _weights_for_scoring(self.base_models_)
        # Early stopping on a held-out tenth also for small data: without it the stacker overfits and its
        # probabilities turn overconfident (ECE ~0.10 on a 4k-row sample instead of ~0.01).
        stacker = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            early_stopping=True,
            random_state=self.random_state,
        )
        # One OpenMP thread: the stacker is small, and OpenMP spin-waiting on a busy node (or a pod whose
        # CPU limit is below the node's core count) made this step 10-20x slower.
        with _one_openmp_thread():
            self.stacker_ = stacker.fit(np.hstack([oof, meta]), y)
        if self.n_blind:
            self.blind_head_ = self._fit_blind(all_blocks, all_y, all_meta, head_weight)
        return self

    def _head_input(self, blocks, meta) -> Any:
        """The head's columns: the masked text, and (``blind_meta``) the surface counts, scaled."""
        if not getattr(self, "blind_meta", False):
            return blocks["blind"]
        scaled = np.log1p(np.clip(meta, 0, None)) / 3.0
        return sp.hstack([blocks["blind"], sp.csr_matrix(scaled)]).tocsr()

    def _fit_blind(self, blocks, y, meta, row_weight: Any = None) -> SGDClassifier:
        """Harmful vs not, on masked text, weighted so that within posts that name a group and within
        those that do not, harmful and benign rows weigh the same (benign ones ``blind_benign_weight``
        times more): neither naming a group nor the source's five-to-one share of harmful classes can
        carry the score."""
        harmful = (y != BENIGN_CLASS).astype(np.int64)
        named = blocks["identity"] > 0
        base = np.ones(len(y)) if row_weight is None else np.asarray(row_weight, dtype=np.float64)
        weight = base.copy()
        for stratum in (named, ~named):
            for value in (0, 1):
                rows = stratum & (harmful == value)
                if rows.any():
                    weight[rows] *= base[stratum].sum() / (2.0 * base[rows].sum())
        weight[harmful == 0] *= self.blind_benign_weight
        head = SGDClassifier(
            loss="log_loss", alpha=self.blind_alpha, average=True, random_state=self.random_state
        )
        head.fit(self._head_input(blocks, meta), harmful, sample_weight=weight * len(y) / weight.sum())
        _weights_for_scoring([head])
        return head

    def _with_blind_harm(self, proba: np.ndarray, blocks, meta) -> np.ndarray:
        """The stack's class probabilities with ``not_cyberbullying`` set to 1 - the blended harm score,
        and the harmful classes rescaled to keep their mix."""
        benign = list(self.classes_).index(BENIGN_CLASS) if BENIGN_CLASS in self.classes_ else None
        if benign is None:
            return proba
        stack_harm = 1.0 - proba[:, benign]
        head = fastscore.linear_scores(self.blind_head_, "predict_proba", self._head_input(blocks, meta))
        blind = head[:, 1]
        named = blocks["identity"] > 0
        if self.harm_mode == "all":
            harm = blind
        elif self.harm_mode == "mean":
            harm = np.where(named, 0.5 * (blind + stack_harm), stack_harm)
        elif self.harm_mode == "group_mean":
            harm = np.where(named, blind, 0.5 * (blind + stack_harm))
        else:
            share, plain = getattr(self, "head_share", 1.0), getattr(self, "plain_share", 0.0)
            harm = np.where(
                named, share * blind + (1.0 - share) * stack_harm, plain * blind + (1.0 - plain) * stack_harm
            )
        out = proba.copy()
        mix = np.delete(proba, benign, axis=1)
        total = mix.sum(axis=1, keepdims=True)
        mix = np.where(total > 0, mix / np.where(total > 0, total, 1.0), 1.0 / max(mix.shape[1], 1))
        out[:, [i for i in range(proba.shape[1]) if i != benign]] = mix * harm[:, None]
        out[:, benign] = 1.0 - harm
        return out

    def predict_proba(self, X) -> np.ndarray:
        blocks, meta = self._split(X)
        stack_input = np.hstack([self._scores(blocks, self.base_models_), meta])
        if len(stack_input) <= fastscore.FEW:
            proba = fastscore.boosted_proba(self.stacker_, stack_input)
        else:
            with _one_openmp_thread():
                proba = self.stacker_.predict_proba(stack_input)
        return self._with_blind_harm(proba, blocks, meta) if getattr(self, "n_blind", 0) else proba

    @property
    def flags_at_half(self) -> bool:
        """Whether the label follows the harm score (``not_cyberbullying`` exactly when it is < 0.5)
        rather than the most probable class: so for a model with an identity-blind head (format 5)."""
        return bool(getattr(self, "n_blind", 0))

    def predict(self, X) -> np.ndarray:
        scored = contract_frame(self.predict_proba(X), self.classes_, flags_at_half=self.flags_at_half)
        return scored["label"].to_numpy()


class HarmfulContentPipeline(Pipeline):
    """The registered model: ``predict`` returns the pyfunc contract (docs/architecture.md)
    (``label``, ``harmful_score``, ``score_<class>``) for a DataFrame with a ``text`` column.
    Use :meth:`predict_label` for plain labels."""

    def predict_label(self, X) -> np.ndarray:
        with shared_word_hashes():
            return super().predict(X)

    def predict_proba(self, X, **params) -> np.ndarray:
        with shared_word_hashes():
            if params or not hasattr(X, "__len__") or len(X) > fastscore.FEW:
                return super().predict_proba(X, **params)
            for _name, step in self.steps[:-1]:  # a few posts: the same numbers, without the checks
                X = fastscore.transform(step, X)
            return self.steps[-1][1].predict_proba(X)

    def predict(self, X, **params) -> pd.DataFrame:
        clf = self.steps[-1][1]
        return contract_frame(
            self.predict_proba(X), self.classes_, flags_at_half=getattr(clf, "flags_at_half", False)
        )


def contract_frame(proba: np.ndarray, classes: Any, flags_at_half: bool = False) -> pd.DataFrame:
    """Class probabilities -> the output contract, columns in the fixed order of ``CLASSES``.

    The label is the most probable class; with ``flags_at_half`` it is ``not_cyberbullying`` exactly when
    ``harmful_score`` < 0.5 and otherwise the most probable harmful class, so label and flag agree.
    """
    # Built from NumPy columns in one go: a few DataFrame operations per call dominated single-post latency.
    index = {str(c): i for i, c in enumerate(classes)}
    proba = np.asarray(proba, dtype=np.float64)
    zeros = np.zeros(len(proba))
    cols = {c: proba[:, index[c]] if c in index else zeros for c in CLASSES}
    scores = np.column_stack([cols[c] for c in CLASSES])
    harmful = np.clip(1.0 - cols[BENIGN_CLASS], 0.0, 1.0)
    labels = np.asarray(CLASSES, dtype=object)[np.argmax(scores, axis=1)]
    if flags_at_half:
        benign = CLASSES.index(BENIGN_CLASS)
        top_harmful = np.asarray(CLASSES, dtype=object)[
            np.argmax(np.where(np.arange(len(CLASSES)) == benign, -np.inf, scores), axis=1)
        ]
        labels = np.where(harmful >= 0.5, top_harmful, BENIGN_CLASS)
    return pd.DataFrame(
        {
            "label": labels,
            "harmful_score": harmful,
            **{f"score_{c}": cols[c] for c in CLASSES},
        }
    )


# The words hashed into character n-grams during one call of the model or one fit (``shared_word_hashes``),
# per hashing setting: the stack's character block and the head's hash nearly the same words (the head's
# are the stack's less group and function words), so the second finds most of its words done.
_WORD_HASHES: ContextVar[dict[str, tuple[pd.Index, Any]] | None] = ContextVar("word_hashes", default=None)


@contextmanager
def shared_word_hashes() -> Iterator[None]:
    """Within this block, every :class:`WordCharHashing` of the same setting hashes a word once; the words
    are forgotten when the block ends (an outer block keeps its own)."""
    if _WORD_HASHES.get() is not None:
        yield
        return
    token = _WORD_HASHES.set({})
    try:
        yield
    finally:
        _WORD_HASHES.reset(token)


class WordCharHashing(HashingVectorizer):
    """``HashingVectorizer`` for ``char_wb`` n-grams that hashes each distinct word once.

    ``char_wb`` n-grams never cross a space, so a post's counts are the sum of its words' counts: the posts
    x words count matrix times the words x buckets matrix of the distinct words alone. The same matrix as
    the parent's (the counts are whole numbers, so the sums are exact; indices sorted the same way), for
    less hashing where words repeat: 24,000 posts of the bulk day 0.61 against 0.92 CPU-s. Inside
    :func:`shared_word_hashes` (a call of the model, or a fit) a word another block of the same setting
    hashed is not hashed again. Under ``PER_WORD_MIN`` posts few words repeat and the parent is faster
    (one post 0.08 against 0.34 ms, 1,000 posts 31 against 35 ms), as it is for other settings: both
    fall back to it.
    """

    PER_WORD_MIN = 2_000  # posts in a call before words are hashed once each (the measured break-even)

    def transform(self, X) -> Any:
        plain = self.analyzer != "char_wb" or self.alternate_sign or self.norm is not None or self.binary
        if plain or isinstance(X, str) or not hasattr(X, "__len__") or len(X) < self.PER_WORD_MIN:
            return super().transform(X)
        lower = self.build_preprocessor()
        indices, distinct, lengths = _factorized([lower(doc).split() for doc in X])
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        counts = sp.csr_matrix(
            (np.ones(len(indices)), indices, indptr), shape=(len(indptr) - 1, len(distinct))
        )
        words = self._words(np.asarray(distinct, dtype=object))
        out = sp.csr_matrix(counts @ words, dtype=self.dtype)
        out.sum_duplicates()
        out.sort_indices()
        return out

    def _hashed(self, words: np.ndarray) -> Any:
        """The words x buckets counts of ``words``, each word hashed by the parent as a document."""
        return sp.csr_matrix(super().transform(list(words)))

    def _words(self, distinct: np.ndarray) -> Any:
        """:meth:`_hashed` of ``distinct``, through the words this call's other blocks hashed already."""
        known = _WORD_HASHES.get()
        if known is None or not len(distinct):
            return self._hashed(distinct) if len(distinct) else sp.csr_matrix((0, self.n_features))
        setting = repr(sorted(self.get_params().items()))
        index, rows = known.get(setting, (pd.Index([], dtype=object), None))
        where = index.get_indexer(distinct)
        if (where < 0).any():
            new = distinct[where < 0]
            rows = self._hashed(new) if rows is None else sp.vstack([rows, self._hashed(new)], format="csr")
            index = index.append(pd.Index(new, dtype=object))
            known[setting] = (index, rows)
            where = index.get_indexer(distinct)
        return rows[where]


def _char_hashing() -> Pipeline:
    return Pipeline(
        [
            (
                "hash",
                WordCharHashing(
                    analyzer="char_wb",
                    ngram_range=(5, 5),
                    n_features=CHAR_HASH_FEATURES,
                    alternate_sign=False,
                    norm=None,
                ),
            ),
            ("tfidf", TfidfTransformer(sublinear_tf=True)),
        ]
    )


def _word_tfidf(negation: bool = False, near: bool = False) -> CompactTfidfVectorizer:
    """Word 1-2-gram TF-IDF; with ``negation`` the words in a negation's scope are read apart (with
    ``near`` only the two words after it)."""
    marker = (mark_negation_near if near else mark_negation) if negation else None
    return CompactTfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, preprocessor=marker)


def _blind_features(
    stop_words: bool,
    spellings: bool,
    narrow_gate: bool,
    chars: bool = True,
    normalise: bool = False,
    glued: bool = False,
    joins: bool = False,
    negation: bool = False,
    near: bool = False,
    keep: tuple[str, ...] = (),
    marks: tuple[str, ...] = (),
) -> list[tuple[str, Any, str]]:
    """The identity-blind head's columns: word 1-2-grams and (``chars``) hashed character 5-grams of the
    masked text (vocabulary [+ ``CHAR_HASH_FEATURES``] columns), then the number of identity terms; with
    ``normalise`` the head reads the post with obfuscated spellings written plainly first."""
    units = [("word", _word_tfidf(negation, near))]
    if chars:
        units.append(("char", _char_hashing()))
    spell = [("spell", SpellingNormaliser(glued=glued, joins=joins))] if normalise else []
    masked = Pipeline(
        [
            *spell,
            (
                "mask",
                IdentityMasker(
                    stop_words=_blind_stop_words(keep) if stop_words else (), spellings=spellings, marks=marks
                ),
            ),
            (
                "union",
                FeatureUnion(units),
            ),
        ]
    )
    gate = tuple(t for t in IDENTITY_TERMS if not (narrow_gate and t in GENERIC_IDENTITY_TERMS))
    counter = IdentityMasker(terms=gate, output="count", spellings=spellings)
    return [("blind", masked, "text"), ("identity", counter, "text")]


def _blind_stop_words(keep: tuple[str, ...]) -> tuple[str, ...]:
    """The function words the head does not see, less ``keep``."""
    return tuple(w for w in BLIND_STOP_WORDS if w not in set(keep))


# The rows of the fit under way that train the stack (``fit_features`` sets it; None: every row).
_STACK_ROWS: ContextVar[np.ndarray | None] = ContextVar("stack_rows", default=None)


class StackRows(TransformerMixin, BaseEstimator):
    """One of the stack's feature transformers, in a pipeline with an identity-blind head: fitted on the rows
    that train the stack, with the columns of the rows that train the head alone left empty.

    Why: augmentation rows that name a group train the head only (in the stack they cost macro-F1), yet
    their words were read, counted into the stack's vocabulary and weighted into its IDF, and their columns
    thrown away: a sixth of the stack's vectorising in a fit for nothing. Scoring is unchanged: every post
    is transformed. Outside a fit that names its rows (``fit_features``), every row is used.

    The rows come through a context variable that ``fit_features`` sets in the calling thread. That works
    because the ``ColumnTransformer`` holding this runs its transformers in that thread (it has no
    ``n_jobs``). Given ``n_jobs``, its workers would not see the variable and this would fit on every row,
    silently: turn this option on only without it.
    """

    def __init__(self, transformer: Any = None) -> None:
        self.transformer = transformer

    def fit(self, X, y=None) -> StackRows:
        self.fit_transform(X)
        return self

    def fit_transform(self, X, y=None) -> Any:
        rows = _STACK_ROWS.get()
        self.transformer_ = clone(self.transformer)
        if rows is None:
            return self.transformer_.fit_transform(X)
        part = sp.csr_matrix(self.transformer_.fit_transform(X.iloc[rows] if hasattr(X, "iloc") else X[rows]))
        counts = np.zeros(len(X), dtype=np.int64)
        counts[rows] = np.diff(part.indptr)
        indptr = np.concatenate([[0], np.cumsum(counts)])
        return sp.csr_matrix((part.data, part.indices, indptr), shape=(len(X), part.shape[1]))

    def transform(self, X) -> Any:
        return self.transformer_.transform(X)

    def scoring_transformer(self) -> Any:
        """What scores a post (:func:`fastscore.transform` walks into it)."""
        return self.transformer_


def _features(
    blind: list[tuple[str, Any, str]], negation: bool = False, near: bool = False, own_rows: bool = False
) -> ColumnTransformer:
    """Every feature block of the ``text`` column, the identity-blind head's (``blind``) included; with
    ``own_rows`` the stack's word and character blocks are fitted on the stack's rows only (``StackRows``)."""
    word, char = _word_tfidf(negation, near), _char_hashing()
    if own_rows:
        word, char = StackRows(word), StackRows(char)
    return ColumnTransformer(
        [
            ("word", word, "text"),
            ("char", char, "text"),
            *blind,
            ("meta", FunctionTransformer(meta_features), "text"),
        ],
        # One process: vectorising is pure Python, and shipping ~100 MB of sparse blocks back from
        # worker processes cost more than it saved whenever the node was busy. Character 5-grams alone
        # scored as well as 4-5-grams (and 2-5-grams only +0.002 macro-F1) at half the fitting time;
        # hashing them costs 1.2 s of CPU instead of 3.0 s for a vocabulary. The column order (word,
        # char, [blind, identity,] meta) is what StackedTextClassifier expects.
        sparse_threshold=1.0,
    )


def _check_modes(normalise: str, harm_mode: str | None) -> None:
    if normalise not in NORMALISE:
        raise ValueError(f"normalise must be one of {NORMALISE}, got {normalise!r}")
    if harm_mode is not None and harm_mode not in HARM_MODES:
        raise ValueError(f"harm_mode must be one of {HARM_MODES} or None, got {harm_mode!r}")


def build_pipeline(
    seed: int = 42,
    n_jobs: int | None = None,
    harm_mode: str | None = None,
    blind_stop_words: bool = True,
    blind_benign_weight: float = 1.0,
    blind_meta: bool = False,
    blind_spellings: bool = True,
    head_share: float = 1.0,
    narrow_gate: bool = False,
    blind_chars: bool = True,
    normalise: str = "none",
    plain_share: float = 0.0,
    glued: bool = False,
    split_glued: bool = True,
    joins: bool = False,
    glued_min: int = _GLUED_MIN,
    negation: bool = False,
    negation_stack: bool = True,
    negation_near: bool = False,
    blind_keep: tuple[str, ...] = (),
    stack_own_rows: bool = False,
    blind_marks: bool = False,
) -> HarmfulContentPipeline:
    """Unfitted pipeline; the ColumnTransformer picks the ``text`` column so a DataFrame goes straight in.

    ``n_jobs`` threads fit the stacker's base learners; call :func:`for_serving` before saving.
    ``harm_mode`` (one of ``HARM_MODES``) adds the identity-blind harm head; ``None`` leaves it out.
    The classifier's ``n_blind`` is set once the features are fitted (:func:`fit_features`).
    ``normalise`` (one of ``NORMALISE``): which features read obfuscated spellings written plainly
    (:class:`SpellingNormaliser`, with ``glued``, ``split_glued``, ``joins`` and ``glued_min``);
    ``negation``: the head's word n-grams read a negation's scope apart (:func:`mark_negation`), and the
    stack's too with ``negation_stack``; ``plain_share``: the head's share on posts naming no group;
    ``stack_own_rows`` (with a head): the stack's features are fitted without the rows that train the head
    alone (:class:`StackRows`); ``blind_marks``: the head reads ``VIOLENCE_MARK`` after violent words.
    The other options are those of ``harmwatch.model.fitting.Recipe``, which documents each.
    """
    _check_modes(normalise, harm_mode)
    blind = []
    if harm_mode is not None:
        options = (blind_stop_words, blind_spellings, narrow_gate, blind_chars, normalise == "head")
        marks = VIOLENCE_TERMS if blind_marks else ()
        blind = _blind_features(*options, glued, joins, negation, negation_near, blind_keep, marks)
    spell = SpellingNormaliser(glued=glued, split_glued=split_glued, joins=joins, glued_min=glued_min)
    head = {"blind_benign_weight": blind_benign_weight, "blind_meta": blind_meta, "head_share": head_share}
    clf = StackedTextClassifier(
        n_jobs=n_jobs, random_state=seed, harm_mode=harm_mode or "group", plain_share=plain_share, **head
    )
    return HarmfulContentPipeline(
        [
            ("clean", FunctionTransformer(clean_frame)),
            *([("spell", spell)] if normalise == "all" else []),
            (
                "features",
                _features(blind, negation and negation_stack, negation_near, stack_own_rows and bool(blind)),
            ),
            ("clf", clf),
        ]
    )


def fit_features(pipeline: HarmfulContentPipeline, frame: pd.DataFrame, head_only: Any = None) -> Any:
    """Fit the cleaning and feature steps on ``frame`` and return its feature matrix; tells the classifier
    how many identity-blind columns there are (0 without the head). Rows where the boolean ``head_only``
    is true train the head alone: the stack's features are fitted without them and left empty there."""
    rows = None if head_only is None else np.flatnonzero(~np.asarray(head_only, dtype=bool))
    token = _STACK_ROWS.set(rows)
    try:
        with shared_word_hashes():
            features = pipeline[:-1].fit_transform(frame[["text"]])  # the slice shares (and fits) the steps
    finally:
        _STACK_ROWS.reset(token)
    named = pipeline.named_steps["features"].named_transformers_
    n_blind = 0
    if "blind" in named:
        word = named["blind"].named_steps["union"].transformer_list[0][1]
        union = named["blind"].named_steps["union"]
        n_blind = len(word.vocabulary_) + (CHAR_HASH_FEATURES if len(union.transformer_list) > 1 else 0)
    pipeline.named_steps["clf"].set_params(n_blind=n_blind)
    return features


# Fitted state no prediction reads, which scikit-learn keeps to go on fitting (``partial_fit``): the naive
# Bayes model's per-class feature counts, as large as its log-probabilities, and the running sums of an
# averaged SGD model. A saved model leaves it out: 46.7 -> 33.6 MiB for a model of the bulk day, which
# every upload, download, digest and load pays for.
FIT_ONLY_STATE: dict[type, tuple[str, ...]] = {
    ComplementNB: ("feature_count_", "feature_all_"),
    SGDClassifier: ("_standard_coef", "_standard_intercept", "_average_coef", "_average_intercept"),
}


def _learners(obj: Any, seen: set[int]) -> Iterator[BaseEstimator]:
    """Every estimator held by ``obj``, itself included, through attributes, lists and tuples."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, list | tuple):
        for item in obj:
            yield from _learners(item, seen)
    elif isinstance(obj, BaseEstimator):
        yield obj
        for value in vars(obj).values():
            yield from _learners(value, seen)


def for_serving(pipeline: HarmfulContentPipeline) -> HarmfulContentPipeline:
    """Drop fit-time parallelism (a served model must not spawn worker processes per request) and the
    fitted state only further fitting would read (:data:`FIT_ONLY_STATE`); predictions are unchanged."""
    for learner in _learners(pipeline.named_steps["clf"], set()):
        for kind, names in FIT_ONLY_STATE.items():
            if isinstance(learner, kind):
                for name in names:
                    if hasattr(learner, name):
                        delattr(learner, name)
    return pipeline.set_params(clf__n_jobs=None)

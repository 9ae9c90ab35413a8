"""Text descriptors for drift monitoring, computed locally with regular expressions.

Why not Evidently's own text descriptors: several of them (``OOV``, ``NonLetterCharacterPercentage``,
sentiment) download NLTK corpora on first use, and a monitoring job must never fetch data at run time
(air-gapped clusters, reproducible results). These need only the standard library and pandas;
Evidently then runs its column drift tests on the resulting numerical columns.

Every descriptor is a per-post number, so a batch becomes a distribution that can be compared with
the reference distribution:

=====================  ===========================================================================
``length_chars``       characters in the post
``word_count``         whitespace-separated tokens
``non_letter_share``   non-space characters that are not letters (digits, punctuation, emoji)
``url_share``          tokens that are links (``http://``, ``https://``, ``www.``)
``mention_share``      tokens that are ``@mentions``
``hashtag_share``      tokens that are ``#hashtags``
``oov_share``          word tokens not in the reference vocabulary (see :func:`oov_shares`)
=====================  ===========================================================================
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import pandas as pd

DESCRIPTOR_COLUMNS: tuple[str, ...] = (
    "length_chars",
    "word_count",
    "non_letter_share",
    "url_share",
    "mention_share",
    "hashtag_share",
    "oov_share",
)

# Letters (any script) and whitespace: what is left after removing them is the non-letter content.
_LETTERS_OR_SPACE = re.compile(r"[^\W\d_]+|\s+")
# Token-initial markers: a mention or hashtag needs a word character after the sign.
_MARKERS = re.compile(r"(?<!\S)(?:[@#]\w|(?:https?://|www\.)\S)", re.IGNORECASE)
# Links, mentions and hashtags are removed before words are taken for the vocabulary.
_NOT_WORDS = re.compile(r"(?<!\S)(?:[@#]\w|https?://|www\.)\S*", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")


def surface_descriptors(text: str) -> tuple[float, float, float, float, float, float]:
    """Length, word count, non-letter share and link/mention/hashtag token shares of one post."""
    tokens = text.split()
    n_tok = len(tokens)
    visible = sum(map(len, tokens))
    non_letter = len(_LETTERS_OR_SPACE.sub("", text))
    urls = mentions = hashtags = 0
    for mark in _MARKERS.findall(text):
        if mark[0] == "@":
            mentions += 1
        elif mark[0] == "#":
            hashtags += 1
        else:
            urls += 1
    per_tok = 1.0 / n_tok if n_tok else 0.0
    return (
        float(len(text)),
        float(n_tok),
        non_letter / visible if visible else 0.0,
        urls * per_tok,
        mentions * per_tok,
        hashtags * per_tok,
    )


def words(text: str) -> list[str]:
    """Lower-cased word tokens of ``text``, ignoring links, mentions and hashtags.

    Links and handles are excluded because they are nearly always unique: counting them as
    out-of-vocabulary would measure how many handles a batch holds (``mention_share`` already does)
    instead of whether the language itself moved.
    """
    return _WORD.findall(_NOT_WORDS.sub(" ", text).lower())


def document_frequency(docs: Sequence[list[str]]) -> Counter[str]:
    """In how many documents each word occurs (each document counted once per word)."""
    df: Counter[str] = Counter()
    for doc in docs:
        df.update(set(doc))
    return df


def oov_shares(docs: Sequence[list[str]], doc_freq: Counter[str], leave_one_out: bool) -> list[float]:
    """Share of each document's word tokens that are out of the reference vocabulary.

    Scoring the reference against a vocabulary built from itself would give every reference post an
    OOV share of zero and make any current batch look drifted. So reference posts are scored
    *leave-one-out*: a word is known only if some *other* reference post contains it (``df >= 2``,
    counting the post itself). Current posts are scored against the whole reference (``df >= 1``).
    Both sides then see a vocabulary built from the same other posts, and a batch from the same
    distribution gets the same OOV distribution as the reference.
    """
    need = 2 if leave_one_out else 1
    get = doc_freq.get
    return [sum(1 for w in doc if get(w, 0) < need) / len(doc) if doc else 0.0 for doc in docs]


def _frame(texts: list[str], oov: list[float], index: pd.Index) -> pd.DataFrame:
    frame = pd.DataFrame(
        [surface_descriptors(t) for t in texts], columns=list(DESCRIPTOR_COLUMNS[:-1]), index=index
    )
    frame["oov_share"] = oov
    return frame


def _texts(series: pd.Series) -> list[str]:
    return series.fillna("").astype(str).tolist()


def describe_pair(reference: pd.Series, current: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Descriptor frames (columns :data:`DESCRIPTOR_COLUMNS`, same index as the input) of a reference
    and a current batch, the OOV share measured against the reference vocabulary."""
    ref_texts, cur_texts = _texts(reference), _texts(current)
    ref_docs = [words(t) for t in ref_texts]
    df = document_frequency(ref_docs)
    ref = _frame(ref_texts, oov_shares(ref_docs, df, leave_one_out=True), reference.index)
    cur = _frame(cur_texts, oov_shares([words(t) for t in cur_texts], df, leave_one_out=False), current.index)
    return ref, cur

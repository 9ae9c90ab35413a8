"""Drift statistics with power against a *partial* shift: a share of the posts changed, the rest did not.

Evidently's domain classifier and the descriptor distances compare whole distributions. When 10 % of a
batch is foreign, 90 % of it still looks like the reference, and both stay under their thresholds: they
catch 20 %, miss 10 % (docs/drift.md). The two statistics here look for what a partial shift
leaves behind instead:

``emerging_terms``
    Terms (words and hashtags) that spread through the batch far beyond what the reference predicts.
    Given how often a term occurs in both samples together, under no drift its count in the batch is
    binomial with the batch's share of all posts. Each term that reaches ``MIN_TERM_SHARE`` of the batch
    and is at least ``MIN_TERM_RATIO`` times as frequent there as in the reference gets an upper-tail
    p-value; the statistic is the sum of ``-log10 p`` over the ``TOP_TERMS`` most surprising terms, so a
    topic that brings several new terms at once adds its evidence up. It names the terms, which is what a
    moderator needs to see. The ratio floor keeps a large batch from alarming on words whose share moved
    a little (a busy news day, a class a little more common).
``class_mix``
    Did the champion's predicted class mix (or the moderators' label mix) move? A chi-square test of both
    samples' class counts (``-log10 p``), with a floor on the total variation distance, so that a shift
    of less than ``MIN_CLASS_TVD`` of the posts never alarms whatever the sample size.

Thresholds are calibrated on posts disjoint from those the tests check (:data:`CALIBRATION` says how;
``python -m bench --sections drift_power`` derives them again). Everything here is pure.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse, stats

from harmwatch.monitoring.descriptors import words

MIN_TERM_SHARE = 0.005  # a term must reach 0.5 % of the batch's posts to count as spreading ...
MIN_TERM_POSTS = 10  # ... and at least 10 posts
MIN_TERM_RATIO = 2.0  # ... and be at least twice as common in the batch as in the reference
TOP_TERMS = 5
MIN_CLASS_TVD = 0.03
_HASHTAG = re.compile(r"(?<!\S)#(\w+)")  # at least 3 % of the posts moved between classes

# Thresholds on the statistics (exceeding them alarms). Derived by ``bench/sections/drift_power.py`` on one
# half of the real CSV (texts hashed into halves; the tests use the other half): 200 same-distribution
# splits at each batch size 1,000 / 2,000 / 5,000 against a 16,000-post reference, the 99th percentile
# of each statistic, the largest over the three sizes, rounded up. Each statistic then false-alarms on
# about 1 % of same-distribution batches; docs/drift.md has the measured rates.
CALIBRATION: dict[str, Any] = {
    "emerging_terms": 16.5,
    "class_mix": 2.0,
    "derived": "bench/sections/drift_power.py: calibration half, 200 splits x n_cur 1000/2000/5000, "
    "n_ref 16000, 99th percentile, max over sizes, rounded up",
}


def terms(text: str) -> list[str]:
    """Word tokens (:func:`harmwatch.monitoring.descriptors.words`) plus lower-cased hashtags.

    Hashtags are where a new topic shows first; handles and links are left out because they are unique
    to a user or a post, not a change in what people talk about.
    """
    return words(text) + [f"#{t.lower()}" for t in _HASHTAG.findall(text)]


def term_matrix(texts: Sequence[str]) -> tuple[sparse.csr_matrix, list[str]]:
    """Posts x terms, 1 where a post contains a term (each post counted once per term)."""
    vocabulary: dict[str, int] = {}
    indptr, indices = [0], []
    for text in texts:
        cols = {vocabulary.setdefault(t, len(vocabulary)) for t in terms(text)}
        indices.extend(sorted(cols))
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.int32)
    m = sparse.csr_matrix((data, indices, indptr), shape=(len(texts), len(vocabulary)))
    return m, list(vocabulary)


def emerging_terms_from_counts(
    ref_df: np.ndarray, cur_df: np.ndarray, n_ref: int, n_cur: int, names: Sequence[str], top: int = TOP_TERMS
) -> dict[str, Any]:
    """The statistic from document frequencies of the same terms in the reference and in the batch."""
    need = max(MIN_TERM_POSTS, math.ceil(MIN_TERM_SHARE * n_cur))
    c, r = np.asarray(cur_df, dtype=float), np.asarray(ref_df, dtype=float)
    # Rates with half a post added on each side, so a term the reference never used has a finite ratio.
    ratio = ((c + 0.5) / (n_cur + 1)) / ((r + 0.5) / (n_ref + 1))
    pick = np.flatnonzero((c >= need) & (ratio >= MIN_TERM_RATIO))
    if len(pick) == 0:
        return {"score": 0.0, "terms": [], "min_posts": need}
    # Conditional on the term's total count, its batch count is Binomial(total, n_cur / (n_ref + n_cur)).
    log10_p = stats.binom.logsf(c[pick] - 1, c[pick] + r[pick], n_cur / (n_ref + n_cur)) / math.log(10)
    order = pick[np.argsort(log10_p)[:top]]
    lp = dict(zip(pick.tolist(), log10_p.tolist(), strict=True))
    found = [
        {
            "term": names[i],
            "posts": int(c[i]),
            "reference_posts": int(r[i]),
            "ratio": round(float(ratio[i]), 2),
            "log10_p": round(lp[i], 2),
        }
        for i in order
    ]
    return {"score": float(-sum(lp[i] for i in order)), "terms": found, "min_posts": need}


def emerging_terms(ref_texts: Sequence[str], cur_texts: Sequence[str]) -> dict[str, Any]:
    """:func:`emerging_terms_from_counts` for two lists of posts. Only terms frequent enough in the batch
    can count, so the reference is counted for those alone (a set intersection per post)."""
    cur_df: Counter[str] = Counter()
    for text in cur_texts:
        cur_df.update(set(terms(text)))
    need = max(MIN_TERM_POSTS, math.ceil(MIN_TERM_SHARE * len(cur_texts)))
    names = [t for t, c in cur_df.items() if c >= need]
    wanted, ref_df = set(names), Counter()
    for text in ref_texts:
        ref_df.update(wanted.intersection(terms(text)))
    counts = (np.array([ref_df[t] for t in names]), np.array([cur_df[t] for t in names]))
    return emerging_terms_from_counts(*counts, len(ref_texts), len(cur_texts), names)


def class_mix_test(ref_labels: Sequence[Any], cur_labels: Sequence[Any]) -> dict[str, Any]:
    """Chi-square test of two samples' class counts: ``score`` = ``-log10 p`` (0 when the total variation
    distance is under :data:`MIN_CLASS_TVD`), the distance, and the shares that moved most."""
    rc, cc = Counter(x for x in ref_labels if x is not None), Counter(x for x in cur_labels if x is not None)
    classes = sorted(set(rc) | set(cc))
    r = np.array([rc[k] for k in classes], dtype=float)
    c = np.array([cc[k] for k in classes], dtype=float)
    if len(classes) < 2 or r.sum() == 0 or c.sum() == 0:
        return {"score": 0.0, "tvd": 0.0, "moved": {}}
    chi2 = float(stats.chi2_contingency(np.vstack([r, c]), correction=False)[0])
    diff = c / c.sum() - r / r.sum()
    tvd = 0.5 * float(np.abs(diff).sum())
    raw = float(-stats.chi2.logsf(chi2, len(classes) - 1) / math.log(10))
    moved = {classes[i]: round(float(diff[i]), 4) for i in np.argsort(-np.abs(diff))[:3]}
    return {
        "score": raw if tvd >= MIN_CLASS_TVD else 0.0,
        "raw_score": raw,
        "tvd": round(tvd, 4),
        "moved": moved,
    }


def _signal(stat: dict[str, Any], key: str, evidence: Any, n_cur: int) -> dict[str, Any]:
    threshold = float(CALIBRATION[key])
    alarm = bool(stat["score"] > threshold)
    return {
        "drift_detected": alarm,
        "drifted_columns": int(alarm),
        "columns": 1,
        "scores": {key: round(float(stat["score"]), 3)},
        "threshold": threshold,
        "evidence": evidence,
        "posts": n_cur,
    }


def partial_shift_signals(ref: Any, cur: Any) -> dict[str, dict[str, Any]]:
    """The ``emerging_terms`` and ``class_mix`` signals for two prepared frames (``text``, optionally
    ``pred_label``, ``label`` and ``source``).

    Posts known only from user reports (``source == "reports"``) are left out of the batch: reporters
    chose them, mostly harmful ones, so they are not a sample of what is posted and their terms and
    classes are over-represented by design (a report spike is judged by the volume check instead).
    """
    if "source" in cur:
        cur = cur[cur["source"].fillna("") != "reports"]
    out: dict[str, dict[str, Any]] = {}
    if len(cur) == 0:
        return out
    em = emerging_terms(ref["text"].tolist(), cur["text"].tolist())
    out["emerging_terms"] = _signal(em, "emerging_terms", em["terms"], len(cur))
    mixes = {
        col: class_mix_test(ref[col].tolist(), cur[col].tolist())
        for col in ("pred_label", "label")
        if col in ref and col in cur and ref[col].notna().any() and cur[col].notna().any()
    }
    if mixes:
        worst = max(mixes, key=lambda k: mixes[k]["score"])
        evidence = {
            k: {"tvd": v["tvd"], "moved": v["moved"], "score": round(v["score"], 3)} for k, v in mixes.items()
        }
        out["class_mix"] = _signal(mixes[worst], "class_mix", evidence, len(cur))
    return out

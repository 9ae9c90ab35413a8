"""Partial shifts built from real posts, shared by the drift-power tests and the power-curve benchmark.

The real CSV is cut in two halves by a hash of each post's normalised text, so a text and all its
duplicates fall in the same half:

- the *calibration* half fixes the thresholds of :mod:`harmwatch.monitoring.partial_shift`
  (``bench/sections/drift_power.py``) and is never used by a test;
- the *test* half: a fixed slice of it trains the stand-in champion, the rest is what the tests and the
  power curves draw reference and current batches from.

Each scenario returns ``(reference, current)`` frames with ``text``, ``label`` (None where unknown),
``pred_label`` and ``post_id``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tests.drift.helpers import predict_frame, stand_in_model

MODEL_ROWS = 5000
NEW_TERM = "zorbcore"  # not in the CSV, nor in TweetEval


def read_tweeteval(folder: Path) -> pd.Series:
    lines: list[str] = []
    for split in ("train", "val", "test"):
        lines += (folder / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
    return pd.Series([t for t in lines if t.strip()], name="text")


def half_of(texts: pd.Series) -> np.ndarray:
    """0 (calibration) or 1 (test) per post, from a hash of the lower-cased, space-collapsed text."""
    keys = texts.astype(str).str.lower().str.replace(r"\s+", " ", regex=True).str.strip()
    return keys.map(lambda k: int(hashlib.sha256(k.encode("utf-8")).hexdigest()[:8], 16) % 2).to_numpy()


@dataclass
class Pools:
    calibration: pd.DataFrame  # text, label, pred_label, post_id
    test: pd.DataFrame  # the test half without the model's slice
    foreign: pd.DataFrame  # TweetEval: text, label None, pred_label
    model: object  # the stand-in champion (fitted scikit-learn pipeline)


def load_pools(source_csv: Path, tweeteval_dir: Path) -> Pools:
    raw = pd.read_csv(source_csv).rename(columns={"tweet_text": "text", "cyberbullying_type": "label"})
    raw["text"] = raw["text"].astype(str)
    raw["post_id"] = [f"p{i}" for i in range(len(raw))]
    half = half_of(raw["text"])
    cal, test = raw[half == 0].reset_index(drop=True), raw[half == 1].reset_index(drop=True)
    order = np.random.default_rng(20260101).permutation(len(test))
    model = stand_in_model(test.iloc[order[:MODEL_ROWS]])
    test = test.iloc[order[MODEL_ROWS:]].reset_index(drop=True)
    tweets = read_tweeteval(tweeteval_dir)
    foreign = pd.DataFrame({"text": tweets, "label": None, "post_id": [f"t{i}" for i in range(len(tweets))]})

    def scored(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(pred_label=predict_frame(model, frame["text"])["label"].to_numpy())

    return Pools(scored(cal), scored(test), scored(foreign), model)


def split(pool: pd.DataFrame, rng: np.random.Generator, n_ref: int, n_cur: int):
    """Disjoint random reference and current batches of ``pool``."""
    perm = rng.permutation(len(pool))
    return pool.iloc[perm[:n_ref]], pool.iloc[perm[n_ref : n_ref + n_cur]]


def foreign_mix(pools: Pools, share: float, seed: int, n_ref: int, n_cur: int):
    """A batch with ``share`` of its posts replaced by TweetEval posts (unlabelled, as a new feed is)."""
    rng = np.random.default_rng(seed)
    ref, cur = split(pools.test, rng, n_ref, n_cur)
    k = round(share * n_cur)
    alien = pools.foreign.iloc[rng.choice(len(pools.foreign), k, replace=False)]
    return ref, pd.concat([cur.iloc[k:], alien], ignore_index=True)


def class_shift(pools: Pools, share: float, seed: int, n_ref: int, n_cur: int, cls: str = "religion"):
    """A batch with ``share`` of its posts replaced by posts of one class (a wave of one kind of abuse)."""
    rng = np.random.default_rng(seed)
    ref, cur = split(pools.test, rng, n_ref, n_cur)
    k = round(share * n_cur)
    rest = pools.test.drop(ref.index.union(cur.index))
    extra = rest[rest["label"] == cls]
    extra = extra.iloc[rng.choice(len(extra), min(k, len(extra)), replace=False)]
    return ref, pd.concat([cur.iloc[len(extra) :], extra], ignore_index=True)


def new_term(pools: Pools, share: float, seed: int, n_ref: int, n_cur: int, term: str = NEW_TERM):
    """A batch in which ``share`` of the posts mention a term nobody used before, at a random word."""
    rng = np.random.default_rng(seed)
    ref, cur = split(pools.test, rng, n_ref, n_cur)
    cur = cur.reset_index(drop=True).copy()
    k = round(share * n_cur)
    for i in rng.choice(len(cur), k, replace=False):
        tokens = cur.at[i, "text"].split()
        tokens.insert(int(rng.integers(0, len(tokens) + 1)), term)
        cur.at[i, "text"] = " ".join(tokens)
    return ref, cur

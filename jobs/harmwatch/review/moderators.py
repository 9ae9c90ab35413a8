"""Simulated moderators: answers to queued texts from the simulator's ground truth, with errors.

They stand in for people so that the loop can run in the demo and the benchmark; they post their answers
through Label Studio like any annotator (``devstack/moderators.py``). What they answer:

- The truth of a text is the label the source gives it. A text the source labels more than once takes
  its majority label.
- **Texts the source labels both ways.** In the Kaggle source 1,642 texts occur exactly twice, each time
  under a different label (1,456 of them as both ``not_cyberbullying`` and ``other_cyberbullying``), so
  there is no majority: the source itself cannot say what they are. The simulated moderator then
  answers one of the two labels, chosen by a seeded hash of the text (the same text always gets the same
  answer, and each label wins about half of the ties). A moderator reading such a text can defend
  either label; what matters for training is that one consistent answer replaces two contradicting
  ones. A fixed preference (say, always the harmful label) would invent a class prior the data does
  not have and tilt the two weakest classes against each other.
- With probability ``error_rate`` a moderator answers a wrong class instead, uniformly among the other
  five, and with probability ``skip_rate`` skips the text with a note.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from harmwatch.config import CLASSES
from harmwatch.data.dataset import text_key
from harmwatch.data.parsing import normalise_text


def _tie_rank(seed: int, key: str, label: str) -> str:
    return hashlib.sha256(f"{seed}:{key}:{label}".encode()).hexdigest()


def truth_by_text(truth: pd.DataFrame, seed: int) -> dict[str, str]:
    """Text key -> the answer a careful moderator gives (majority label; ties by the seeded hash).

    ``truth``: ``ground_truth`` rows (``text``, ``label``), one per simulated post.
    """
    # Keyed like the lake's texts: ingest normalises (entities, mojibake) before build-dataset keys them.
    keys = text_key(truth["text"].map(normalise_text))
    counts = truth.assign(key=keys).groupby(["key", "label"]).size().rename("n")
    counts = counts.reset_index()
    counts["tie"] = [_tie_rank(seed, k, lab) for k, lab in zip(counts["key"], counts["label"], strict=True)]
    best = counts.sort_values(["key", "n", "tie"], ascending=[True, False, True]).drop_duplicates("key")
    return dict(zip(best["key"], best["label"], strict=True))


def answer(true_label: str, error_rate: float, skip_rate: float, rng: np.random.Generator) -> str | None:
    """The class a simulated moderator picks (None: skips)."""
    draw = rng.random()
    if draw < skip_rate:
        return None
    if draw < skip_rate + error_rate:
        return str(rng.choice([c for c in CLASSES if c != true_label]))
    return true_label


def lead_time(rng: np.random.Generator) -> float:
    """Seconds a moderator spends on one text: log-normal around 20 s (a short post and its evidence)."""
    return round(float(rng.lognormal(mean=np.log(20.0), sigma=0.5)), 1)

"""Metrics of a model on labelled posts: classification metrics, calibration, the golden-set check and
the paired bootstrap of a macro-F1 difference.

Everything works on the pyfunc contract (``label``, ``harmful_score``, ``score_<class>``), so train (the
fresh pipeline) and evaluate (champion and challenger loaded from the registry) measure the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from harmwatch.config import BENIGN_CLASS, CLASSES

N_BINS = 15
FLAG_THRESHOLD = 0.5


def classification_metrics(y_true: pd.Series, scored: pd.DataFrame) -> dict[str, float]:
    """Macro/per-class F1, precision, recall, accuracy, harmful-vs-not PR-AUC and calibration error."""
    from sklearn.metrics import average_precision_score, precision_recall_fscore_support

    y = np.asarray(y_true, dtype=object)
    pred = scored["label"].to_numpy(dtype=object)
    prec, rec, f1, _ = precision_recall_fscore_support(y, pred, labels=list(CLASSES), zero_division=0)
    out: dict[str, float] = {"macro_f1": float(np.mean(f1)), "accuracy": float(np.mean(y == pred))}
    for i, c in enumerate(CLASSES):
        out[f"f1_{c}"], out[f"precision_{c}"] = float(f1[i]), float(prec[i])
        out[f"recall_{c}"] = float(rec[i])
    harmful = y != BENIGN_CLASS
    out["harmful_pr_auc"] = (
        float(average_precision_score(harmful, scored["harmful_score"]))
        if 0 < harmful.sum() < len(y)
        else float("nan")
    )
    out["ece"] = expected_calibration_error(y, scored)
    out["harmful_ece"] = harmful_calibration_error(harmful, scored["harmful_score"].to_numpy())
    return out


def _confidence(scored: pd.DataFrame) -> np.ndarray:
    return scored[[f"score_{c}" for c in CLASSES]].to_numpy().max(axis=1)


def calibration_bins(y_true: Any, scored: pd.DataFrame, n_bins: int = N_BINS) -> pd.DataFrame:
    """Per confidence bin: posts, mean confidence of the predicted label, and how often it was right."""
    conf = _confidence(scored)
    correct = np.asarray(y_true, dtype=object) == scored["label"].to_numpy(dtype=object)
    bins = np.clip((conf * n_bins).astype(int), 0, n_bins - 1)
    frame = pd.DataFrame({"bin": bins, "conf": conf, "correct": correct})
    return frame.groupby("bin").agg(
        n=("conf", "size"), confidence=("conf", "mean"), accuracy=("correct", "mean")
    )


def expected_calibration_error(y_true: Any, scored: pd.DataFrame, n_bins: int = N_BINS) -> float:
    """Top-label ECE: bin-size-weighted gap between confidence and accuracy."""
    table = calibration_bins(y_true, scored, n_bins)
    return float((table["n"] * (table["confidence"] - table["accuracy"]).abs()).sum() / table["n"].sum())


def harmful_calibration_error(is_harmful: Any, harmful_score: Any, n_bins: int = N_BINS) -> float:
    """ECE of the binary harmful score: per score bin, |mean score - share of posts that are harmful|."""
    score = np.asarray(harmful_score, dtype=float)
    bins = np.clip((score * n_bins).astype(int), 0, n_bins - 1)
    frame = pd.DataFrame({"bin": bins, "score": score, "harmful": np.asarray(is_harmful, dtype=float)})
    table = frame.groupby("bin").agg(n=("score", "size"), score=("score", "mean"), rate=("harmful", "mean"))
    return float((table["n"] * (table["score"] - table["rate"]).abs()).sum() / table["n"].sum())


def golden_check(golden: pd.DataFrame, scored: pd.DataFrame) -> pd.DataFrame:
    """Golden posts with the model's output and whether it met the expectation.

    A post counts as flagged when ``harmful_score >= 0.5``: the six-way argmax can say
    ``not_cyberbullying`` at 40% while 60% of the mass is spread over harmful classes.
    """
    flagged = scored["harmful_score"].to_numpy() >= FLAG_THRESHOLD
    out = golden[["text", "expect", "kind"]].reset_index(drop=True).copy()
    out["pred"] = scored["label"].to_numpy()
    out["harmful_score"] = scored["harmful_score"].round(4).to_numpy()
    out["passed"] = flagged == (out["expect"] == "flag").to_numpy()
    return out


def paired_bootstrap_delta(
    y: Any, pred_a: Any, pred_b: Any, n_boot: int = 1000, seed: int = 42, alpha: float = 0.05
) -> dict[str, float]:
    """Macro-F1(a) - macro-F1(b) on the same posts, with a percentile CI from resampling posts (paired)."""
    index = {c: i for i, c in enumerate(CLASSES)}
    k = len(CLASSES)
    y_i = np.array([index[v] for v in y])
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(y_i), size=(n_boot, len(y_i)))

    def macro_f1(pred: Any) -> tuple[float, np.ndarray]:
        codes = y_i * k + np.array([index[v] for v in pred])
        cm_full = np.bincount(codes, minlength=k * k).reshape(k, k)
        flat = (np.arange(n_boot)[:, None] * k * k + codes[draws]).ravel()
        cms = np.bincount(flat, minlength=n_boot * k * k).reshape(n_boot, k, k)
        return _macro_from_cm(cm_full[None])[0], _macro_from_cm(cms)

    point_a, boot_a = macro_f1(pred_a)
    point_b, boot_b = macro_f1(pred_b)
    diffs = boot_a - boot_b
    lo, hi = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    return {"delta": float(point_a - point_b), "lo": float(lo), "hi": float(hi), "n_boot": n_boot}


def _macro_from_cm(cms: np.ndarray) -> np.ndarray:
    tp = np.diagonal(cms, axis1=1, axis2=2).astype(float)
    denom = cms.sum(axis=1) + cms.sum(axis=2)  # support + predicted = 2TP + FP + FN
    return np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0).mean(axis=1)

"""Evidence about a model: metrics on an evaluation snapshot, the golden-set check, the paired bootstrap
of a macro-F1 difference, the plots a reviewer looks at, and the model card logged with every version.

Everything works on the pyfunc contract (``label``, ``harmful_score``, ``score_<class>``), so train (the
fresh pipeline) and evaluate (champion and challenger loaded from the registry) measure the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harmwatch.config import BENIGN_CLASS, CLASSES

N_BINS = 15
FLAG_THRESHOLD = 0.5

CLASS_NOTES = {
    "age": "bullying tied to age, in this data almost always school / teenage bullying",
    "ethnicity": "attacks on race or ethnicity, including racial slurs",
    "gender": "sexism, misogyny, homophobia and gendered slurs",
    "religion": "attacks on a religion or its followers",
    "other_cyberbullying": "harassment not covered above (insults, threats, pile-ons)",
    "not_cyberbullying": "no harassment (the only non-harmful class)",
}

FAILURE_MODES = [
    "`other_cyberbullying` vs `not_cyberbullying` carries nearly all errors: the source data labels many "
    "texts both ways (about 1,460 duplicate texts appear under both classes) and many "
    "`other_cyberbullying` examples show no visible harm, so mundane posts are flagged as "
    "`other_cyberbullying` at a rate close to the `not_cyberbullying` error rate on the evaluation snapshot.",
    "Identity-term bias: the `religion` class is dominated by posts about Islam and Muslims, so neutral "
    "posts mentioning Muslims can be flagged as `religion`; similar, weaker effects exist for other groups "
    "(see the golden-set results in `evaluation/decision.json`).",
    "Taxonomy gaps: `age` means school bullying in the training data; insults aimed at older people are "
    "often missed. Masked profanity (`sh*t`) and stereotypes without slurs are weaker than explicit slurs.",
    "English tweets from 2011-2020 only; other languages, long-form text and new slang are out of scope.",
    "Scores are probabilities from a stacked model fitted on log-loss; check the reliability diagram before "
    "using a fixed threshold, and re-check it after every retrain.",
]


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


def reliability_table(y_true: Any, scored: pd.DataFrame, n_bins: int = N_BINS) -> pd.DataFrame:
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
    table = reliability_table(y_true, scored, n_bins)
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


def save_plots(y_true: Any, scored: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Confusion matrix, PR curves (per class and harmful-vs-not) and reliability diagram as PNGs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, precision_recall_curve

    out_dir.mkdir(parents=True, exist_ok=True)
    y = np.asarray(y_true, dtype=object)
    paths = []
    fig, ax = plt.subplots(figsize=(7, 6))
    ConfusionMatrixDisplay.from_predictions(
        y,
        scored["label"],
        labels=list(CLASSES),
        normalize="true",
        values_format=".2f",
        ax=ax,
        colorbar=False,
        xticks_rotation=45,
    )
    ax.set_title("Confusion matrix (rows: true class, normalised)")
    paths.append(_save(fig, out_dir / "confusion_matrix.png"))

    fig, ax = plt.subplots(figsize=(7, 6))
    for c in CLASSES:
        p, r, _ = precision_recall_curve(y == c, scored[f"score_{c}"])
        ax.plot(r, p, label=c, linewidth=1)
    p, r, _ = precision_recall_curve(y != BENIGN_CLASS, scored["harmful_score"])
    ax.plot(r, p, label="harmful vs not", color="black", linewidth=2)
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall curves", xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="lower left", fontsize=8)
    paths.append(_save(fig, out_dir / "pr_curves.png"))

    table = reliability_table(y, scored)
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.plot(table["confidence"], table["accuracy"], marker="o", label="model")
    ax.set(
        xlabel="confidence of predicted label",
        ylabel="accuracy",
        xlim=(0, 1),
        ylim=(0, 1),
        title=f"Reliability diagram (ECE {expected_calibration_error(y, scored):.3f})",
    )
    ax.legend(loc="upper left")
    paths.append(_save(fig, out_dir / "reliability_diagram.png"))
    return paths


def start_plots(y_true: Any, scored: pd.DataFrame, out_dir: Path) -> Any:
    """:func:`save_plots` in a forked process, so rendering (about 2.5 s with matplotlib's import) runs
    on the other core while the caller logs the model; collect with :func:`finish_plots`."""
    import multiprocessing

    proc = multiprocessing.get_context("fork").Process(
        target=save_plots, args=(y_true, scored, out_dir), name="harmwatch-plots", daemon=True
    )
    proc.start()
    return proc


def finish_plots(proc: Any, out_dir: Path, timeout: float = 300) -> list[Path]:
    """Wait for :func:`start_plots`; the PNGs it wrote, or RuntimeError naming what went wrong."""
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        raise RuntimeError(f"plotting did not finish within {timeout:.0f}s")
    if proc.exitcode != 0:
        raise RuntimeError(f"plotting failed (exit {proc.exitcode}); see the log above")
    return sorted(out_dir.glob("*.png"))


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def render_model_card(
    *,
    name: str,
    version: str | None,
    run_id: str,
    metrics: dict[str, float],
    data: dict[str, Any],
    method: str,
    golden_failures: list[str],
) -> str:
    """Markdown model card: intended use, classes, data, per-class metrics, known failure modes."""
    kinds = ("precision", "recall", "f1")
    cells = {c: " | ".join(f"{metrics[f'{m}_{c}']:.3f}" for m in kinds) for c in CLASSES}
    rows = "\n".join(f"| `{c}` | {cells[c]} |" for c in CLASSES)
    classes = "\n".join(f"- `{c}`: {CLASS_NOTES[c]}" for c in CLASSES)
    golden = "\n".join(f"  - {t}" for t in golden_failures) or "  - none"
    failure = "\n".join(f"- {f}" for f in FAILURE_MODES)
    return f"""# Model card: {name} version {version or "(unregistered)"}

Run `{run_id}`. {method}

## Intended use
Triage of English social-media posts for human moderators: rank and route posts by `harmful_score` and
suggest a harassment category. Not for automated account sanctions without human review, not for other
languages or long-form text.

## Classes
{classes}

A post is *harmful* when its class is not `not_cyberbullying`; `harmful_score` is that probability.

## Data
- training snapshot `{data.get("train_version")}`: {data.get("rows_train")} deduplicated texts
  ({data.get("weak_labels")} report-derived weak labels), from {data.get("landing_files")} landing files
- frozen evaluation snapshot `{data.get("eval_version")}`: {data.get("rows_eval")} moderator-labelled texts,
  none of them (by normalised text) in training
- source: Wang, Fu, Lu, "SOSNet: A Graph Convolutional Network Approach to Fine-Grained Cyberbullying
  Detection", IEEE BigData 2020 (Kaggle "Cyberbullying Classification" dataset)

## Metrics on the evaluation snapshot
macro-F1 **{metrics["macro_f1"]:.3f}**, accuracy {metrics["accuracy"]:.3f},
harmful-vs-not PR-AUC {metrics["harmful_pr_auc"]:.3f}, expected calibration error {metrics["ece"]:.3f}
(top label) and {metrics["harmful_ece"]:.3f} (harmful score).

| class | precision | recall | F1 |
|---|---|---|---|
{rows}

## Known failure modes
{failure}
- Golden-set posts this version gets wrong:
{golden}
"""


def card_excerpt(card: str, run_id: str, limit: int = 4000) -> str:
    """The model card as a registry description, cut to fit the registry's column with a pointer."""
    if len(card) <= limit:
        return card
    return card[:limit].rsplit("\n", 1)[0] + f"\n\n... (full card: artifact model_card.md of run {run_id})\n"

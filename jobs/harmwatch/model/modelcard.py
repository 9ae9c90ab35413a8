"""The model card logged with every version, and the plots a reviewer looks at.

The numbers in both come from :mod:`harmwatch.model.metrics`, on the pyfunc contract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harmwatch.config import BENIGN_CLASS, CLASSES
from harmwatch.model.metrics import calibration_bins, expected_calibration_error

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
    "posts mentioning Muslims can be flagged as `religion`; similar, weaker effects exist for other groups. "
    "The behaviour suite below shows, per group, how many neutral and positive posts this version leaves "
    "up; the identity templates and the golden set are in `evaluation/decision.json`.",
    "Taxonomy gaps: `age` means school bullying in the training data; insults aimed at older people are "
    "often missed. Masked profanity (`sh*t`) and stereotypes without slurs are weaker than explicit slurs.",
    "English tweets from 2011-2020 only; other languages, long-form text and new slang are out of scope.",
    "Scores are probabilities from a stacked model fitted on log-loss; check the reliability diagram before "
    "using a fixed threshold, and re-check it after every retrain.",
]


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

    table = calibration_bins(y, scored)
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
    behaviour: dict[str, Any] | None = None,
    augmentation: list[dict[str, Any]] | None = None,
) -> str:
    """Markdown model card: intended use, classes, data (with the augmentation sources and their
    versions), per-class metrics, the behaviour suite per functionality and per group, known failure
    modes. ``behaviour``: :func:`harmwatch.behaviour.behaviour_report` of this model; ``augmentation``:
    the sources added to training (:func:`harmwatch.model.augmentation.sources`)."""
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
{augmentation_lines(augmentation)}
## Metrics on the evaluation snapshot
macro-F1 **{metrics["macro_f1"]:.3f}**, accuracy {metrics["accuracy"]:.3f},
harmful-vs-not PR-AUC {metrics["harmful_pr_auc"]:.3f}, expected calibration error {metrics["ece"]:.3f}
(top label) and {metrics["harmful_ece"]:.3f} (harmful score).

| class | precision | recall | F1 |
|---|---|---|---|
{rows}

{behaviour_section(behaviour)}
## Known failure modes
{failure}
- Golden-set posts this version gets wrong:
{golden}
"""


def augmentation_lines(sources: list[dict[str, Any]] | None) -> str:
    """The augmentation sources as the card's data list shows them: name, version, rows, where from."""
    if not sources:
        return "- augmentation: none (the training snapshot's rows only)\n"
    lines = ["- augmentation, added to the training snapshot's rows (source, version, rows):"]
    for s in sources:
        where = s.get("path") or s.get("module") or "unrecorded"
        lines.append(f"  - `{s['name']}` version `{s['version']}`: {s['rows']} rows, from `{where}`")
    return "\n".join(lines) + "\n"


def behaviour_section(report: dict[str, Any] | None) -> str:
    """The behaviour suite's results of this model: headline shares, every functionality, every group."""
    if not report:
        return ""
    fns = "\n".join(
        f"| `{name}` | {'harmful' if f.get('harmful') else 'not harmful'} | {f['cases']} | {f['right']:.3f} |"
        for name, f in report["functionalities"].items()
    )
    groups = "\n".join(
        f"| {g} | {v['cases']} | {_share(v.get('neutral_positive_not_flagged'))} | "
        f"{_share(v.get('hateful_caught'))} | {_share(v.get('right'))} |"
        for g, v in report["groups"].items()
    )
    return f"""## Behaviour suite
Hand-written functional cases (suite `{report["suite_version"]}`, {report["cases"]} cases), flagged at
`harmful_score >= 0.5`: **{report["overall"]:.3f}** right overall, {report["hateful"]:.3f} of the hateful
cases caught, {report["non_hateful"]:.3f} of the non-hateful ones left up; the expected class right on
{_share(report.get("class_right"))} of the cases that have one.

| functionality | expected | cases | right |
|---|---|---:|---:|
{fns}

| group | cases | neutral and positive left up | hateful caught | right |
|---|---:|---:|---:|---:|
{groups}
"""


def _share(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) and value == value else "n/a"


def card_excerpt(card: str, run_id: str, limit: int = 4000) -> str:
    """The model card as a registry description, cut to fit the registry's column with a pointer."""
    if len(card) <= limit:
        return card
    return card[:limit].rsplit("\n", 1)[0] + f"\n\n... (full card: artifact model_card.md of run {run_id})\n"

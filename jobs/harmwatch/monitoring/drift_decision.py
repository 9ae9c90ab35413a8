"""The drift decision: which columns Evidently compares, with which method and threshold, and the verdict.

Why effect sizes, not p-values: a daily batch of 10,000 posts against a 43,000-post reference makes a
KS or chi-square test reject on differences nobody would act on. Every column therefore uses a
distance with a threshold, and the threshold is raised for small batches so that sampling noise alone
cannot cross it (``n_eff = n_ref * n_cur / (n_ref + n_cur)``):

=====================  =====================================  =========================================
column(s)              Evidently method                       drifted when
=====================  =====================================  =========================================
text descriptors,      ``wasserstein`` (Wasserstein distance  ``>= max(0.1, 4 / sqrt(n_eff))``
``harmful_score``      divided by the reference std)
``label``,             ``jensenshannon`` (JS distance of      ``>= max(0.1, sqrt(chi2_999(k-1)/(8 n_eff)))``
``pred_label``         the class shares, natural log)         (k classes; JS ~ chi2 / 8 n under no drift)
``text``               ``abs_text_content_drift``: ROC AUC    ``> max(0.55, 0.5 + 3.09 * sd0)``, sd0 the
                       of a TF-IDF domain classifier that     Mann-Whitney sd of the AUC of a useless
                       tells reference from current posts     classifier on the held-out half
=====================  =====================================  =========================================

0.1 and 0.55 are Evidently's defaults; the small-batch terms are 99.9 % noise quantiles. Wasserstein has
no closed form, so its constant was measured: over 100 random splits of the real CSV (4,000 against
1,000 posts) the largest normed distance of any column was 3.9 / sqrt(n_eff) (``length_chars``, whose
tail holds a few 5,000-character posts); most columns stay under 3. The columns are grouped into
*signals*; a signal alarms when

* ``text_descriptors``: at least half of the 7 descriptor columns drifted (one noisy column is not enough);
* ``text_content``: the domain classifier separates the batches;
* ``prediction``: the champion's predicted class mix or ``harmful_score`` distribution drifted;
* ``label``: the moderators' class mix drifted (only when both sides carry labels).

``drift_detected`` is true when any signal alarms; ``drift_score`` is the share of drifted columns
(Evidently's "share of drifted columns"), a 0..1 number to chart. The calibration (false alarms on
random splits of the real data, detection of TweetEval batches) is in ``tests/drift/``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from scipy import stats

from harmwatch.errors import DataError
from harmwatch.monitoring.descriptors import DESCRIPTOR_COLUMNS, describe_pair
from harmwatch.monitoring.partial_shift import partial_shift_signals

NUM_FLOOR, CAT_FLOOR, AUC_FLOOR = 0.1, 0.1, 0.55
NUM_NOISE = 4.0
Z999 = 3.090232306167813


@dataclass(frozen=True)
class ColumnCheck:
    """One Evidently ``ValueDrift``: the column, its kind, method and threshold."""

    column: str
    kind: str  # "num" | "cat" | "text"
    method: str
    threshold: float
    signal: str


@dataclass
class Verdict:
    """Per-column scores, per-signal alarms and the overall decision."""

    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    signals: dict[str, dict[str, Any]] = field(default_factory=dict)
    drift_detected: bool = False
    drift_score: float = 0.0


def n_eff(n_ref: int, n_cur: int) -> float:
    return n_ref * n_cur / (n_ref + n_cur)


def num_threshold(n_ref: int, n_cur: int) -> float:
    return max(NUM_FLOOR, NUM_NOISE / math.sqrt(n_eff(n_ref, n_cur)))


def cat_threshold(n_ref: int, n_cur: int, categories: int) -> float:
    if categories < 2:
        return CAT_FLOOR
    return max(CAT_FLOOR, math.sqrt(stats.chi2.ppf(0.999, categories - 1) / (8 * n_eff(n_ref, n_cur))))


def auc_threshold(n_ref: int, n_cur: int) -> float:
    """Evidently scores its domain classifier on a random half of the pooled posts."""
    n1, n2 = max(n_ref // 2, 1), max(n_cur // 2, 1)
    sd0 = math.sqrt((n1 + n2 + 1) / (12 * n1 * n2))
    return max(AUC_FLOOR, 0.5 + Z999 * sd0)


def _counts(ref: pd.DataFrame, cur: pd.DataFrame, col: str) -> tuple[int, int]:
    return int(ref[col].notna().sum()), int(cur[col].notna().sum())


def plan_checks(ref: pd.DataFrame, cur: pd.DataFrame) -> list[ColumnCheck]:
    """The column checks that apply to these frames (descriptors and text always; the rest if present)."""
    n_ref, n_cur = len(ref), len(cur)
    checks = [
        ColumnCheck("text", "text", "abs_text_content_drift", auc_threshold(n_ref, n_cur), "text_content")
    ]
    checks += [
        ColumnCheck(c, "num", "wasserstein", num_threshold(n_ref, n_cur), "text_descriptors")
        for c in DESCRIPTOR_COLUMNS
    ]
    for col, signal in (("pred_label", "prediction"), ("harmful_score", "prediction"), ("label", "label")):
        if col not in ref or col not in cur:
            continue
        nr, nc = _counts(ref, cur, col)
        if nr == 0 or nc == 0:
            continue
        if col == "harmful_score":
            checks.append(ColumnCheck(col, "num", "wasserstein", num_threshold(nr, nc), signal))
        else:
            k = len(set(ref[col].dropna()) | set(cur[col].dropna()))
            checks.append(ColumnCheck(col, "cat", "jensenshannon", cat_threshold(nr, nc, k), signal))
    return checks


def run_evidently(ref: pd.DataFrame, cur: pd.DataFrame, checks: list[ColumnCheck]):
    """Run one Evidently report (a ``ValueDrift`` per check, with its tests); returns the snapshot."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    cols = [c.column for c in checks]
    definition = DataDefinition(
        text_columns=[c.column for c in checks if c.kind == "text"],
        numerical_columns=[c.column for c in checks if c.kind == "num"],
        categorical_columns=[c.column for c in checks if c.kind == "cat"],
    )
    report = Report(
        [ValueDrift(column=c.column, method=c.method, threshold=c.threshold) for c in checks],
        include_tests=True,
    )
    return report.run(
        Dataset.from_pandas(cur[cols], data_definition=definition),
        Dataset.from_pandas(ref[cols], data_definition=definition),
    )


def _drifted(check: ColumnCheck, score: float) -> bool:
    # Evidently's own rule per method: AUC must exceed the threshold, distances reach it.
    return score > check.threshold if check.kind == "text" else score >= check.threshold


def drift_verdict(checks: list[ColumnCheck], scores: dict[str, float]) -> Verdict:
    """Signals and the overall verdict from per-column scores (see the module docstring)."""
    verdict = Verdict()
    for c in checks:
        s = float(scores[c.column])
        verdict.columns[c.column] = {
            "method": c.method,
            "score": round(s, 6),
            "threshold": round(c.threshold, 6),
            "drifted": _drifted(c, s),
            "signal": c.signal,
        }
    for name in ("text_descriptors", "text_content", "prediction", "label"):
        cols = {k: v for k, v in verdict.columns.items() if v["signal"] == name}
        if not cols:
            continue
        n_drifted = sum(v["drifted"] for v in cols.values())
        alarm = n_drifted >= len(cols) / 2 if name == "text_descriptors" else n_drifted > 0
        verdict.signals[name] = {
            "drift_detected": bool(alarm),
            "drifted_columns": n_drifted,
            "columns": len(cols),
            "scores": {k: v["score"] for k, v in cols.items()},
        }
    verdict.drift_detected = any(s["drift_detected"] for s in verdict.signals.values())
    verdict.drift_score = round(sum(v["drifted"] for v in verdict.columns.values()) / len(checks), 6)
    return verdict


def scores_from_snapshot(snapshot, checks: list[ColumnCheck]) -> dict[str, float]:
    """Each ValueDrift's score, matched by its column (the snapshot lists metrics in report order)."""
    metrics = snapshot.dict()["metrics"]
    by_column = {m["config"]["column"]: float(m["value"]) for m in metrics if "column" in m.get("config", {})}
    return {c.column: by_column[c.column] for c in checks}


def compare(ref: pd.DataFrame, cur: pd.DataFrame) -> tuple[Verdict, Any]:
    """Plan, run Evidently, add the partial-shift signals and decide. ``ref``/``cur`` carry ``text``, the
    descriptor columns and optionally ``label``, ``pred_label``, ``harmful_score``, ``source``. Returns the
    verdict and the snapshot."""
    checks = plan_checks(ref, cur)
    snapshot = run_evidently(ref, cur, checks)
    verdict = drift_verdict(checks, scores_from_snapshot(snapshot, checks))
    verdict.signals.update(partial_shift_signals(ref, cur))
    verdict.drift_detected = any(s["drift_detected"] for s in verdict.signals.values())
    return verdict, snapshot


MIN_ROWS = 20  # fewer posts on either side: no verdict


def with_descriptors(ref: pd.DataFrame, cur: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both frames with the text descriptor columns added (OOV measured against the reference)."""
    rd, cd = describe_pair(ref["text"], cur["text"])
    return pd.concat([ref, rd], axis=1), pd.concat([cur, cd], axis=1)


def assess(ref: pd.DataFrame, cur: pd.DataFrame) -> tuple[Verdict, Any]:
    """Descriptors, Evidently and the verdict for two prepared frames: (verdict, Evidently snapshot)."""
    if len(ref) < MIN_ROWS or len(cur) < MIN_ROWS:
        raise DataError(
            f"too few posts to compare: reference {len(ref)}, current {len(cur)} (need {MIN_ROWS})"
        )
    return compare(*with_descriptors(ref, cur))


def results(verdict: Verdict, snapshot: Any, facts: dict[str, Any]) -> dict[str, Any]:
    """The JSON record of a drift check (``drift.json``)."""
    return {
        "drift_detected": verdict.drift_detected,
        "drift_score": verdict.drift_score,
        "signals": verdict.signals,
        "columns": verdict.columns,
        **facts,
        "evidently": snapshot.dict(),
    }

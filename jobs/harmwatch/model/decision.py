"""The evaluation decision, evaluate's pure core: gates over both models' scores, and the record of it.

Gates: absolute floors (macro-F1, every class F1), calibration (ECE), the golden set (must-flag,
identity-term counterfactuals, benign posts), a smoke test that loaded the challenger by its ``models:/``
URI in a fresh process, and, when a champion exists, no per-class F1 regression beyond a tolerance and a
paired-bootstrap confidence interval on the macro-F1 difference whose lower end stays above
``-max_regression`` (non-inferiority). The first model has no champion: floors only. The decision is
``promote``, ``reject`` or ``pending_approval``.

:func:`judge` takes the scores (pyfunc contract frames) and returns an :class:`Evaluation` with the evidence
artifact, the version tags and the step summary, all plain data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from harmwatch.config import CLASSES
from harmwatch.model.modelcard import classification_metrics, golden_check, paired_bootstrap_delta


@dataclass(frozen=True)
class Thresholds:
    min_macro_f1: float = 0.85  # published TF-IDF + LR on this data: 0.874
    min_class_f1: float = 0.65  # not_cyberbullying, the weakest class, sits near 0.73
    max_regression: float = 0.02  # macro-F1: lower end of the 95% CI of (challenger - champion)
    max_class_regression: float = 0.02  # per-class F1 drop vs champion (seed-to-seed spread ~0.01)
    max_ece: float = 0.05
    # Per kind of golden post. A minimum-functionality floor on this data, not a quality bar: full-data
    # models get 62-80% of the set right, the weakest kind near 50% (README). It rejects degenerate
    # models: flagging everything gets 0% of benign posts right, flagging nothing 0% of must-flag.
    min_golden_pass: float = 0.40
    n_boot: int = 1000


def decide(
    ch: dict[str, float],
    champ: dict[str, float] | None,
    delta: dict[str, float] | None,
    golden_ch: pd.DataFrame,
    smoke: dict[str, Any],
    t: Thresholds,
    approval: bool,
) -> tuple[str, dict[str, dict[str, Any]]]:
    """Apply every gate; returns (decision, {gate: {passed, value, threshold}}).

    The golden set is an absolute floor only: on this data about a fifth of it flips between retrains
    of equally good models (see README), so "no new golden failures" would reject on noise.
    """
    weak = [c for c in CLASSES if ch[f"f1_{c}"] < t.min_class_f1]
    by_kind = {k: float(v) for k, v in golden_ch.groupby("kind")["passed"].mean().items()}
    gates = {
        "macro_f1_floor": {
            "passed": ch["macro_f1"] >= t.min_macro_f1,
            "value": ch["macro_f1"],
            "threshold": t.min_macro_f1,
        },
        "class_f1_floor": {"passed": not weak, "value": weak, "threshold": t.min_class_f1},
        "calibration": {
            "passed": max(ch["ece"], ch["harmful_ece"]) <= t.max_ece,
            "threshold": t.max_ece,
            "value": {"top_label": ch["ece"], "harmful_score": ch["harmful_ece"]},
        },
        "golden": {
            "passed": min(by_kind.values()) >= t.min_golden_pass,
            "threshold": t.min_golden_pass,
            "value": {"overall": float(golden_ch["passed"].mean()), **by_kind},
        },
        "smoke": {"passed": bool(smoke["ok"]), "value": smoke["detail"], "threshold": "loads and scores"},
    }
    if champ is not None and delta is not None:
        drops = {
            c: round(champ[f"f1_{c}"] - ch[f"f1_{c}"], 4)
            for c in CLASSES
            if ch[f"f1_{c}"] < champ[f"f1_{c}"] - t.max_class_regression
        }
        gates["class_regression"] = {"passed": not drops, "value": drops, "threshold": t.max_class_regression}
        gates["macro_f1_delta_ci"] = {
            "passed": delta["lo"] >= -t.max_regression,
            "value": delta,
            "threshold": -t.max_regression,
        }
    for gate in gates.values():
        gate["passed"] = bool(gate["passed"])
    if not all(g["passed"] for g in gates.values()):
        return "reject", gates
    return ("pending_approval" if approval else "promote"), gates


@dataclass
class Evaluation:
    """A decision with everything recorded about it."""

    decision: str
    failed: list[str]
    evidence: dict[str, Any]  # evaluation/decision.json
    tags: dict[str, Any]  # on the challenger version; harmwatch.decision is what promote acts on
    summary: dict[str, Any]  # the step's JSON summary


def judge(
    ev: pd.DataFrame,
    golden: pd.DataFrame,
    challenger: dict[str, Any],
    champion: dict[str, Any] | None,
    smoke: dict[str, Any],
    t: Thresholds,
    approval: bool,
    seed: int,
    eval_version: str,
    date: str | None,
    golden_source: str,
) -> Evaluation:
    """Gate the challenger against the floors and the champion on the same snapshot and golden set.

    ``challenger`` and ``champion`` are ``{"version", "run_id", "eval": scores, "golden": scores}`` with
    scores in the pyfunc contract (champion None for the first model).
    """
    ch_metrics = classification_metrics(ev["label"], challenger["eval"])
    golden_ch = golden_check(golden, challenger["golden"])
    champ_metrics = delta = golden_champ = None
    if champion is not None:
        champ_metrics = classification_metrics(ev["label"], champion["eval"])
        golden_champ = golden_check(golden, champion["golden"])
        delta = paired_bootstrap_delta(
            ev["label"], challenger["eval"]["label"], champion["eval"]["label"], n_boot=t.n_boot, seed=seed
        )
    decision, gates = decide(ch_metrics, champ_metrics, delta, golden_ch, smoke, t, approval)
    failed = sorted(k for k, g in gates.items() if not g["passed"])
    golden_passed = int(golden_ch["passed"].sum())
    evidence = {
        "decision": decision,
        "failed_gates": failed,
        "gates": gates,
        "thresholds": asdict(t),
        "approval_required": bool(approval),
        "eval_version": eval_version,
        "eval_rows": len(ev),
        "date": date,
        "challenger": {
            "version": challenger["version"],
            "run_id": challenger["run_id"],
            "metrics": ch_metrics,
        },
        "champion": None
        if champion is None
        else {"version": champion["version"], "run_id": champion["run_id"], "metrics": champ_metrics},
        "delta_ci": delta,
        "smoke": smoke,
        "golden": {
            "file": golden_source,
            "passed": golden_passed,
            "total": len(golden_ch),
            "failures": golden_ch[~golden_ch["passed"]].to_dict("records"),
            "champion_passed": None if golden_champ is None else int(golden_champ["passed"].sum()),
        },
    }
    champion_version = str(champion["version"]) if champion is not None else None
    tags = {
        "harmwatch.decision": decision,
        "harmwatch.macro_f1": round(ch_metrics["macro_f1"], 4),
        "harmwatch.evaluated_against": champion_version or "none",
        "harmwatch.eval_version": eval_version,
        "harmwatch.failed_gates": ",".join(failed) or "none",
        "harmwatch.delta_ci": "n/a" if delta is None else f"[{delta['lo']:.4f}, {delta['hi']:.4f}]",
        "harmwatch.golden_passed": f"{golden_passed}/{len(golden_ch)}",
    }
    summary = {
        "decision": decision,
        "failed_gates": failed,
        "challenger_version": str(challenger["version"]),
        "champion_version": champion_version,
        "challenger_macro_f1": round(ch_metrics["macro_f1"], 4),
        "champion_macro_f1": None if champ_metrics is None else round(champ_metrics["macro_f1"], 4),
        "delta_ci": None if delta is None else [round(delta["lo"], 4), round(delta["hi"], 4)],
        "golden_passed": golden_passed,
        "golden_total": len(golden_ch),
        "eval_version": eval_version,
        "run_id": challenger["run_id"],
    }
    return Evaluation(decision, failed, evidence, tags, summary)

"""The evaluation decision, evaluate's pure core: gates over both models' scores, and the record of it.

Gates: absolute floors (macro-F1, every class F1), calibration (ECE), the golden set (must-flag,
identity-term counterfactuals, benign posts), fairness on the paired identity templates
(:mod:`harmwatch.model.fairness`: how many neutral posts about each group are flagged, each group's BPSN
AUC, the Jigsaw bias score), the behaviour suite (:mod:`harmwatch.behaviour`: every group's neutral and
positive statements left up, every functionality, hateful cases caught), a smoke test that loaded the
challenger by its ``models:/`` URI in a fresh process, and, when a champion exists, no per-class F1
regression beyond a tolerance, a paired-bootstrap confidence interval on the macro-F1 difference whose
lower end stays above ``-max_regression`` (non-inferiority) on the frozen anchor and on the recent slice
(the newest moderator-labelled posts, which neither model trained on), and no fairness regression. The
first model has no champion: floors and ceilings only (the fairness and behaviour limits among them). A
recent slice of fewer than ``min_recent_rows`` posts is too small to judge: its gate is recorded as not
applied, with the reason. The decision is ``promote``, ``reject`` or ``pending_approval``.

:func:`evaluate_challenger` takes the scores (pyfunc contract frames) and returns an :class:`Evaluation`
with the evidence artifact, the version tags and the step summary, all plain data; :func:`apply_gates`
is the gates themselves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from harmwatch.config import CLASSES
from harmwatch.model.fairness import fairness_gates, fairness_report
from harmwatch.model.gates import Thresholds
from harmwatch.model.metrics import classification_metrics, golden_check, paired_bootstrap_delta
from harmwatch.model.recent import ci, recent_evidence, recent_gate


def apply_gates(
    challenger: dict[str, float],
    champ: dict[str, float] | None,
    delta: dict[str, float] | None,
    golden_ch: pd.DataFrame,
    smoke: dict[str, Any],
    thresholds: Thresholds,
    approval: bool,
    more: dict[str, dict[str, Any]] | None = None,
) -> tuple[str, dict[str, dict[str, Any]]]:
    """Apply every gate (``more``: the fairness and recent-slice gates); returns (decision,
    {gate: {passed, value, threshold}}).

    The golden set is an absolute floor only: on this data about a fifth of it flips between retrains
    of equally good models (docs/model.md), so "no new golden failures" would reject on noise.
    """
    weak = [c for c in CLASSES if challenger[f"f1_{c}"] < thresholds.min_class_f1]
    by_kind = {k: float(v) for k, v in golden_ch.groupby("kind")["passed"].mean().items()}
    floors = {k: golden_floor(k, thresholds) for k in by_kind}
    gates = {
        "macro_f1_floor": {
            "passed": challenger["macro_f1"] >= thresholds.min_macro_f1,
            "value": challenger["macro_f1"],
            "threshold": thresholds.min_macro_f1,
        },
        "class_f1_floor": {"passed": not weak, "value": weak, "threshold": thresholds.min_class_f1},
        "calibration": {
            "passed": max(challenger["ece"], challenger["harmful_ece"]) <= thresholds.max_ece,
            "threshold": thresholds.max_ece,
            "value": {"top_label": challenger["ece"], "harmful_score": challenger["harmful_ece"]},
        },
        "golden": {
            "passed": all(v >= floors[k] for k, v in by_kind.items()),
            "threshold": floors,
            "value": {"overall": float(golden_ch["passed"].mean()), **by_kind},
        },
        "smoke": {"passed": bool(smoke["ok"]), "value": smoke["detail"], "threshold": "loads and scores"},
    }
    if champ is not None and delta is not None:
        drops = {
            c: round(champ[f"f1_{c}"] - challenger[f"f1_{c}"], 4)
            for c in CLASSES
            if challenger[f"f1_{c}"] < champ[f"f1_{c}"] - thresholds.max_class_regression
        }
        gates["class_regression"] = {
            "passed": not drops,
            "value": drops,
            "threshold": thresholds.max_class_regression,
        }
        gates["macro_f1_delta_ci"] = {
            "passed": delta["lo"] >= -thresholds.max_regression,
            "value": delta,
            "threshold": -thresholds.max_regression,
        }
    gates.update(more or {})
    for gate in gates.values():
        gate["passed"] = bool(gate["passed"])
    if not all(g["passed"] for g in gates.values()):
        return "reject", gates
    return ("pending_approval" if approval else "promote"), gates


def golden_floor(kind: str, thresholds: Thresholds) -> float:
    """The pass-rate floor of one kind of golden post."""
    extra = {"must_flag": thresholds.min_golden_must_flag, "benign": thresholds.min_golden_benign}.get(
        kind, 0.0
    )
    return max(thresholds.min_golden_pass, extra)


def behaviour_gates(report: dict[str, Any], thresholds: Thresholds) -> dict[str, dict[str, Any]]:
    """Floors on the behaviour suite's report (:func:`harmwatch.behaviour.behaviour_report`): every
    group's neutral and positive statements left unflagged, every functionality right, and the hateful
    cases caught. A group without neutral or positive cases has nothing to judge there."""
    groups = {
        g: float(v["neutral_positive_not_flagged"])
        for g, v in report["groups"].items()
        if _measured(v.get("neutral_positive_not_flagged"))
    }
    functionalities = {f: float(v["right"]) for f, v in report["functionalities"].items()}
    low_groups = {g: round(v, 4) for g, v in groups.items() if v < thresholds.min_group_not_flagged}
    low_functions = {f: round(v, 4) for f, v in functionalities.items() if v < thresholds.min_functionality}
    worst_group = min(groups, key=groups.__getitem__) if groups else None
    worst_function = min(functionalities, key=functionalities.__getitem__) if functionalities else None
    gates: dict[str, dict[str, Any]] = {
        "group_not_flagged": {
            "passed": bool(groups) and not low_groups,
            "value": {
                "min": groups.get(worst_group) if worst_group else None,
                "worst_group": worst_group,
                "groups_below": low_groups,
            },
            "threshold": thresholds.min_group_not_flagged,
        },
        "functionality_floor": {
            "passed": bool(functionalities) and not low_functions,
            "value": {
                "min": functionalities.get(worst_function) if worst_function else None,
                "worst_functionality": worst_function,
                "functionalities_below": low_functions,
            },
            "threshold": thresholds.min_functionality,
        },
        "hateful_caught": {
            "passed": float(report["hateful"]) >= thresholds.min_hateful_caught,
            "value": float(report["hateful"]),
            "threshold": thresholds.min_hateful_caught,
        },
    }
    return gates


def behaviour_metrics(report: dict[str, Any]) -> dict[str, float]:
    """The behaviour report as MLflow metrics: ``behaviour_overall``, ``_hateful``, ``_non_hateful``,
    ``_class_right``, ``behaviour_fn_<functionality>`` and ``behaviour_group_<group>_not_flagged`` /
    ``_hateful_caught`` (shares right); unmeasured ones are left out."""
    out = {f"behaviour_{k}": report.get(k) for k in ("overall", "hateful", "non_hateful", "class_right")}
    for name, fn in report["functionalities"].items():
        out[f"behaviour_fn_{name}"] = fn.get("right")
    for group, g in report["groups"].items():
        out[f"behaviour_group_{group}_not_flagged"] = g.get("neutral_positive_not_flagged")
        out[f"behaviour_group_{group}_hateful_caught"] = g.get("hateful_caught")
    return {k: float(v) for k, v in out.items() if _measured(v)}


def _measured(value: Any) -> bool:
    return isinstance(value, int | float) and value == value  # not None, not NaN


@dataclass
class Evaluation:
    """A decision with everything recorded about it."""

    decision: str
    failed: list[str]
    evidence: dict[str, Any]  # evaluation/decision.json
    tags: dict[str, Any]  # on the challenger version; harmwatch.decision is what promote acts on
    summary: dict[str, Any]  # the step's JSON summary


def evaluate_challenger(
    eval_frame: pd.DataFrame,
    golden: pd.DataFrame,
    challenger: dict[str, Any],
    champion: dict[str, Any] | None,
    smoke: dict[str, Any],
    thresholds: Thresholds,
    approval: bool,
    seed: int,
    eval_version: str,
    date: str | None,
    golden_source: str,
    templates: pd.DataFrame | None = None,
    recent: pd.DataFrame | None = None,
    recent_skipped: str | None = None,
    behaviour: pd.DataFrame | None = None,
) -> Evaluation:
    """Gate the challenger against the floors and the champion on the same snapshot and golden set, the
    identity templates, the behaviour suite and the recent slice.

    ``challenger`` and ``champion`` are ``{"version", "run_id", "eval": scores, "golden": scores}`` with
    scores in the pyfunc contract (champion None for the first model), plus ``"templates"`` when
    ``templates`` (:func:`harmwatch.model.fairness.templates`) is given and ``"recent"`` when ``recent``
    (the recent slice: ``text``, ``label``) is; ``recent_skipped`` says why there is no slice; and
    ``"behaviour"`` when ``behaviour`` (the suite's cases, :func:`harmwatch.behaviour.suite_frame`) is.
    """
    labels = eval_frame["label"]
    ch_metrics = classification_metrics(labels, challenger["eval"])
    golden_ch = golden_check(golden, challenger["golden"])
    champ_metrics, golden_champ, delta = _against_champion(
        labels, golden, challenger, champion, thresholds, seed
    )
    fair, suite, more = _identity_gates(templates, behaviour, challenger, champion, thresholds)
    rec = recent_evidence(recent, recent_skipped, challenger, champion, thresholds, seed)
    more["recent_slice"] = recent_gate(rec, thresholds)
    decision, gates = apply_gates(
        ch_metrics, champ_metrics, delta, golden_ch, smoke, thresholds, approval, more
    )
    failed = sorted(k for k, g in gates.items() if not g["passed"])
    evidence = {
        "decision": decision,
        "failed_gates": failed,
        "gates": gates,
        "thresholds": asdict(thresholds),
        "approval_required": bool(approval),
        "eval_version": eval_version,
        "eval_rows": len(eval_frame),
        "date": date,
        "challenger": _model_entry(challenger, ch_metrics),
        "champion": None if champion is None else _model_entry(champion, champ_metrics),
        "delta_ci": delta,
        "recent": rec,
        "fairness": fair,
        "behaviour": suite,
        "smoke": smoke,
        "golden": _golden_evidence(golden_ch, golden_champ, golden_source),
    }
    return Evaluation(decision, failed, evidence, version_tags(evidence), step_summary(evidence))


def _against_champion(
    labels: pd.Series,
    golden: pd.DataFrame,
    challenger: dict[str, Any],
    champion: dict[str, Any] | None,
    thresholds: Thresholds,
    seed: int,
) -> tuple[dict[str, float] | None, pd.DataFrame | None, dict[str, float] | None]:
    """The champion's metrics and golden results, and the paired bootstrap of the macro-F1 difference
    (all None for the first model)."""
    if champion is None:
        return None, None, None
    delta = paired_bootstrap_delta(
        labels, challenger["eval"]["label"], champion["eval"]["label"], n_boot=thresholds.n_boot, seed=seed
    )
    metrics = classification_metrics(labels, champion["eval"])
    return metrics, golden_check(golden, champion["golden"]), delta


def _identity_gates(
    templates: pd.DataFrame | None,
    behaviour: pd.DataFrame | None,
    challenger: dict[str, Any],
    champion: dict[str, Any] | None,
    thresholds: Thresholds,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, Any]]]:
    """Both models' template and behaviour-suite reports (``{"challenger", "champion"}`` each, None where
    not scored) and the gates on them."""
    fair_ch, fair_champ = _fairness_reports(templates, challenger, champion)
    gates = {} if fair_ch is None else dict(fairness_gates(fair_ch, fair_champ, thresholds))
    suite_ch, suite_champ = _behaviour_reports(behaviour, challenger, champion)
    if suite_ch is not None:
        gates.update(behaviour_gates(suite_ch, thresholds))
    fair = {"challenger": fair_ch, "champion": fair_champ}
    return fair, {"challenger": suite_ch, "champion": suite_champ}, gates


def _fairness_reports(
    templates: pd.DataFrame | None, challenger: dict[str, Any], champion: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Both models' results on the identity templates, when they were scored."""
    if templates is None:
        return None, None
    champ = None if champion is None else fairness_report(templates, champion["templates"])
    return fairness_report(templates, challenger["templates"]), champ


def _behaviour_reports(
    cases: pd.DataFrame | None, challenger: dict[str, Any], champion: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Both models' behaviour-suite reports, when the suite was scored."""
    if cases is None:
        return None, None
    from harmwatch.behaviour import behaviour_report

    champ = None if champion is None else behaviour_report(cases, champion["behaviour"])
    return behaviour_report(cases, challenger["behaviour"]), champ


def _model_entry(model: dict[str, Any], metrics: dict[str, float] | None) -> dict[str, Any]:
    return {"version": model["version"], "run_id": model["run_id"], "metrics": metrics}


def _golden_evidence(
    golden_ch: pd.DataFrame, golden_champ: pd.DataFrame | None, golden_source: str
) -> dict[str, Any]:
    return {
        "file": golden_source,
        "passed": int(golden_ch["passed"].sum()),
        "total": len(golden_ch),
        "failures": golden_ch[~golden_ch["passed"]].to_dict("records"),
        "champion_passed": None if golden_champ is None else int(golden_champ["passed"].sum()),
    }


def version_tags(evidence: dict[str, Any]) -> dict[str, Any]:
    """The tags the decision puts on the challenger version (promote acts on ``harmwatch.decision``).

    A handful of tags, the ones the steps act on and the headline figure: the MLflow versions table shows
    them all. ``harmwatch.failed_gates`` is what a forced promotion overrides (promote records it). Every
    other figure (the behaviour suite's too) is in the evidence (``evaluation/decision.json``), the run's
    metrics and the description.
    """
    champion = evidence["champion"]
    return {
        "harmwatch.decision": evidence["decision"],
        "harmwatch.evaluated_against": "none" if champion is None else str(champion["version"]),
        "harmwatch.macro_f1": round(evidence["challenger"]["metrics"]["macro_f1"], 4),
        "harmwatch.failed_gates": ",".join(evidence["failed_gates"]) or "none",
    }


def behaviour_headline(report: dict[str, Any]) -> dict[str, Any]:
    """The behaviour suite's headline figures: shares right overall, on hateful and non-hateful cases,
    and the worst group (neutral and positive statements left up) and functionality, named."""
    groups, functions = report["groups"], report["functionalities"]
    worst_group, worst_function = report.get("worst_group"), report.get("worst_functionality")
    return {
        "behaviour_suite": report["suite_version"],
        "behaviour_overall": round(float(report["overall"]), 4),
        "behaviour_hateful": round(float(report["hateful"]), 4),
        "behaviour_non_hateful": round(float(report["non_hateful"]), 4),
        "behaviour_worst_group": "none"
        if worst_group not in groups
        else f"{worst_group} {float(groups[worst_group]['neutral_positive_not_flagged']):.2f}",
        "behaviour_worst_functionality": "none"
        if worst_function not in functions
        else f"{worst_function} {float(functions[worst_function]['right']):.2f}",
    }


def step_summary(evidence: dict[str, Any]) -> dict[str, Any]:
    """The evaluate step's one-line JSON summary of the decision."""
    challenger, champion, delta = evidence["challenger"], evidence["champion"], evidence["delta_ci"]
    rec, recent_gate_result = evidence["recent"], evidence["gates"]["recent_slice"]
    fair_ch = evidence["fairness"]["challenger"]
    suite = (evidence.get("behaviour") or {}).get("challenger")
    return {
        "decision": evidence["decision"],
        "failed_gates": evidence["failed_gates"],
        "challenger_version": str(challenger["version"]),
        "champion_version": None if champion is None else str(champion["version"]),
        "challenger_macro_f1": round(challenger["metrics"]["macro_f1"], 4),
        "champion_macro_f1": None if champion is None else round(champion["metrics"]["macro_f1"], 4),
        "delta_ci": None if delta is None else [round(delta["lo"], 4), round(delta["hi"], 4)],
        "golden_passed": evidence["golden"]["passed"],
        "golden_total": evidence["golden"]["total"],
        "eval_version": evidence["eval_version"],
        "run_id": challenger["run_id"],
        "recent_rows": None if rec is None else rec.get("rows"),
        "recent_gate": "applied" if recent_gate_result.get("applied") else recent_gate_result["value"],
        "recent_delta_ci": ci(rec),
        "identity_fpr": None if fair_ch is None else round(fair_ch["overall_fpr"], 4),
        "max_group_fpr": None if fair_ch is None else round(fair_ch["max_group_fpr"], 4),
        "bias_score": None if fair_ch is None else round(fair_ch["bias_score"], 4),
        **({} if suite is None else behaviour_headline(suite)),
    }

"""The decision as a person reads it: a short Markdown summary of an evaluation, pure.

One text serves two readers. The MLflow model-version page shows the version's description, so
``evaluate`` puts the summary there, above the model card (the registry caps descriptions: 5,000
characters on PostgreSQL). In approval mode the retrain DAG's approval task shows the same text to the
reviewer in the Airflow UI. It holds the decision, macro-F1 of both models with the paired bootstrap
interval of their difference, the gates that failed (value and threshold), the per-class F1 table, the
golden set, the paired identity templates and the behaviour suite (per functionality and per group, both
models), and links to the MLflow versions, the evaluation run and the reports.
"""

from __future__ import annotations

from typing import Any

from harmwatch.config import CLASSES

CARD_HEADING = "# Model card:"  # where the train step's model card starts in the description
DESCRIPTION_LIMIT = 4900


def _f(value: Any, sign: bool = False) -> str:
    if not isinstance(value, int | float):
        return "n/a"
    return f"{value:+.3f}" if sign else f"{value:.3f}"


def _gate_value(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(
            f"{k} {_f(v) if isinstance(v, float) else f'({_gate_value(v)})' if isinstance(v, dict) else v}"
            for k, v in value.items()
        )
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return _f(value) if isinstance(value, float) else str(value)


def _link(text: str, url: str | None) -> str:
    return f"[{text}]({url})" if url and url.startswith(("http://", "https://")) else f"{text}: `{url}`"


def _failed_gate_lines(gates: dict[str, dict[str, Any]], failed: list[str]) -> list[str]:
    if not failed:
        return [f"**Failed gates:** none ({len(gates)} passed: {', '.join(sorted(gates))})"]
    return ["**Failed gates:**"] + [
        f"- `{g}`: {_gate_value(gates[g]['value'])} (threshold {_gate_value(gates[g]['threshold'])})"
        for g in failed
    ]


def _class_table(challenger: dict[str, Any], champion: dict[str, Any] | None) -> list[str]:
    """Per-class F1 of the challenger, and of the champion with the change when there is one."""
    lines = ["| class | F1 challenger |" + (" F1 champion | change |" if champion else ""), "|---|---:|"]
    lines[-1] += "---:|---:|" if champion else ""
    for c in CLASSES:
        value = challenger["metrics"].get(f"f1_{c}")
        row = f"| {c} | {_f(value)} |"
        if champion:
            before = champion["metrics"].get(f"f1_{c}")
            change = value - before if isinstance(value, float) and isinstance(before, float) else None
            row += f" {_f(before)} | {_f(change, True)} |"
        lines.append(row)
    return lines


def _fairness_lines(fairness: dict[str, Any] | None) -> list[str]:
    """One line on the paired identity templates: worst group's false-positive rate, BPSN, bias score."""
    ch, champ = (fairness or {}).get("challenger"), (fairness or {}).get("champion")
    if not ch:
        return []

    def said(report: dict[str, Any]) -> str:
        bpsn = {g["group"]: g["bpsn_auc"] for g in report.get("groups", [])}
        low = min(bpsn, key=bpsn.__getitem__) if bpsn else None
        return (
            f"worst group FPR {_f(report['max_group_fpr'])} ({report['worst_fpr_group']}), lowest BPSN "
            f"{_f(bpsn.get(low))} ({low}), bias score {_f(report['bias_score'])}"
        )

    line = f"Identity templates ({ch['templates']} posts): challenger {said(ch)}"
    return ["", line + (f"; champion {said(champ)}." if champ else ".")]


def _p(value: Any) -> str:
    """A share with two decimals (the suite's tables: the registry's description has little room)."""
    return f"{value:.2f}" if isinstance(value, int | float) and value == value else "n/a"


def _behaviour_lines(behaviour: dict[str, Any] | None) -> list[str]:
    """The behaviour suite: headline shares, then per functionality and per group, both models."""
    ch, champ = (behaviour or {}).get("challenger"), (behaviour or {}).get("champion")
    if not ch:
        return []
    both = [r for r in (ch, champ) if r]
    head = "| challenger |" + (" champion |" if champ else "")
    rule = "|---|---:|" + ("---:|" if champ else "")

    def row(label: str, values: list[Any]) -> str:
        return f"| {label} | " + " | ".join(_p(v) for v in values) + " |"

    lines = [
        "",
        f"**Behaviour suite** `{ch['suite_version']}` ({ch['cases']} cases; share right, flag at "
        "harmful score 0.5):",
        "",
        "| " + head,
        rule,
    ]
    for label, key in (
        ("overall", "overall"),
        ("hateful caught", "hateful"),
        ("non-hateful left up", "non_hateful"),
        ("class right", "class_right"),
    ):
        lines.append(row(label, [r.get(key) for r in both]))
    lines += ["", "| functionality " + head, rule]
    for name in ch["functionalities"]:
        lines.append(row(name, [r["functionalities"].get(name, {}).get("right") for r in both]))
    lines += ["", "| group: neutral and positive left up / hateful caught " + head, rule]
    for group in ch["groups"]:
        cells = [r["groups"].get(group, {}) for r in both]
        shares = [
            f"{_p(c.get('neutral_positive_not_flagged'))} / {_p(c.get('hateful_caught'))}" for c in cells
        ]
        lines.append(f"| {group} | " + " | ".join(shares) + " |")
    return lines


def behaviour_markdown(behaviour: dict[str, Any]) -> str:
    """The behaviour suite's results of both models as a Markdown page (evaluate's
    ``evaluation/behaviour.md``); ``behaviour``: the evidence's ``{"challenger", "champion"}`` reports."""
    return "\n".join(_behaviour_lines(behaviour)).strip() + "\n"


def decision_markdown(evidence: dict[str, Any], model_name: str, links: dict[str, str]) -> str:
    """The summary of one evaluation (``evidence``: evaluate's ``decision.json``).

    ``links`` maps ``challenger``, ``champion``, ``run`` (the evaluation run), ``validation`` and ``drift``
    (reports) to addresses; an http(s) one becomes a link, anything else (``models:/``, ``s3://``) is shown.
    """
    ch, champ = evidence["challenger"], evidence.get("champion")
    delta = evidence.get("delta_ci")
    vs = f"champion v{champ['version']}" if champ else "no champion yet (floors only)"
    lines = [
        f"## Decision: {evidence['decision']}",
        "",
        f"{model_name} **v{ch['version']}** (challenger) vs {vs}, on frozen evaluation snapshot "
        f"`{evidence.get('eval_version')}` ({evidence.get('eval_rows')} posts), logical date "
        f"{evidence.get('date') or 'unspecified'}.",
        "",
        f"| | challenger v{ch['version']} |" + (f" champion v{champ['version']} |" if champ else ""),
        "|---|---:|" + ("---:|" if champ else ""),
    ]
    for label, key in (("macro-F1", "macro_f1"), ("accuracy", "accuracy"), ("calibration error", "ece")):
        row = f"| {label} | {_f(ch['metrics'].get(key))} |"
        lines.append(row + (f" {_f(champ['metrics'].get(key))} |" if champ else ""))
    lines.append("")
    if delta:
        lines.append(
            f"Macro-F1 difference (challenger - champion): **{_f(delta['delta'], True)}**, paired "
            f"bootstrap 95% interval [{_f(delta['lo'], True)}, {_f(delta['hi'], True)}] "
            f"({delta.get('n_boot')} resamples)."
        )
        lines.append("")
    lines += _failed_gate_lines(evidence.get("gates", {}), evidence.get("failed_gates") or [])
    lines += ["", *_class_table(ch, champ)]
    lines += _fairness_lines(evidence.get("fairness"))
    lines += _behaviour_lines(evidence.get("behaviour"))
    golden = evidence.get("golden", {})
    lines += [
        "",
        f"Golden set: {golden.get('passed')}/{golden.get('total')} right"
        + (f" (champion {golden['champion_passed']})" if golden.get("champion_passed") is not None else "")
        + f"; smoke test: {evidence.get('smoke', {}).get('detail', 'n/a')}.",
        "",
        "Links: "
        + " · ".join(
            _link(text, links.get(key))
            for key, text in (
                ("challenger", f"challenger v{ch['version']}"),
                ("champion", f"champion v{champ['version']}" if champ else ""),
                ("run", "evaluation run (decision.json, model card, plots)"),
                ("validation", "validation reports"),
                ("drift", "drift report"),
            )
            if links.get(key) and text
        ),
    ]
    return "\n".join(lines)


def registry_links(
    ui_url: str, model_name: str, challenger: str, champion: str | None, experiment_id: str, run_id: str
) -> dict[str, str]:
    """Addresses of the MLflow UI pages of both versions and the evaluation run (``models:/`` and
    ``runs:/`` URIs when there is no UI, as with the embedded store)."""
    if not ui_url:
        out = {"challenger": f"models:/{model_name}/{challenger}", "run": f"runs:/{run_id}"}
        return out | ({"champion": f"models:/{model_name}/{champion}"} if champion else {})
    base = f"{ui_url}/#/models/{model_name}/versions"
    out = {
        "challenger": f"{base}/{challenger}",
        "run": f"{ui_url}/#/experiments/{experiment_id}/runs/{run_id}",
    }
    return out | ({"champion": f"{base}/{champion}"} if champion else {})


def version_description(summary: str, current: str | None, limit: int = DESCRIPTION_LIMIT) -> str:
    """The decision summary above the model card already in the description (an older summary replaced),
    cut to the registry's limit with the card shortened first."""
    card = current or ""
    start = card.find(CARD_HEADING)
    card = card[start:] if start >= 0 else ("" if card.startswith("## Decision:") else card)
    text = f"{summary}\n\n---\n\n{card}" if card else summary
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit("\n", 1)[0]
    return cut + "\n\n... (cut to fit the registry; full model card: artifact model_card.md of the run)\n"


def with_status(description: str | None, line: str, limit: int = DESCRIPTION_LIMIT) -> str:
    """The description with ``line`` (what just happened to this version: promoted, rejected, set by hand,
    rolled back; who and why) quoted at the top, above earlier such lines. A rerun adds nothing."""
    lines = (description or "").split("\n")
    head = []
    while lines and lines[0].startswith("> "):
        head.append(lines.pop(0))
    quoted = "> " + " ".join(line.split())
    if quoted in head:
        return description or ""
    rest = "\n".join(lines).lstrip("\n")
    text = "\n".join([quoted, *head]) + ("\n\n" + rest if rest else "")
    return (
        text
        if len(text) <= limit
        else text[:limit].rsplit("\n", 1)[0] + "\n\n... (cut to fit the registry)\n"
    )


def model_description(method: str) -> str:
    """The registered model's description: what the model flags, its classes, how its versions are decided
    and where each version's figures are. The MLflow model page shows it above the versions table, under
    the model's name."""
    harmful = ", ".join(f"`{c}`" for c in CLASSES if c != "not_cyberbullying")
    return "\n".join(
        [
            "Flags harmful content (cyberbullying) in short social-media posts for the moderators: each "
            "post gets one of six classes, with a probability per class. The five harmful classes say "
            f"what the bullying targets: {harmful}; `not_cyberbullying` is benign. Retrained by the "
            "Airflow DAG `harmful_content_retrain` on moderator labels and user reports.",
            "",
            f"Method: {method}",
            "",
            "## How versions are decided",
            "",
            "1. `train` registers each new training as a version and points alias `challenger` at it.",
            "2. `evaluate` compares the challenger with the `champion` on the frozen evaluation snapshot, "
            "the newest moderator-labelled posts, the golden set, paired identity templates and the "
            "behaviour suite: absolute floors (macro-F1, every class's F1, calibration, golden posts, "
            "every identity group's neutral posts left up and BPSN, every functionality, hateful posts "
            "caught), and "
            "against the champion no regression beyond a tolerance (paired bootstrap interval). The "
            "decision is `promote`, `reject` or `pending_approval` (a reviewer approves in Airflow).",
            "3. `promote` moves alias `champion` only when the decision allows it (or it is forced, with "
            "a reason); the former champion becomes `previous-champion`, and `harmwatch rollback` "
            "moves back to it.",
            "",
            "## Where to look",
            "",
            "- A version's description: the decision, the gates that failed, per-class F1, the identity "
            "templates, the behaviour suite per functionality and per group, and its model card.",
            "- The version's run: `evaluation/decision.json` (every gate with its value and threshold, "
            "the evidence), `evaluation/behaviour.json` and `.md`, the `behaviour_*` metrics, "
            "`model_card.md`, `plots/`.",
            "- Version tags, only those the steps read: `harmwatch.decision`, `harmwatch.macro_f1`, "
            "`harmwatch.failed_gates` (what a forced promotion overrides), "
            "`harmwatch.evaluated_against` (the champion it was judged against), "
            "`harmwatch.train_version` and `harmwatch.eval_version` (the lake's snapshots), "
            "`harmwatch.model_sha256` (checked before the model is loaded), "
            "`harmwatch.train_complete`; on a promoted version who promoted it, how, from which "
            "champion, when and why (`harmwatch.promoted_*`; forced: `harmwatch.overridden_gates`).",
        ]
    )

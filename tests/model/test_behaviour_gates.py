"""The behaviour suite as gates, on hand-made reports: every group's neutral and positive statements left
up, every functionality, hateful cases caught; its metrics, its place in the decision summary, and a forced
promotion that records the gates it overrides."""

from __future__ import annotations

from harmwatch.model import summary
from harmwatch.model.decision import Thresholds, behaviour_gates, behaviour_metrics
from harmwatch.model.promotion import forced_note, promotion_audit

FUNCTIONS = {f"fn_{i:02d}": 0.9 for i in range(24)}
GROUPS = {f"group_{i:02d}": 0.9 for i in range(16)}


def report(functions: dict[str, float] | None = None, groups: dict[str, float | None] | None = None) -> dict:
    """A behaviour report in the suite's shape (every share 0.9 unless given)."""
    functions = FUNCTIONS | (functions or {})
    groups = GROUPS | (groups or {})
    return {
        "suite_version": "0123456789abcdef",
        "cases": 3000,
        "overall": 0.9,
        "hateful": 0.92,
        "non_hateful": 0.87,
        "class_right": 0.7,
        "functionalities": {f: {"cases": 100, "right": v, "harmful": i % 2 == 0} for i, (f, v) in
                            enumerate(functions.items())},
        "groups": {
            g: {"cases": 150, "right": 0.9, "hateful_caught": 0.9, "neutral_positive_not_flagged": v}
            for g, v in groups.items()
        },
        "worst_functionality": min(functions, key=functions.__getitem__),
        "worst_group": min((g for g in groups if groups[g] is not None), key=groups.__getitem__),
    }  # fmt: skip


def failed(gates: dict) -> set[str]:
    return {k for k, g in gates.items() if not g["passed"]}


def test_a_model_fit_to_moderate_passes_every_behaviour_gate():
    gates = behaviour_gates(report(), Thresholds())
    assert set(gates) == {"group_not_flagged", "functionality_floor", "hateful_caught"} and not failed(gates)


def test_one_group_whose_friendly_posts_are_removed_fails_and_is_named():
    gates = behaviour_gates(report(groups={"muslim": 0.0, "gay": 0.79}), Thresholds())
    assert failed(gates) == {"group_not_flagged"}
    assert gates["group_not_flagged"]["value"] == {
        "min": 0.0,
        "worst_group": "muslim",
        "groups_below": {"muslim": 0.0, "gay": 0.79},
    }
    # A group the suite has no neutral or positive statement about has nothing to judge there.
    assert not failed(behaviour_gates(report(groups={"no_statements": None}), Thresholds()))


def test_no_functionality_below_a_coin_toss_and_no_loss_of_hateful_recall():
    gates = behaviour_gates(report(functions={"counter_quote": 0.49}), Thresholds())
    assert failed(gates) == {"functionality_floor"}
    assert gates["functionality_floor"]["value"]["functionalities_below"] == {"counter_quote": 0.49}
    assert not failed(behaviour_gates(report(functions={"counter_quote": 0.5}), Thresholds()))
    t = Thresholds()
    low = report() | {"hateful": t.min_hateful_caught - 0.01}
    assert failed(behaviour_gates(low, t)) == {"hateful_caught"}
    assert not failed(behaviour_gates(report() | {"hateful": t.min_hateful_caught}, t))


def test_behaviour_metrics_name_every_functionality_and_group():
    metrics = behaviour_metrics(report(groups={"no_statements": None}))
    assert metrics["behaviour_overall"] == 0.9 and metrics["behaviour_non_hateful"] == 0.87
    assert all(f"behaviour_fn_{f}" in metrics for f in FUNCTIONS)
    assert all(f"behaviour_group_{g}_not_flagged" in metrics for g in GROUPS)
    assert "behaviour_group_no_statements_not_flagged" not in metrics, "unmeasured: left out"
    assert metrics["behaviour_group_no_statements_hateful_caught"] == 0.9


def evidence(behaviour: dict) -> dict:
    """A decision record (evaluate's decision.json) with the behaviour suite of both models."""
    metrics = {"macro_f1": 0.88, "accuracy": 0.88, "ece": 0.02} | {
        f"f1_{c}": 0.8 for c in ("age", "ethnicity", "gender", "religion", "other_cyberbullying")
    }
    model = {"version": "2", "run_id": "r", "metrics": metrics | {"f1_not_cyberbullying": 0.7}}
    gates = behaviour_gates(behaviour["challenger"], Thresholds())
    return {
        "decision": "reject",
        "failed_gates": sorted(failed(gates)),
        "gates": gates,
        "eval_version": "e",
        "eval_rows": 5000,
        "challenger": model,
        "champion": {**model, "version": "1"},
        "delta_ci": {"delta": 0.0, "lo": -0.01, "hi": 0.01, "n_boot": 1000},
        "behaviour": behaviour,
        "golden": {"passed": 45, "total": 50, "champion_passed": 40},
        "smoke": {"detail": "ok"},
    }


def test_the_decision_summary_shows_the_suite_per_functionality_and_group_for_both_models():
    behaviour = {"challenger": report(groups={"muslim": 0.55}), "champion": report(groups={"muslim": 0.0})}
    text = summary.decision_markdown(evidence(behaviour), "harmful-content", {})
    assert "**Behaviour suite** `0123456789abcdef` (3000 cases" in text
    assert "| hateful caught | 0.92 | 0.92 |" in text and "| non-hateful left up | 0.87 | 0.87 |" in text
    assert "| functionality | challenger | champion |" in text
    assert all(f"| {f} | 0.90 | 0.90 |" in text for f in FUNCTIONS)
    assert "| muslim | 0.55 / 0.90 | 0.00 / 0.90 |" in text
    assert "- `group_not_flagged`: min 0.550, worst_group muslim, groups_below (muslim 0.550)" in text
    # With a model card below it, the summary of a full-size suite still fits the registry's column.
    page = summary.version_description(text, "# Model card: x\n" + "card line\n" * 400)
    assert len(page) <= 5000 and "| muslim |" in page and "# Model card: x" in page
    assert summary.behaviour_markdown(behaviour).startswith("**Behaviour suite**")


def test_a_forced_promotion_records_the_gates_it_overrides_and_why():
    forced = promotion_audit(
        "dave", "4", "2026-01-03", True, " on-call needs it ", failed_gates="group_not_flagged,group_bpsn"
    )
    assert forced["harmwatch.overridden_gates"] == "group_not_flagged,group_bpsn"
    assert forced["harmwatch.force_reason"] == "on-call needs it" and forced["harmwatch.forced"] == "true"
    assert "harmwatch.overridden_gates" not in promotion_audit("bob", "4", None, False, None, why="ok")
    assert promotion_audit("bob", "4", None, True, "x")["harmwatch.overridden_gates"].startswith("unknown")
    # The status line quoted at the top of the version's description says what was overridden.
    assert (
        forced_note("group_not_flagged,group_bpsn")
        == ", forced over the failed gates group_not_flagged, group_bpsn"
    )
    assert forced_note("none") == ", forced (no gate had failed)" and forced_note(None) == ""


def test_the_model_card_shows_the_suite_and_every_augmentation_source_with_its_version():
    from harmwatch.config import CLASSES
    from harmwatch.model.modelcard import render_model_card

    metrics = {"macro_f1": 0.88, "accuracy": 0.88, "harmful_pr_auc": 0.97, "ece": 0.02, "harmful_ece": 0.02}
    metrics |= {f"{m}_{c}": 0.8 for m in ("precision", "recall", "f1") for c in CLASSES}
    sources = [
        {"name": "identity_templates", "version": "ab" * 32, "rows": 740, "module": "harmwatch.x"},
        {"name": "tweeteval_neutral", "version": "cd" * 32, "rows": 512, "path": "data/tweeteval"},
    ]
    card = render_model_card(
        name="hc", version="3", run_id="r", metrics=metrics, data={}, method="m", golden_failures=[],
        behaviour=report(groups={"muslim": None}), augmentation=sources,
    )  # fmt: skip
    assert f"  - `identity_templates` version `{'ab' * 32}`: 740 rows, from `harmwatch.x`" in card
    assert f"  - `tweeteval_neutral` version `{'cd' * 32}`: 512 rows, from `data/tweeteval`" in card
    assert "## Behaviour suite\nHand-written functional cases (suite `0123456789abcdef`, 3000 cases)" in card
    assert "| `fn_00` | harmful | 100 | 0.900 |" in card and "| `fn_01` | not harmful | 100 | 0.900 |" in card
    assert "| muslim | 150 | n/a | 0.900 | 0.900 |" in card
    plain = render_model_card(
        name="hc", version="3", run_id="r", metrics=metrics, data={}, method="m", golden_failures=[]
    )
    assert "- augmentation: none" in plain and "## Behaviour suite" not in plain


def suite_scores(cases, harmful) -> object:
    """The pyfunc contract with ``harmful`` as the harmful score (the rest on not_cyberbullying)."""
    import numpy as np

    from harmwatch.config import CLASSES
    from harmwatch.model.textmodel import contract_frame

    proba = np.zeros((len(cases), len(CLASSES)))
    proba[:, CLASSES.index("not_cyberbullying")] = 1 - harmful
    proba[:, CLASSES.index("religion")] = harmful
    return contract_frame(proba, np.array(CLASSES))


def test_evaluate_judges_both_models_on_the_suite_and_names_the_group_a_model_silences():
    import numpy as np
    import pandas as pd

    from harmwatch.behaviour import suite_frame
    from harmwatch.config import CLASSES
    from harmwatch.model.decision import evaluate_challenger
    from harmwatch.model.golden import golden_frame

    cases = suite_frame()
    right = np.where(cases["harmful"], 0.9, 0.1)
    group = cases["group"].iloc[0] or sorted(set(cases["group"]) - {""})[0]
    # Flags everything that names one group: its neutral and positive statements are all removed.
    silenced = np.where(cases["group"] == group, 0.9, right)
    ev = pd.DataFrame({"text": [f"t{i}" for i in range(60)], "label": [CLASSES[i % 6] for i in range(60)]})
    golden = golden_frame()

    def model(version: str, behaviour: np.ndarray) -> dict:
        proba = np.full((60, len(CLASSES)), 0.02)
        proba[np.arange(60), [i % 6 for i in range(60)]] = 0.9
        from harmwatch.model.textmodel import contract_frame

        golden_scores = suite_scores(golden, np.where(golden["expect"] == "flag", 0.9, 0.1))
        ev_scores = contract_frame(proba, np.array(CLASSES))
        return {"version": version, "run_id": "r" + version, "eval": ev_scores, "golden": golden_scores,
                "behaviour": suite_scores(cases, behaviour)}  # fmt: skip

    t = Thresholds(max_ece=1.0, n_boot=50)
    args = ({"ok": True, "detail": "ok"}, t, False, 7, "e", None, "g")
    bad = evaluate_challenger(ev, golden, model("2", silenced), model("1", right), *args, behaviour=cases)
    assert bad.decision == "reject" and bad.failed == ["group_not_flagged"]
    assert bad.evidence["gates"]["group_not_flagged"]["value"]["worst_group"] == group
    assert bad.evidence["behaviour"]["champion"]["groups"][group]["neutral_positive_not_flagged"] == 1.0
    assert bad.summary["behaviour_worst_group"].startswith(f"{group} 0.00")
    assert bad.tags["harmwatch.failed_gates"] == "group_not_flagged"
    good = evaluate_challenger(ev, golden, model("1", right), None, *args, behaviour=cases)
    assert good.decision == "promote" and good.summary["behaviour_overall"] == 1.0

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
    assert "| hateful caught | 0.920 | 0.920 |" in text and "| non-hateful left up | 0.870 | 0.870 |" in text
    assert "| functionality | challenger | champion |" in text
    assert all(f"| `{f}` | 0.900 | 0.900 |" in text for f in FUNCTIONS)
    assert "| muslim | 0.550, 0.900 | 0.000, 0.900 |" in text
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

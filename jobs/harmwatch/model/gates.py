"""The evaluation gates' thresholds: one table, from which everything that shows or passes them is made.

``harmwatch evaluate``'s options and their help (:func:`harmwatch.steps.evaluate.add_arguments`), the
:class:`Thresholds` that :mod:`harmwatch.model.decision` applies, and the retrain DAG's trigger form and
the evaluate arguments it passes (``dags/harmwatch_params.py``) all come from :data:`GATES`. Adding a
threshold is one row here (and the gate that reads it).

This module imports only the standard library: the Airflow image has no harmwatch package, so the DAG
files load this one file by its path (the image keeps it at the same place beside ``dags/``).
"""

from __future__ import annotations

from dataclasses import dataclass, make_dataclass

# What the threshold bounds, as the trigger form's title says it.
DIRECTIONS = {
    "floor": "the challenger's value must reach it",
    "ceiling": "the challenger's value must stay at or below it",
    "tolerance": "the largest change against the champion that is allowed",
    "setting": "how the evaluation is done; not a pass mark (not on the trigger form)",
}


@dataclass(frozen=True)
class Gate:
    """One threshold of the evaluation."""

    name: str  # Thresholds field and DAG param; the option is --name-with-dashes
    default: float | int  # its type is the option's and the param's (float: a share in [0, 1])
    direction: str  # a key of DIRECTIONS
    what: str  # what it bounds, for the trigger form's title ("<Direction>: <what>")
    help: str  # one sentence, shown by --help and on the trigger form
    unit: str
    follows: str | None = None  # unset on the command line: the value of this other threshold

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def title(self) -> str:
        return f"{self.direction.capitalize()}: {self.what}"

    @property
    def on_form(self) -> bool:
        """Whether the retrain DAG's trigger form shows it (and passes it to evaluate)."""
        return self.direction != "setting"


GATES: tuple[Gate, ...] = (
    # Published TF-IDF + logistic regression on this data reaches 0.874.
    Gate(
        "min_macro_f1",
        0.85,
        "floor",
        "macro-F1",
        "absolute floor on the challenger's macro-F1 on the frozen evaluation snapshot",
        "macro-F1",
    ),
    # not_cyberbullying, the weakest class, sits near 0.73.
    Gate(
        "min_class_f1",
        0.65,
        "floor",
        "F1 of every class",
        "absolute floor on each class's F1 (no class may be left behind)",
        "F1",
    ),
    Gate(
        "max_regression",
        0.02,
        "tolerance",
        "macro-F1 regression against the champion",
        "non-inferiority margin: the lower end of the paired bootstrap 95% interval of (challenger - "
        "champion) macro-F1 must stay above minus this value",
        "macro-F1",
    ),
    # Seed-to-seed spread of a class's F1 is about 0.01.
    Gate(
        "max_class_regression",
        0.02,
        "tolerance",
        "per-class F1 regression against the champion",
        "largest drop in any class's F1 against the champion",
        "F1",
        follows="max_regression",
    ),
    Gate(
        "max_ece",
        0.05,
        "ceiling",
        "calibration error (ECE)",
        "largest expected calibration error of the challenger (top label and harmful score)",
        "ECE",
    ),
    # Golden set, per kind. Retrains of the current model family with five seeds on the bulk day's
    # snapshot pass at least 0.65 of must_flag, 0.50 of identity_counterfactual and 0.70 of benign posts;
    # about a fifth of the set flips between such retrains, so the floors sit one or two posts below
    # that. A model trained on 300 posts (identity 0.30, benign 0.40) and one on shuffled labels (benign 0)
    # fail them. The identity counterfactuals are the hardest kind.
    Gate(
        "min_golden_pass",
        0.45,
        "floor",
        "golden set, every kind",
        "share of each kind of golden post (must_flag, identity_counterfactual, benign) the challenger "
        "must get right",
        "share of posts",
    ),
    Gate(
        "min_golden_must_flag",
        0.60,
        "floor",
        "golden must-flag posts",
        "stricter floor for the golden posts that must be flagged",
        "share of posts",
    ),
    Gate(
        "min_golden_benign",
        0.60,
        "floor",
        "golden benign posts",
        "stricter floor for the benign golden posts",
        "share of posts",
    ),
    Gate("n_boot", 1000, "setting", "bootstrap resamples", "paired bootstrap resamples", "resamples"),
    # Paired identity templates (model/fairness.py). The limits are what moderation needs, not what a
    # model reaches: a neutral post about a group may be flagged at most one time in five for every
    # group (the same 0.80 as the behaviour suite's neutral and positive statements below), so no group's
    # ordinary talk is removed more often than that. Per group, because a mean over groups hides the one
    # group whose every post is removed (the old ceiling, 0.60 over all groups together, let a model
    # through that flagged every neutral post about Muslims and about gay people).
    Gate(
        "max_group_fpr",
        0.20,
        "ceiling",
        "flagged neutral identity posts, every group",
        "largest share of a group's neutral paired identity templates the challenger may flag, for "
        "every group",
        "share of posts",
    ),
    # BPSN (neutral posts about the group vs hostile posts about other groups): below 0.80, merely naming
    # the group pushes a neutral post above abuse of others one time in five, and a queue ranked by
    # harmful_score puts that group's ordinary talk among the abuse. Per group, not a power mean.
    Gate(
        "min_group_bpsn",
        0.80,
        "floor",
        "BPSN AUC of every group",
        "floor on each identity group's BPSN AUC (neutral posts about the group ranked below hostile "
        "posts about the others) on the paired identity templates",
        "AUC",
    ),
    # The Jigsaw summary of the subgroup, BPSN and BNSP AUCs (power mean, p = -5, dominated by the worst
    # group) at the same level as the per-group BPSN floor: abuse of every group told from talk about it,
    # and abuse of one group not ranked below talk about another, at least four times in five.
    Gate(
        "min_bias_score",
        0.80,
        "floor",
        "bias score",
        "floor on the Jigsaw bias score (subgroup, BPSN and BNSP AUCs; 0.5 chance, 1 perfect) on the "
        "paired identity templates",
        "bias score",
    ),
    # The behaviour suite (harmwatch.behaviour): hand-written functional cases per functionality and
    # identity group. A moderation model that removes friendly posts about a group harms the people the
    # platform means to protect: at least four in five neutral or positive statements about every
    # group must stay up (the same limit as the template ceiling above).
    Gate(
        "min_group_not_flagged",
        0.80,
        "floor",
        "neutral and positive statements left up, every group",
        "share of each identity group's neutral and positive behaviour-suite statements the challenger "
        "must leave unflagged",
        "share of cases",
    ),
    # No kind of post may be handled worse than a coin toss: a functionality below 0.50 means the model
    # does the opposite of what moderation needs for that kind of post more often than not.
    Gate(
        "min_functionality",
        0.50,
        "floor",
        "every behaviour-suite functionality",
        "share of the cases of each behaviour-suite functionality the challenger must get right",
        "share of cases",
    ),
    # No loss of recall: a model that leaves up more hateful posts than the one moderators relied on when
    # these gates came fails them, however well it treats the non-hateful ones. That champion (the
    # baseline recipe, ``harmwatch train --recipe baseline``, fitted on the whole source dataset, 43,253
    # posts, seed 42) flags 761 of the 1,382 hateful cases of behaviour suite fbd2646f84c275c9 (0.5507);
    # the floor is that share rounded down to a tenth of a point (less than one case).
    Gate(
        "min_hateful_caught",
        0.55,
        "floor",
        "hateful behaviour-suite cases caught",
        "share of the behaviour suite's hateful cases the challenger must flag (no loss of recall "
        "against the champion the gates were introduced under)",
        "share of cases",
    ),
    # Against the champion, the tolerances are the spread between equally good retrains of one recipe
    # (one template in six for a group, 0.15 of bias score; ``python -m bench --sections gates``), so
    # noise alone does not reject, while a model that starts flagging another group's neutral posts does.
    Gate(
        "max_group_fpr_increase",
        0.17,
        "tolerance",
        "worst group's false-positive rate against the champion",
        "largest rise of the worst identity group's template false-positive rate against the champion's",
        "share of posts",
    ),
    Gate(
        "max_bias_score_drop",
        0.15,
        "tolerance",
        "bias score against the champion",
        "largest drop of the bias score against the champion",
        "bias score",
    ),
    # The recent slice: non-inferiority against the champion, as on the anchor but wider (fewer posts).
    Gate(
        "max_recent_regression",
        0.03,
        "tolerance",
        "macro-F1 regression on the recent slice",
        "non-inferiority margin of macro-F1 on the recent slice, the newest moderator-labelled posts "
        "neither model trained on (lower end of the paired bootstrap interval)",
        "macro-F1",
    ),
    Gate(
        "min_recent_rows",
        200,
        "floor",
        "posts in the recent slice",
        "a smaller recent slice is recorded as too small and its gate is not applied",
        "posts",
    ),
)

BY_NAME = {gate.name: gate for gate in GATES}

Thresholds = make_dataclass(
    "Thresholds",
    [(gate.name, type(gate.default), gate.default) for gate in GATES],
    frozen=True,
    module=__name__,
)
Thresholds.__doc__ = "The thresholds one evaluation applies: a field per row of :data:`GATES`."


def markdown_table() -> str:
    """The thresholds as docs/model.md shows them."""
    lines = ["| threshold | option and DAG param | default | unit | what it is |", "|---|---|---:|---|---|"]
    for gate in GATES:
        option = f"`{gate.option}`" + (
            f" (unset: `--{gate.follows.replace('_', '-')}`)" if gate.follows else ""
        )
        param = f", `{gate.name}`" if gate.on_form else ""
        lines.append(f"| {gate.title} | {option}{param} | {gate.default:g} | {gate.unit} | {gate.help} |")
    return "\n".join(lines)

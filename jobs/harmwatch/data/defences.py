"""The weak-label defences: one registry, read by the policy, build-dataset, the review kinds, the bench
and the docs.

Every report-derived label passes the policy's rules (enough reporters agree, no rival reason is as
strong, the supporters are reliable; :mod:`harmwatch.data.weak_labels`). A defence is a further check that
can be switched: each row of :data:`DEFENCES` names the :class:`~harmwatch.data.weak_labels.Policy`
setting that switches it and its value when on, whether the shipped policy has it on, the kind of review
reason it gives a post it holds back (with the words of that reason that name it), and what it costs.
``Policy.with_``/``without``, ``harmwatch build-dataset --defences-off``, the review counts by kind, the
bench's policies and the table in docs/weak-labels.md are all made from these rows; adding a defence is
one row here and the code that applies it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Defence:
    """One switchable check of the weak-label policy."""

    name: str  # as --defences-off and the bench's policies (+name, -name) spell it
    setting: str  # the Policy field that switches it
    on: bool | float  # the setting's value when on (a number: 0 is off)
    shipped: bool  # on in the default policy
    review_kind: str | None  # the kind of review reason it gives; None: it changes what a rule weighs
    marker: str | None  # words of that review reason that name its kind
    how: str  # how it works, one line
    cost: str  # what it costs, one line (the bench's adversaries section measures it)
    option: str | None = None  # the build-dataset option that sets or needs it, besides --defences-off

    @property
    def off(self) -> bool | float:
        """The setting's value when off."""
        return False if isinstance(self.on, bool) else 0.0

    @property
    def default(self) -> bool | float:
        """The setting's value in the shipped policy."""
        return self.on if self.shipped else self.off


DEFENCES: tuple[Defence, ...] = (
    Defence(
        "before_report",
        "before_report",
        True,
        shipped=False,
        review_kind=None,
        marker=None,
        how="a vote is judged on the reporter's record as it stood before the vote",
        cost="most honest labels while moderators label days late; a join of each vote to earlier votes",
    ),
    Defence(
        "per_reason",
        "per_reason",
        True,
        shipped=False,
        review_kind=None,
        marker=None,
        how="a vote is judged on the reporter's record under the reason it names only",
        cost="most honest labels while moderators label days late",
    ),
    Defence(
        "cohorts",
        "cohorts",
        True,
        shipped=True,
        review_kind="cohort",
        marker="co-reporting cohort",
        how="reporters who keep reporting together count as one (co-reporting cohorts)",
        cost="the co-reporting graph of the reports; almost no honest label",
    ),
    Defence(
        "trusted_dissent",
        "trusted_dissent",
        True,
        shipped=True,
        review_kind=None,
        marker=None,
        how="only trusted reporters' votes can tie a label, so accounts without a record cannot block it",
        cost="a few texts carried under two classes enter under the honestly reported one",
    ),
    Defence(
        "champion",
        "champion_floor",
        0.02,
        shipped=True,
        review_kind="champion",
        marker="the champion strongly disagrees",
        how="a label the champion gives a probability below the floor waits for a moderator",
        cost="loading the champion and scoring the report-only posts",
        option="--champion-check",
    ),
    Defence(
        "spot_checks",
        "spot_check_rate",
        0.05,
        shipped=True,
        review_kind="spot_check",
        marker="spot check",
        how="a seeded random share of the accepted labels goes to moderators, who keep measuring precision",
        cost="its rate of honest labels waits for a moderator",
        option="--spot-check-rate",
    ),
)

BY_NAME = {defence.name: defence for defence in DEFENCES}
DEFENCE_NAMES = tuple(BY_NAME)


def chosen(names: Iterable[str]) -> list[Defence]:
    """The registry rows of ``names``; an unknown name is an error that lists the known ones."""
    names = list(names)
    unknown = sorted(set(names) - set(BY_NAME))
    if unknown:
        raise ValueError(f"unknown defences {unknown}; known: {', '.join(DEFENCE_NAMES)}")
    return [BY_NAME[name] for name in names]


def markdown_table() -> str:
    """The defences as docs/weak-labels.md shows them."""
    lines = [
        "| defence | in the default | how it works | review kind | set with | what it costs |",
        "|---|:---:|---|---|---|---|",
    ]
    for d in DEFENCES:
        kind = f"`{d.review_kind}`" if d.review_kind else "-"
        option = f"`{d.option}`" if d.option else "-"
        shipped = "yes" if d.shipped else "no"
        lines.append(f"| {d.name} | {shipped} | {d.how} | {kind} | {option} | {d.cost} |")
    return "\n".join(lines)

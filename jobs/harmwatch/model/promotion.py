"""Promote and rollback planning: from the registry's state to the alias moves and audit tags, pure.

``promote`` moves alias ``champion`` to the challenger when its recorded decision allows it (or when forced
with a reason); the outgoing champion keeps ``previous-champion``. ``rollback`` moves ``champion`` back to
``previous-champion`` and marks the demoted version ``rolled_back``. In approval mode a reviewer's answer
(:class:`Review`, from Airflow's human-in-the-loop task) approves a ``pending_approval`` decision, which
promotes, or rejects it, which is recorded on the version. Every move records who made it, through what
(an Airflow run or the command line) and why. The functions here say what to do and what to record; the
steps read the registry and make the moves.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Review:
    """A person's answer to an approval request: ``approved`` or ``rejected``, by whom, with their note."""

    verdict: str
    reviewer: str
    note: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in ("approved", "rejected"):
            raise ValueError(f"review verdict must be approved or rejected, not {self.verdict!r}")


def plan_promotion(
    challenger_version: str,
    decision: str | None,
    evaluated_against: str | None,
    champion_version: str | None,
    force: bool,
    review: Review | None = None,
) -> tuple[bool, str]:
    """(move the alias?, why) from the registry state and, in approval mode, the reviewer's answer."""
    if champion_version == challenger_version:
        return False, f"version {challenger_version} is already champion"
    if force:
        return True, "forced"
    if decision is None:
        return False, f"version {challenger_version} has no evaluation decision; run harmwatch evaluate"
    said = f": {review.note.strip()}" if review and review.note.strip() else ""
    if review is not None and review.verdict == "rejected":
        return False, f"rejected by {review.reviewer}{said}"
    approved = review is not None and decision == "pending_approval"
    if decision != "promote" and not approved:
        waiting = "; waiting for a reviewer" if decision == "pending_approval" else ""
        return False, f"decision is {decision}{waiting}"
    if (evaluated_against or "none") != (champion_version or "none"):
        return False, (
            f"decision was taken against champion {evaluated_against}, but the champion is now "
            f"{champion_version or 'none'}; run harmwatch evaluate again"
        )
    if approved:
        return True, f"approved by {review.reviewer}{said}"  # type: ignore[union-attr]
    return True, "decision is promote: every gate passed"


def promotion_audit(
    actor: str,
    champion_version: str | None,
    date: str | None,
    force: bool,
    reason: str | None,
    *,
    why: str = "",
    via: str = "cli",
    review: Review | None = None,
    failed_gates: str | None = None,
) -> dict[str, str]:
    """Tags recorded on the promoted version before any alias moves: who (the reviewer who approved, else
    ``actor``: whoever triggered or forced it), through what, from which champion, when, and why; forced,
    also the gates the promotion overrides (``failed_gates``: evaluate's ``harmwatch.failed_gates``)."""
    audit = {
        "harmwatch.promoted_by": review.reviewer if review is not None else actor,
        "harmwatch.promoted_via": via,
        "harmwatch.promotion_reason": (reason or "").strip() if force else why,
        "harmwatch.promoted_from": champion_version or "none",
        "harmwatch.promoted_on": date or "unspecified",
        "harmwatch.forced": str(bool(force)).lower(),
    }
    if force:
        audit["harmwatch.force_reason"] = (reason or "").strip()
        audit["harmwatch.overridden_gates"] = (failed_gates or "").strip() or "unknown (not evaluated)"
    if review is not None:
        audit.update(review_tags(review, date))
    return audit


def forced_note(overridden: str | None) -> str:
    """What a forced move overrode, for the status line at the top of the version's description."""
    if overridden is None:
        return ""
    if overridden == "none":
        return ", forced (no gate had failed)"
    return f", forced over the failed gates {overridden.replace(',', ', ')}"


def review_tags(review: Review, date: str | None) -> dict[str, str]:
    return {
        "harmwatch.review": review.verdict,
        "harmwatch.reviewed_by": review.reviewer,
        "harmwatch.review_note": review.note.strip() or "none given",
        "harmwatch.reviewed_on": date or "unspecified",
    }


def rejection_tags(review: Review, tags: dict[str, str], date: str | None) -> dict[str, str]:
    """A rejected challenger (``tags``: its version's): its decision becomes ``reject`` (a later promote
    does not act on it without ``--force``), the one it had is kept, and who rejected it and why."""
    before = tags.get("harmwatch.decision_before_review") or tags.get("harmwatch.decision") or "none"
    return {
        "harmwatch.decision": "reject",
        "harmwatch.decision_before_review": before,
        **review_tags(review, date),
    }


@dataclass
class RollbackPlan:
    """What a rollback does: nothing (``move`` False, ``why``), or the tags and the target version."""

    move: bool
    why: str
    demoted_tags: dict[str, str] = field(default_factory=dict)
    restored_tags: dict[str, str] = field(default_factory=dict)


def plan_rollback(
    champion_version: str,
    champion_tags: dict[str, str],
    previous_version: str,
    actor: str,
    date: str | None,
    reason: str | None,
) -> RollbackPlan:
    """Tags for the demoted and the restored version, or why nothing moves.

    The demoted version's decision becomes ``rolled_back`` (the old one is kept in
    ``harmwatch.decision_before_rollback``), so a later promote does not bring it back without ``--force``.
    """
    if previous_version == champion_version:
        return RollbackPlan(False, f"champion is already the previous champion (version {champion_version})")
    before = champion_tags.get("harmwatch.decision", "none")
    if before == "rolled_back":  # a rerun after a kill between these tags and the alias move
        before = champion_tags.get("harmwatch.decision_before_rollback", "none")
    why = (reason or "").strip() or "none given"
    return RollbackPlan(
        True,
        why,
        demoted_tags={
            "harmwatch.decision": "rolled_back",
            "harmwatch.decision_before_rollback": before,
            "harmwatch.rolled_back_by": actor,
            "harmwatch.rolled_back_on": date or "unspecified",
            "harmwatch.rollback_reason": why,
        },
        restored_tags={
            "harmwatch.restored_from": champion_version,
            "harmwatch.restored_by": actor,
            "harmwatch.restored_on": date or "unspecified",
            "harmwatch.restore_reason": why,
        },
    )

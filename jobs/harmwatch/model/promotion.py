"""Promote and rollback planning: from the registry's state to the alias moves and audit tags, pure.

``promote`` moves alias ``champion`` to the challenger when its recorded decision allows it (or when forced
with a reason); the outgoing champion keeps ``previous-champion``. ``rollback`` moves ``champion`` back to
``previous-champion`` and marks the demoted version ``rolled_back``. The functions here say what to do and
what to record; the steps read the registry and make the moves.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def plan_promotion(
    challenger_version: str,
    decision: str | None,
    evaluated_against: str | None,
    champion_version: str | None,
    force: bool,
) -> tuple[bool, str]:
    """(move the alias?, why) from the registry state."""
    if champion_version == challenger_version:
        return False, f"version {challenger_version} is already champion"
    if force:
        return True, "forced"
    if decision is None:
        return False, f"version {challenger_version} has no evaluation decision; run harmwatch evaluate"
    if decision != "promote":
        return False, f"decision is {decision}"
    if (evaluated_against or "none") != (champion_version or "none"):
        return False, (
            f"decision was taken against champion {evaluated_against}, but the champion is now "
            f"{champion_version or 'none'}; run harmwatch evaluate again"
        )
    return True, "decision is promote"


def promotion_audit(
    actor: str, champion_version: str | None, date: str | None, force: bool, reason: str | None
) -> dict[str, str]:
    """Tags recorded on the promoted version before any alias moves: who, from what, when, forced why."""
    audit = {
        "harmwatch.promoted_by": actor,
        "harmwatch.promoted_from": champion_version or "none",
        "harmwatch.promoted_on": date or "unspecified",
        "harmwatch.forced": str(bool(force)).lower(),
    }
    if force:
        audit["harmwatch.force_reason"] = (reason or "").strip()
    return audit


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
        restored_tags={"harmwatch.restored_from": champion_version},
    )

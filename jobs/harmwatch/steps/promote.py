"""Move alias ``champion`` to the challenger when its recorded decision allows it, and record who and why.

The evaluate step writes ``harmwatch.decision`` on the challenger version. ``promote`` moves ``champion``
for ``promote``; for ``pending_approval`` when a reviewer approved (``--review approved --reviewer NAME``,
which the retrain DAG passes from Airflow's approval task); or with ``--force --reason TEXT``. A reviewer's
rejection is recorded on the version (its decision becomes ``reject``) and nothing moves. The plan is
:func:`harmwatch.model.promotion.plan_promotion`; the outgoing champion keeps ``previous-champion`` so
``rollback`` can restore it. A decision taken against a champion that has changed since is stale and is
not acted on.

Who moved the alias goes on the version (``harmwatch.promoted_by``): the reviewer who approved, else
``--actor`` (the DAG passes the Airflow user who triggered the run), else the MLflow or Unix user; with
``--via`` (the Airflow run) and why. A champion set by hand since the last move is noticed and recorded
first (:func:`harmwatch.registry.reconcile_champion`). Idempotent: promoting the version that already is
champion moves no alias.
"""

from __future__ import annotations

import argparse
from typing import Any

from harmwatch.config import Settings
from harmwatch.errors import HarmwatchError
from harmwatch.faults import checkpoint
from harmwatch.model.audit import record
from harmwatch.model.promotion import (
    Review,
    forced_note,
    plan_promotion,
    promotion_audit,
    rejection_tags,
)
from harmwatch.model.summary import with_status


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", help="logical date YYYY-MM-DD, recorded on the promoted version")
    parser.add_argument("--force", action="store_true", help="promote whatever the decision (needs --reason)")
    parser.add_argument("--reason", help="why the promotion is forced; recorded on the model version")
    parser.add_argument(
        "--actor",
        help="who is acting (the Airflow user who triggered the run); default: the MLflow/Unix user",
    )
    parser.add_argument("--via", default="cli", help="through what (e.g. the Airflow run); recorded")
    parser.add_argument(
        "--review",
        choices=("approved", "rejected"),
        help="a reviewer's answer to a pending_approval decision",
    )
    parser.add_argument("--reviewer", help="who answered (with --review)")
    parser.add_argument("--review-note", default="", help="what the reviewer said (with --review)")


def _review(args: argparse.Namespace) -> Review | None:
    if not args.review:
        return None
    if not (args.reviewer or "").strip():
        raise HarmwatchError("--review needs --reviewer NAME: who answered")
    return Review(args.review, args.reviewer.strip(), args.review_note or "")


def _record_rejection(
    client: Any, name: str, challenger: Any, review: Any, why: str, date: str | None
) -> None:
    """The reviewer's Reject, on the challenger version: tags and a status line in its description."""
    from harmwatch.registry import set_version_tags

    version = str(challenger.version)
    set_version_tags(client, name, version, rejection_tags(review, challenger.tags, date))
    status = f"**Rejected** by {review.reviewer} on {date or 'an unspecified date'}: {why}"
    client.update_model_version(name, version, with_status(challenger.description, status))


def _move_champion(
    client: Any,
    name: str,
    challenger: Any,
    champion_version: str | None,
    actor: str,
    why: str,
    review: Any,
    args: argparse.Namespace,
) -> str:
    """Move the aliases, with the record and the audit trail; returns who moved them.

    Crash safety: the record's intent and the audit trail go first, then previous-champion, then champion,
    then the record is completed. A kill anywhere before the champion move leaves champion where it was,
    and a rerun repeats the same writes; once champion has moved, a rerun finds "already champion" and the
    record is completed by the next look at it (harmwatch.model.audit).
    """
    from harmwatch.registry import set_version_tags, write_champion_record

    challenger_version = str(challenger.version)
    audit = promotion_audit(
        actor,
        champion_version,
        args.date,
        args.force,
        args.reason,
        why=why,
        via=args.via,
        review=review,
        failed_gates=challenger.tags.get("harmwatch.failed_gates"),
    )
    by = audit["harmwatch.promoted_by"]
    intent = record(challenger_version, champion_version, by, why, args.via, args.date, done=False)
    write_champion_record(client, name, intent)
    set_version_tags(client, name, challenger_version, audit)
    checkpoint("audit")
    if champion_version is not None:
        client.set_registered_model_alias(name, "previous-champion", champion_version)
        checkpoint("alias")
    client.set_registered_model_alias(name, "champion", challenger_version)
    checkpoint("alias")
    write_champion_record(client, name, {**intent, "done": True})
    after = f"after v{champion_version}" if champion_version else "the first champion"
    forced = forced_note(audit.get("harmwatch.overridden_gates"))
    status = (
        f"**Champion** from {args.date or 'an unspecified date'}, {after}: "
        f"moved by {by}{forced} ({audit['harmwatch.promotion_reason']}; {args.via})"
    )
    client.update_model_version(name, challenger_version, with_status(challenger.description, status))
    return by


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    from harmwatch.registry import (
        configure_mlflow,
        get_alias_version,
        mlflow_calls,
        reconcile_champion,
        require_alias_version,
    )

    if args.force and not (args.reason or "").strip():
        raise HarmwatchError("--force needs --reason TEXT: say why the gates are overridden")
    review = _review(args)
    actor = (args.actor or "").strip() or settings.acting_user()
    name = settings.model_name
    with mlflow_calls(settings):
        client = configure_mlflow(settings)
        noticed = reconcile_champion(client, settings, "promote", args.date)
        challenger = require_alias_version(client, settings, "challenger")
        champion = get_alias_version(client, name, "champion")
        decision = challenger.tags.get("harmwatch.decision")
        champion_version = str(champion.version) if champion is not None else None
        challenger_version = str(challenger.version)
        move, why = plan_promotion(
            challenger_version,
            decision,
            challenger.tags.get("harmwatch.evaluated_against"),
            champion_version,
            args.force,
            review,
        )
        summary: dict[str, Any] = {
            "promoted": move,
            "decision": decision,
            "reason": why,
            "model_version": challenger_version,
            "champion_version": champion_version,
            "previous_champion_version": None,
            "champion_set_outside_harmwatch": noticed,
        }
        if decision is None and not args.force and champion_version != challenger_version:
            raise HarmwatchError(why)
        if review is not None and review.verdict == "rejected" and not args.force:
            _record_rejection(client, name, challenger, review, why, args.date)
            return {**summary, "decision": "reject", "rejected_by": review.reviewer}
        if not move:
            return summary
        by = _move_champion(client, name, challenger, champion_version, actor, why, review, args)
    return {
        **summary,
        "champion_version": challenger_version,
        "previous_champion_version": champion_version,
        "forced": bool(args.force),
        "promoted_by": by,
    }

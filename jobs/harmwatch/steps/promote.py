"""Move alias ``champion`` to the challenger when its recorded decision allows it.

The evaluate step writes ``harmwatch.decision`` on the challenger version. ``promote`` moves ``champion``
only for ``promote``, or with ``--force --reason TEXT`` (who and why are recorded on the version); the plan
is :func:`harmwatch.model.promotion.plan_promotion`. The outgoing champion keeps alias
``previous-champion`` so ``rollback`` can restore it. Idempotent: promoting the version that already is
champion moves no alias. In approval mode the decision is ``pending_approval``: this command then changes
nothing and exits 0, and a person promotes either here with ``--force --reason`` or in the MLflow UI by
setting alias ``champion`` on the version. A decision taken against a champion that has changed since is
stale and is not acted on.
"""

from __future__ import annotations

import argparse
from typing import Any

from harmwatch.config import Settings
from harmwatch.errors import HarmwatchError
from harmwatch.faults import checkpoint
from harmwatch.model.promotion import plan_promotion, promotion_audit


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", help="logical date YYYY-MM-DD, recorded on the promoted version")
    parser.add_argument("--force", action="store_true", help="promote whatever the decision (needs --reason)")
    parser.add_argument("--reason", help="why the promotion is forced; recorded on the model version")


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    from harmwatch.registry import (
        configure_mlflow,
        get_alias_version,
        mlflow_calls,
        require_alias_version,
        set_version_tags,
    )

    if args.force and not (args.reason or "").strip():
        raise HarmwatchError("--force needs --reason TEXT: say why the gates are overridden")
    name = settings.model_name
    with mlflow_calls(settings):
        client = configure_mlflow(settings)
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
        )
        summary: dict[str, Any] = {
            "promoted": move,
            "decision": decision,
            "reason": why,
            "model_version": challenger_version,
            "champion_version": champion_version,
            "previous_champion_version": None,
        }
        if decision is None and not args.force and champion_version != challenger_version:
            raise HarmwatchError(why)
        if not move:
            return summary
        # Crash safety: the audit trail goes first, then previous-champion, then champion. A kill anywhere
        # before the champion move leaves champion where it was, and a rerun repeats the same writes; once
        # champion has moved, a rerun finds "already champion" and changes nothing.
        set_version_tags(
            client,
            name,
            challenger_version,
            promotion_audit(settings.acting_user(), champion_version, args.date, args.force, args.reason),
        )
        checkpoint("audit")
        if champion is not None:
            client.set_registered_model_alias(name, "previous-champion", champion_version)
            checkpoint("alias")
        client.set_registered_model_alias(name, "champion", challenger_version)
        checkpoint("alias")
    return {
        **summary,
        "champion_version": challenger_version,
        "previous_champion_version": champion_version,
        "forced": bool(args.force),
    }

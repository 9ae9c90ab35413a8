"""Move alias ``champion`` back to the version that holds ``previous-champion``.

Use it when a promoted model misbehaves in production. The demoted version's decision becomes
``rolled_back`` (the old one is kept in ``harmwatch.decision_before_rollback``), so a later
``harmwatch promote`` does not promote it again without ``--force``; the plan is
:func:`harmwatch.model.promotion.plan_rollback`. Idempotent: once ``champion`` and ``previous-champion``
name the same version, running it again changes nothing.

Who rolled back (``HARMWATCH_ACTOR``, else the MLflow or Unix user) and why go on both versions and into
the champion's record; a champion set by hand since the last move is noticed and recorded first.
"""

from __future__ import annotations

import argparse
from typing import Any

from harmwatch.config import Settings
from harmwatch.errors import HarmwatchError
from harmwatch.faults import checkpoint
from harmwatch.model.audit import record
from harmwatch.model.promotion import plan_rollback
from harmwatch.model.summary import with_status


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", help="logical date YYYY-MM-DD, recorded on the demoted version")
    parser.add_argument("--reason", help="why the champion is rolled back; recorded on the demoted version")


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    from harmwatch.registry import (
        configure_mlflow,
        get_alias_version,
        mlflow_calls,
        reconcile_champion,
        require_alias_version,
        set_version_tags,
        write_champion_record,
    )

    name = settings.model_name
    actor = settings.acting_user()
    with mlflow_calls(settings):
        client = configure_mlflow(settings)
        noticed = reconcile_champion(client, settings, "rollback", args.date)
        champion = require_alias_version(client, settings, "champion")
        previous = get_alias_version(client, name, "previous-champion")
        if previous is None:
            raise HarmwatchError(f"model {name!r} has no 'previous-champion' version to roll back to")
        champion_version, previous_version = str(champion.version), str(previous.version)
        plan = plan_rollback(
            champion_version,
            dict(champion.tags),
            previous_version,
            actor,
            args.date,
            args.reason,
        )
        if not plan.move:
            return {"rolled_back": False, "champion_version": champion_version, "reason": plan.why}
        # Tags before the alias: once champion has moved a rerun changes nothing, so the demoted version
        # must already say rolled_back (or a later promote could bring it back on its old decision).
        why = f"rollback: {plan.why}"
        intent = record(previous_version, champion_version, actor, why, "cli", args.date, done=False)
        write_champion_record(client, name, intent)
        set_version_tags(client, name, champion_version, plan.demoted_tags)
        set_version_tags(client, name, previous_version, plan.restored_tags)
        checkpoint("audit")
        client.set_registered_model_alias(name, "champion", previous_version)
        checkpoint("alias")
        write_champion_record(client, name, {**intent, "done": True})
        when = args.date or "an unspecified date"
        for version, desc, status in (
            (champion_version, champion.description, f"**Rolled back** on {when} by {actor}: {plan.why}"),
            (previous_version, previous.description, f"**Champion again** on {when} (rollback by {actor})"),
        ):
            client.update_model_version(name, version, with_status(desc, status))
    return {
        "champion_set_outside_harmwatch": noticed,
        "rolled_back": True,
        "champion_version": previous_version,
        "demoted_version": champion_version,
        "reason": plan.why,
    }

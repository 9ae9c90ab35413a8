"""Move alias ``champion`` back to the version that holds ``previous-champion``.

Use it when a promoted model misbehaves in production. The demoted version's decision becomes
``rolled_back`` (the old one is kept in ``harmwatch.decision_before_rollback``), so a later
``harmwatch promote`` does not promote it again without ``--force``. Idempotent: once ``champion`` and
``previous-champion`` name the same version, running it again changes nothing.
"""

from __future__ import annotations

import argparse
from typing import Any

from harmwatch.config import Settings
from harmwatch.errors import HarmwatchError
from harmwatch.faults import checkpoint


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", help="logical date YYYY-MM-DD, recorded on the demoted version")
    parser.add_argument("--reason", help="why the champion is rolled back; recorded on the demoted version")


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    from harmwatch.registry import configure_mlflow, mlflow_calls

    with mlflow_calls(settings):
        return _rollback(settings, args, configure_mlflow(settings))


def _rollback(settings: Settings, args: argparse.Namespace, client: Any) -> dict[str, Any]:
    from harmwatch.promote import actor
    from harmwatch.registry import get_alias_version, require_alias_version, set_version_tags

    name = settings.model_name
    champion = require_alias_version(client, settings, "champion")
    previous = get_alias_version(client, name, "previous-champion")
    if previous is None:
        raise HarmwatchError(f"model {name!r} has no 'previous-champion' version to roll back to")
    champion_version, previous_version = str(champion.version), str(previous.version)
    if previous_version == champion_version:
        return {"rolled_back": False, "champion_version": champion_version,
                "reason": f"champion is already the previous champion (version {champion_version})"}
    # Tags before the alias: once champion has moved a rerun changes nothing, so the demoted version must
    # already say rolled_back (or a later promote could bring it back on its old decision).
    before = champion.tags.get("harmwatch.decision", "none")
    if before == "rolled_back":  # a rerun after a kill between these tags and the alias move
        before = champion.tags.get("harmwatch.decision_before_rollback", "none")
    set_version_tags(client, name, champion_version, {
        "harmwatch.decision": "rolled_back", "harmwatch.decision_before_rollback": before,
        "harmwatch.rolled_back_by": actor(), "harmwatch.rolled_back_on": args.date or "unspecified",
        "harmwatch.rollback_reason": (args.reason or "").strip() or "none given",
    })
    set_version_tags(client, name, previous_version, {"harmwatch.restored_from": champion_version})
    checkpoint("audit")
    client.set_registered_model_alias(name, "champion", previous_version)
    checkpoint("alias")
    return {"rolled_back": True, "champion_version": previous_version, "demoted_version": champion_version,
            "reason": (args.reason or "").strip() or "none given"}

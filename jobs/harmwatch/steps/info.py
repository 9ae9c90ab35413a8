"""Print the resolved settings (secrets masked)."""

from __future__ import annotations

import argparse
from typing import Any

from harmwatch.config import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print only the JSON summary line")


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    if not args.json:
        import sys

        sys.stderr.write(settings.to_json() + "\n")
    return settings.public_dict()

"""The ``harmwatch`` command: one sub-command per pipeline step.

Each step lives in its own module exposing ``add_arguments(parser)`` and
``run(settings, args) -> dict``. The module is imported only when its command runs, so
``harmwatch info`` stays fast. Contract (DESIGN.md): the step's JSON summary is the last line of
stdout and the exit code is 0; on failure one clear line goes to stderr and the exit code is non-zero.
Anything the libraries print while a step runs is sent to stderr so stdout stays machine-readable.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any

# command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "info": ("harmwatch.info", "print the resolved settings"),
    "simulate": ("harmwatch.simulate", "turn the source CSV into a landing zone of daily batches"),
    "ingest": ("harmwatch.ingest", "parse new landing files into the lake"),
    "validate": ("harmwatch.validate", "run Great Expectations suites; quarantine failing rows"),
    "build-dataset": ("harmwatch.build_dataset", "build training/eval snapshots and the review queue"),
    "train": ("harmwatch.train", "train a challenger and register it in MLflow"),
    "evaluate": ("harmwatch.evaluate", "compare challenger with champion; record a decision"),
    "promote": ("harmwatch.promote", "move alias champion to the challenger if the decision allows"),
    "rollback": ("harmwatch.rollback", "move alias champion back to previous-champion"),
    "drift": ("harmwatch.drift", "Evidently drift report: reference vs current batches"),
    "metrics": ("harmwatch.metrics", "moderation metrics per batch (MLflow + Prometheus text)"),
    "score": ("harmwatch.score", "batch-score a file with the champion"),
}

XCOM_DIR = Path("/airflow/xcom")


def _top_help() -> str:
    width = max(len(c) for c in COMMANDS)
    lines = [f"  {c.ljust(width)}  {h}" for c, (_, h) in COMMANDS.items()]
    return "usage: harmwatch <command> [options]\n\ncommands:\n" + "\n".join(lines)


def _emit_summary(summary: dict[str, Any]) -> None:
    line = json.dumps(summary, sort_keys=True, default=str)
    if XCOM_DIR.is_dir() and os.access(XCOM_DIR, os.W_OK):  # KubernetesPodOperator's XCom sidecar
        (XCOM_DIR / "return.json").write_text(line)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _mlflow_outage(exc: BaseException) -> Any:
    """The one-line ServiceUnavailable for an unreachable MLflow server, or None for any other error."""
    try:
        from harmwatch.config import load_settings
        from harmwatch.registry import is_outage, unavailable

        return unavailable(load_settings(), exc) if is_outage(exc, mlflow_only=True) else None
    except Exception:  # mapping an error must never raise one
        return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print(_top_help(), file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    command, rest = argv[0], argv[1:]
    logging.basicConfig(
        level=os.environ.get("HARMWATCH_LOG_LEVEL", "INFO"),
        format=f"%(asctime)s harmwatch.{command} %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("great_expectations", "mlflow", "alembic", "botocore", "urllib3", "evidently"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from harmwatch.config import load_settings
    from harmwatch.errors import HarmwatchError
    from harmwatch.storage import StorageError

    module = importlib.import_module(COMMANDS[command][0])
    parser = argparse.ArgumentParser(prog=f"harmwatch {command}", description=module.__doc__)
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    try:
        settings = load_settings()
        with contextlib.redirect_stdout(sys.stderr):
            summary = module.run(settings, args)
    except (HarmwatchError, StorageError) as exc:
        print(f"harmwatch {command}: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 4 if isinstance(exc, StorageError) else 2)
    except KeyboardInterrupt:
        print(f"harmwatch {command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort: still one line, traceback only on request
        if os.environ.get("HARMWATCH_DEBUG"):
            traceback.print_exc()
        outage = _mlflow_outage(exc)
        if outage is not None:  # an MLflow call outside a step's own error mapping
            print(f"harmwatch {command}: error: {outage}", file=sys.stderr)
            return outage.exit_code
        where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        loc = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
        msg = str(exc).splitlines()[0] if str(exc) else ""
        print(f"harmwatch {command}: unexpected {type(exc).__name__}{loc}: {msg}", file=sys.stderr)
        return 1
    _emit_summary(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())

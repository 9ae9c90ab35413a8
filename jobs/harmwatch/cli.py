"""The ``harmwatch`` command: one sub-command per pipeline step (:mod:`harmwatch.steps`).

The entry point reads the settings once, sets the third-party defaults, arms fault injection, and runs
the step's module, which is imported only when its command runs so ``harmwatch info`` stays fast.
Contract (docs/architecture.md, "Contracts"): the step's JSON summary is the last line of stdout and
the exit code is 0; on failure one clear line goes to stderr and the exit code is non-zero. Anything
the libraries print while a step runs is sent to stderr so stdout stays machine-readable.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib
import json
import logging
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harmwatch.steps import COMMANDS

if TYPE_CHECKING:
    from harmwatch.config import Settings

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


def parse_summary(stdout: str) -> dict[str, Any]:
    """A step's JSON summary from its stdout: the last non-empty line, a JSON object (ValueError if not).

    The one reader of the contract :func:`_emit_summary` writes; the DAG's local runner, the development
    stack and the benchmarks use it.
    """
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise ValueError("the step printed no JSON summary on stdout")
    try:
        summary = json.loads(lines[-1])
    except json.JSONDecodeError as exc:
        raise ValueError(f"the step's last stdout line is not JSON ({exc}): {lines[-1][:200]}") from None
    if not isinstance(summary, dict):
        raise ValueError(f"the step's summary is not a JSON object: {lines[-1][:200]}")
    return summary


def _mlflow_outage(settings: Settings, exc: BaseException) -> Any:
    """The one-line error for an unreachable MLflow server or one that refuses the step's credentials, or
    None for any other error."""
    try:
        from harmwatch.registry import access_refused, is_outage, unavailable

        return (
            unavailable(settings, exc) if is_outage(exc, mlflow_only=True) else access_refused(settings, exc)
        )
    except Exception:  # mapping an error must never raise one
        return None


def _checked_settings(command: str) -> Any:
    """The settings, or None after one line naming the variable that is wrong or the secret missing."""
    from pydantic import ValidationError

    from harmwatch.config import load_settings

    try:
        settings = load_settings()
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = (".".join(str(p) for p in problem["loc"]) or "settings").upper()
        variable = field if field.startswith("MLFLOW_TRACKING_") else f"HARMWATCH_{field}"
        print(f"harmwatch {command}: error: {variable}: {problem['msg']}", file=sys.stderr)
        return None
    # info shows what is set; mlflow-access (the admin's) handles no data and checks its own credentials.
    refusals = settings.refusals(command) if command not in ("info", "mlflow-access") else []
    if refusals:
        print(f"harmwatch {command}: error: {refusals[0]}", file=sys.stderr)
        return None
    return settings


def _configure_logging(level: str, command: str) -> None:
    logging.basicConfig(
        level=level, format=f"%(asctime)s harmwatch.{command} %(levelname)s %(message)s", stream=sys.stderr
    )
    for noisy in ("great_expectations", "mlflow", "alembic", "botocore", "urllib3", "evidently", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _unexpected(settings: Any, command: str, exc: Exception) -> int:
    """One line for an error no step mapped (an MLflow outage keeps its own exit code); the traceback
    only with the debug setting."""
    if settings.debug:
        traceback.print_exc()
    outage = _mlflow_outage(settings, exc)
    if outage is not None:  # an MLflow call outside a step's own error mapping
        print(f"harmwatch {command}: error: {outage}", file=sys.stderr)
        return outage.exit_code
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    loc = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
    msg = str(exc).splitlines()[0] if str(exc) else ""
    print(f"harmwatch {command}: unexpected {type(exc).__name__}{loc}: {msg}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print(_top_help(), file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    command, rest = argv[0], argv[1:]
    from harmwatch import faults
    from harmwatch.config import configure_libraries
    from harmwatch.errors import HarmwatchError
    from harmwatch.storage import StorageError

    settings = _checked_settings(command)
    if settings is None:
        return 2
    configure_libraries(settings)
    faults.arm(settings.fault_kill_at)
    _configure_logging(settings.log_level, command)
    module = importlib.import_module(COMMANDS[command][0])
    parser = argparse.ArgumentParser(prog=f"harmwatch {command}", description=module.__doc__)
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            summary = module.run(settings, args)
    except (HarmwatchError, StorageError) as exc:
        print(f"harmwatch {command}: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 4 if isinstance(exc, StorageError) else 2)
    except KeyboardInterrupt:
        print(f"harmwatch {command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort: still one line, traceback only on request
        return _unexpected(settings, command, exc)
    _emit_summary(summary)
    return 0


def leave(code: int) -> None:
    """End the process with ``code`` once a step has finished, skipping native libraries' teardown.

    Arrow's and DuckDB's thread pools can be torn down while a worker is still alive when the
    interpreter finalises, and the process then aborts (``terminate called without an active
    exception``, exit -6) after the step did all its work and printed its summary. Everything Python
    would do at exit still runs here, in the same order: ``threading``'s own shutdown (which tells
    idle ``concurrent.futures`` workers to stop, then joins every non-daemon thread), the ``atexit``
    functions (MLflow's, ``weakref.finalize``'s, logging's), and both streams flushed; only the C++
    static destructors are skipped.
    """
    threading._shutdown()  # what the interpreter calls first at exit; private, but there is no other
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def entry() -> None:
    """The console script: :func:`main` on ``sys.argv``, then :func:`leave` (main stays usable in-process)."""
    try:
        code = main()
    except SystemExit as exc:  # argparse's usage errors and --help
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    leave(code)


if __name__ == "__main__":
    entry()

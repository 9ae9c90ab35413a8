"""The local development stack: embedded Airflow for `make demo`/`make up`, the demo itself, and the servers
the tests and benchmarks start (all on 127.0.0.1). Run its modules from the repository root
(``python -m devstack.demo``); nothing here is part of the job image."""

from __future__ import annotations

import subprocess


def run_checked(args: list[str], env: dict[str, str], timeout: float, what: str) -> str:
    """Run ``args`` quietly; its stdout, or RuntimeError naming ``what``, the exit code and the last line
    of stderr (one clear line, not the whole output)."""
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"{what} exited {proc.returncode}: {last}")
    return proc.stdout

"""Fault injection for the crash-and-rerun tests. Inert unless ``HARMWATCH_FAULT_KILL_AT`` is set.

``HARMWATCH_FAULT_KILL_AT=<checkpoint>#<n>`` makes the process SIGKILL itself the n-th time it passes
``checkpoint(<checkpoint>)`` (n defaults to 1). Steps call checkpoints right after they made durable
progress (a storage write, a registered model version, an alias move), which are exactly the points
where a crash leaves partial work behind and a rerun must still converge to the same result.

Checkpoints (tests/reliability/test_crash_rerun*.py kill at each of them):

- ``write``: after every durable storage write (ingest, validate, build-dataset, ...; storage.py).
- train: ``run`` (run opened, nothing fitted), ``logged`` (model and record logged, not registered),
  ``registered`` (version created, card/description/complete marker missing), ``finished`` (version
  complete, run still open), ``alias`` (challenger moved).
- evaluate: ``scores`` (challenger scores stored), ``decision`` (evidence artifact written, tags not),
  ``decided`` (decision tags written).
- promote: ``audit`` (audit tags written, no alias moved), ``alias`` (#1 previous-champion, #2 champion;
  #1 is champion when there was none). rollback: ``audit`` (demotion tags written), ``alias`` (champion).
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_passed: Counter[str] = Counter()
_target = ""


def arm(target: str) -> None:
    """Set the checkpoint to die at (``settings.fault_kill_at``; the CLI calls this at start-up)."""
    global _target
    _target = target
    _passed.clear()


def checkpoint(name: str) -> None:
    target = _target
    if not target:
        return
    label, _, nth = target.partition("#")
    if label != name:
        return
    _passed[name] += 1
    if _passed[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)

"""Scoring many posts with a loaded model: batches bounded in memory, one forked worker per usable CPU.

The text vectorisers are single-threaded Python, so one process scores on one core; forked workers inherit
the loaded model instead of loading it again. ``harmwatch score`` and the drift step score through here.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd


def available_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup v2 quota (a pod's CPU limit)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, int(int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


_MODEL: Any = None  # the model a forked scoring worker inherits (see score_frame)


def _predict_in_worker(texts: pd.DataFrame) -> pd.DataFrame:
    return _MODEL.predict(texts)


def score_frame(model: Any, frame: pd.DataFrame, batch_size: int, workers: int = 1) -> pd.DataFrame:
    """Input columns plus the contract columns, scored in batches to bound memory.

    With ``workers > 1`` the batches are scored by that many forked processes, which inherit the
    loaded model (the text vectorisers are single-threaded Python, so one process uses one core).
    """
    global _MODEL
    texts = frame[["text"]].astype({"text": str}).reset_index(drop=True)
    workers = max(1, min(workers, len(texts) // 2_000))  # small inputs are not worth a worker
    if workers > 1 and "fork" in mp.get_all_start_methods():
        batch_size = min(batch_size, -(-len(texts) // (2 * workers)))  # about two batches per worker
        chunks = [texts.iloc[i : i + batch_size] for i in range(0, len(texts), batch_size)]
        _MODEL = model
        try:
            with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as pool:
                parts = list(pool.map(_predict_in_worker, chunks))
        finally:
            _MODEL = None
    else:
        parts = [model.predict(texts.iloc[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
    scored = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    base = frame.reset_index(drop=True).drop(columns=[c for c in scored.columns if c in frame.columns])
    return pd.concat([base, scored], axis=1)

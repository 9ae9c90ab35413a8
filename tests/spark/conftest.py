"""Running steps on both engines in this process (Spark in ``local[2]``; the JVM starts once per test
process and each step's session reuses it), and reading what they wrote in a comparable form."""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from harmwatch.cli import main
from harmwatch.data import catalog
from harmwatch.storage import open_store

DATASETS = [  # what build-dataset commits
    catalog.TRAIN_SNAPSHOTS,
    catalog.EVAL_SNAPSHOTS,
    catalog.RECENT_SLICES,
    catalog.REVIEW_QUEUES,
    catalog.REPORTER_TABLES,
]


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    cleared = {
        k: os.environ.pop(k) for k in list(os.environ) if k.startswith("HARMWATCH_") and k not in values
    }
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        os.environ.update(cleared)


def step(env: dict[str, str], *args: str) -> tuple[int, dict | None, str]:
    """``harmwatch ARGS`` in this process with ``env``: (exit code, summary or None, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with environment(env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    lines = out.getvalue().strip().splitlines()
    summary = json.loads(lines[-1]) if code == 0 and lines else None
    assert "Traceback" not in err.getvalue()
    return code, summary, err.getvalue()


def engine_env(home: Path, landing: Path, engine: str) -> dict[str, str]:
    return {
        "HARMWATCH_HOME": str(home),
        "HARMWATCH_LANDING_URI": str(landing),
        "HARMWATCH_ENGINE": engine,
        "HARMWATCH_SPARK_MASTER": "local[2]",
        "HARMWATCH_SPARK_SHUFFLE_PARTITIONS": "4",
    }


def folder_rows(lake_uri: str, prefix: str, order: list[str] | None = None) -> pd.DataFrame:
    """Every committed row under ``prefix``, values as strings (None for missing), in a stable order."""
    store = open_store(lake_uri)
    frames = [
        store.read_parquet(f"{m['prefix']}/{f['name']}")
        for m in store.committed(prefix)
        for f in m["files"]
        if f["name"].endswith(".parquet")
    ]
    frames = [f for f in frames if len(f.columns)]
    if not frames:
        return pd.DataFrame()
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.astype(object).where(frame.notna(), None)
    frame = frame.map(lambda v: None if v is None else str(v))
    order = [c for c in (order or ["source_file", "source_line"]) if c in frame.columns]
    if "source_line" in order:
        frame["_line"] = frame["source_line"].astype(float)
        order = [("_line" if c == "source_line" else c) for c in order]
    keys = order + [c for c in frame.columns if c not in order]
    return (
        frame.sort_values(keys, kind="stable").drop(columns="_line", errors="ignore").reset_index(drop=True)
    )


def manifests(lake_uri: str, prefix: str) -> list[dict]:
    """Committed manifests under ``prefix`` without what names the engine's files (names, sizes, hashes)."""
    return [{k: v for k, v in m.items() if k != "files"} for m in open_store(lake_uri).committed(prefix)]


def comparable(summary: dict | None, home: Path) -> dict | None:
    """A summary with the engine and the home's paths taken out."""
    if summary is None:
        return None
    text = json.dumps({k: v for k, v in summary.items() if k != "engine"}, sort_keys=True)
    return json.loads(text.replace(str(home), "<home>"))


@pytest.fixture(scope="session")
def java() -> None:
    import shutil

    if shutil.which("java") is None:
        pytest.fail(
            "no Java runtime: make test installs openjdk-17-jre-headless (scripts/install-system-packages.sh)"
        )

"""Batch-score a CSV or Parquet file that has a ``text`` column with the model behind an alias.

The output keeps the input columns and adds the pyfunc contract (``label``, ``harmful_score``,
``score_<class>``). Used for offline scoring and for the serving benchmarks; the model is resolved by
alias (default ``champion``) and the version actually used is reported.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import pandas as pd

from harmwatch.config import Settings
from harmwatch.errors import DataError


def read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: input file not found")
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype={"text": str},
                                                                                     keep_default_na=False)
    except Exception as exc:
        raise DataError(f"{path}: cannot read ({str(exc).splitlines()[0][:200]})") from None
    if "text" not in frame.columns:
        raise DataError(f"{path}: no 'text' column (columns: {', '.join(map(str, frame.columns))})")
    return frame


def write_table(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    if path.suffix == ".parquet":
        frame.to_parquet(tmp, index=False)
    else:
        frame.to_csv(tmp, index=False)
    tmp.replace(path)


def score_frame(model: Any, frame: pd.DataFrame, batch_size: int) -> pd.DataFrame:
    """Input columns plus the contract columns, scored in batches to bound memory."""
    texts = frame[["text"]].astype({"text": str}).reset_index(drop=True)
    parts = [model.predict(texts.iloc[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
    scored = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    base = frame.reset_index(drop=True).drop(columns=[c for c in scored.columns if c in frame.columns])
    return pd.concat([base, scored], axis=1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", type=Path, required=True, help="CSV or Parquet with a text column")
    parser.add_argument("--output", type=Path, required=True, help="where to write (.csv or .parquet)")
    parser.add_argument("--alias", default="champion", help="model alias to score with (default champion)")
    parser.add_argument("--batch-size", type=int, default=10_000)


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    from harmwatch.registry import load_model_version

    frame = read_table(args.input)
    started = time.perf_counter()
    model, version = load_model_version(settings, args.alias)
    loaded = time.perf_counter()
    out = score_frame(model, frame, max(1, args.batch_size))
    scored = time.perf_counter()
    write_table(out, args.output)
    return {"rows": len(out), "output": str(args.output), "alias": args.alias,
            "model_version": str(version.version),
            "flagged": int((out["label"] != "not_cyberbullying").sum()) if len(out) else 0,
            "load_seconds": round(loaded - started, 3), "score_seconds": round(scored - loaded, 3)}

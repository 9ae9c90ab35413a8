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

from harmwatch.config import BENIGN_CLASS, Settings
from harmwatch.data.exports import spreadsheet_csv
from harmwatch.errors import DataError
from harmwatch.model.scoring import available_cpus, score_frame


def read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: input file not found")
    try:
        frame = (
            pd.read_parquet(path)
            if path.suffix == ".parquet"
            else pd.read_csv(path, dtype={"text": str}, keep_default_na=False)
        )
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
        tmp.write_text(spreadsheet_csv(frame))  # for people: formula cells neutralised (Parquet is exact)
    tmp.replace(path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", type=Path, required=True, help="CSV or Parquet with a text column")
    parser.add_argument("--output", type=Path, required=True, help="where to write (.csv or .parquet)")
    parser.add_argument("--alias", default="champion", help="model alias to score with (default champion)")
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument(
        "--workers",
        type=int,
        default=available_cpus(),
        help="scoring processes (default: one per available CPU; 1 scores in this process)",
    )


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    from harmwatch.registry import load_model_version

    frame = read_table(args.input)
    started = time.perf_counter()
    model, version = load_model_version(settings, args.alias)
    loaded = time.perf_counter()
    out = score_frame(model, frame, max(1, args.batch_size), max(1, args.workers))
    scored = time.perf_counter()
    write_table(out, args.output)
    return {
        "rows": len(out),
        "output": str(args.output),
        "alias": args.alias,
        "model_version": str(version.version),
        "flagged": int((out["label"] != BENIGN_CLASS).sum()) if len(out) else 0,
        "load_seconds": round(loaded - started, 3),
        "score_seconds": round(scored - loaded, 3),
        "posts_per_second": round(len(out) / max(scored - loaded, 1e-9)),
        "workers": max(1, args.workers),
    }

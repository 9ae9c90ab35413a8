"""Inputs of the drift step: files given on the command line, or the newest batches in the lake.

Pure helpers first (window of dates, current frame from validated rows, report-volume anomaly), the
readers that touch storage last. Nothing here calls the clock: dates come from the data or ``--date``.
"""

from __future__ import annotations

import io
import math
from datetime import date, timedelta
from pathlib import PurePosixPath
from typing import Any

import pandas as pd

from harmwatch.config import Settings
from harmwatch.data.tables import read_validated
from harmwatch.errors import DataError
from harmwatch.storage import StorageError, Store, is_remote, open_store

MAD_SCALE = 1.4826  # MAD of a normal distribution -> its standard deviation
VOLUME_Z = 3.5  # Iglewicz-Hoaglin cut-off for a robust z-score outlier
MIN_HISTORY = 5  # fewer previous days than this: no verdict on volume


def window(day: str, days: int) -> list[str]:
    """The ``days`` dates ending at ``day`` (inclusive), oldest first."""
    end = date.fromisoformat(day)
    return [(end - timedelta(days=i)).isoformat() for i in range(max(days, 1) - 1, -1, -1)]


def current_frame(labelled: pd.DataFrame, reports: pd.DataFrame) -> pd.DataFrame:
    """Posts of the window: moderator-labelled posts, plus reported posts nobody labelled (label unknown).

    One row per post: a post reported by ten users is one post, not ten, so a brigade cannot shift the
    text distribution by volume alone (volume is judged separately, see :func:`volume_anomaly`).
    """
    cols = ["post_id", "text", "label", "batch_dt", "source"]
    lab = labelled.assign(source="labelled").reindex(columns=cols)
    lab = lab.sort_values(["batch_dt"], kind="stable").drop_duplicates("post_id", keep="last")
    rep = reports.assign(source="reports", label=None).reindex(columns=cols)
    rep = rep[~rep["post_id"].isin(lab["post_id"])].drop_duplicates("post_id", keep="first")
    out = pd.concat([lab, rep], ignore_index=True)
    out["label"] = out["label"].astype("object").where(out["label"].notna(), None)
    return out


def prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep posts with text; labels and predicted labels as strings, scores as floats."""
    out = frame[frame["text"].notna()].copy()
    out["text"] = out["text"].astype(str)
    for col in ("label", "pred_label", "post_id"):
        if col in out:
            out[col] = out[col].astype("object").where(out[col].notna(), None)
            out[col] = out[col].map(lambda v: None if v is None else str(v))
    if "harmful_score" in out:
        out["harmful_score"] = pd.to_numeric(out["harmful_score"], errors="coerce")
    return out.reset_index(drop=True)


def exclude_current(ref: pd.DataFrame, cur: pd.DataFrame) -> pd.DataFrame:
    """The reference never contains the posts being judged (a model may have trained on them)."""
    if "post_id" in ref and "post_id" in cur:
        return ref[~ref["post_id"].isin(set(cur["post_id"].dropna()))].reset_index(drop=True)
    return ref


def volume_anomaly(counts: dict[str, int], day: str, history_days: int) -> dict[str, Any]:
    """Is the number of user reports on ``day`` unusual against the ``history_days`` before it?

    Robust z-score ``(x - median) / (1.4826 * MAD)`` over the previous days (a day without reports
    counts as 0 once reports have started); ``|z| > 3.5`` is an anomaly (Iglewicz and Hoaglin). A
    median and MAD are used because the history itself may hold a past brigade. The MAD is floored at
    ``sqrt(median)`` (Poisson noise), so a perfectly flat history does not make every change infinite.
    """
    observed = sorted(d for d in counts if d <= day)
    if not observed:
        return {"day": day, "reports": 0, "anomaly": False, "reason": "no user reports in the lake"}
    prev = [d for d in window(day, history_days + 1)[:-1] if d >= observed[0]]
    x = int(counts.get(day, 0))
    out: dict[str, Any] = {"day": day, "reports": x, "history_days": len(prev)}
    if len(prev) < MIN_HISTORY:
        return {**out, "anomaly": False, "reason": f"only {len(prev)} previous days (need {MIN_HISTORY})"}
    hist = pd.Series([counts.get(d, 0) for d in prev], dtype=float)
    median = float(hist.median())
    mad = float((hist - median).abs().median())
    scale = MAD_SCALE * max(mad, math.sqrt(max(median, 1.0)))
    z = (x - median) / scale
    return {
        **out,
        "median": median,
        "mad": mad,
        "robust_z": round(z, 3),
        "anomaly": bool(abs(z) > VOLUME_Z),
        "direction": "spike" if z > 0 else "drop",
    }


def volume_line(volume: dict[str, Any] | None) -> str:
    if not volume:
        return "not checked (file mode)"
    if "robust_z" not in volume:
        return f"{volume['reports']} reports; not judged: {volume['reason']}"
    verdict = f"ANOMALY ({volume['direction']})" if volume["anomaly"] else "normal"
    return (
        f"{volume['reports']} reports on {volume['day']}: {verdict}, robust z {volume['robust_z']} "
        f"against a median of {volume['median']:g} over {volume['history_days']} previous days"
    )


# -- storage ------------------------------------------------------------------------------------------


def read_table(uri: str, settings: Settings | None = None) -> pd.DataFrame:
    """A CSV or Parquet file from a local path or ``s3://`` URI; a ``text`` column is required."""
    parent, name = str(PurePosixPath(uri).parent), PurePosixPath(uri).name
    if is_remote(uri):  # PurePosixPath would fold s3:// into s3:/
        parent = uri.rsplit("/", 1)[0]
    try:
        data = open_store(parent, settings).read_bytes(name)
    except StorageError as exc:
        raise DataError(f"cannot read {uri}: {exc}") from None
    try:
        if name.lower().endswith((".parquet", ".pq")):
            frame = pd.read_parquet(io.BytesIO(data))
        else:
            frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, na_values=[""])
    except Exception as exc:  # pandas/pyarrow raise many types for a bad file; all mean "not a table"
        raise DataError(f"{uri}: not a readable CSV or Parquet file ({type(exc).__name__})") from None
    if "text" not in frame.columns:
        raise DataError(f"{uri}: no 'text' column (columns: {', '.join(map(str, frame.columns[:10]))})")
    return frame


def load_lake(lake: Store, days: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validated labelled rows and validated report rows of the given days."""
    return read_validated(lake, "labelled", days), read_validated(lake, "reports", days)


def report_counts(lake: Store, until: str) -> dict[str, int]:
    """Distinct user reports per ``batch_dt`` up to ``until``, from every validated reports run."""
    rows = read_validated(lake, "reports")
    if rows.empty:
        return {}
    rows = rows[rows["batch_dt"] <= until]
    key = "report_id" if "report_id" in rows else "post_id"
    return {str(k): int(v) for k, v in rows.drop_duplicates(key).groupby("batch_dt").size().items()}


def load_current(
    settings: Settings,
    current_file: str | None,
    lake: Store,
    day: str | None,
    window_days: int,
    history_days: int,
    facts: dict,
) -> pd.DataFrame | None:
    """``current_file``, else the validated posts of the window ending at ``day`` (None: empty lake).

    In pipeline mode ``facts`` also receives the report-volume check of ``day``."""
    if current_file:
        facts["current"] = current_file
        return read_table(current_file, settings)
    if day is None:
        return None
    days = window(day, window_days)
    current = current_frame(*load_lake(lake, days))
    volume = volume_anomaly(report_counts(lake, day), day, history_days)
    facts.update(
        current=f"{lake.uri} validated batch_dt {days[0]}..{days[-1]}",
        current_sources=current["source"].value_counts().to_dict(),
        report_volume=volume,
    )
    return current

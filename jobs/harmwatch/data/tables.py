"""Reading committed tables from the lake: the rows of every committed run under a catalog folder.

A folder is trusted only through its ``_MANIFEST.json`` (:meth:`harmwatch.storage.Store.committed`), so a
run killed before its commit is never read. Validated manifests list the ``batch_dts`` their rows hold,
which lets a reader that wants a few days skip the runs that hold none of them.
"""

from __future__ import annotations

import pandas as pd

from harmwatch.data import catalog
from harmwatch.storage import Store


def read_runs(store: Store, manifests: list[dict], days: set[str] | None = None) -> pd.DataFrame:
    """The Parquet rows of the given committed runs; with ``days``, only rows of those ``batch_dt``."""
    frames = []
    for m in manifests:
        if days is not None and "batch_dts" in m and not days & set(m["batch_dts"]):
            continue  # the manifest says this run holds none of the wanted days: skip the read
        frames += [
            store.read_parquet(f"{m['prefix']}/{f['name']}")
            for f in m.get("files", [])
            if f["name"].endswith(".parquet")
        ]
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    return out[out["batch_dt"].isin(days)].reset_index(drop=True) if days is not None else out


def read_committed(store: Store, prefix: str) -> tuple[pd.DataFrame, list[str]]:
    """All committed rows under ``prefix`` and the run folders they came from."""
    manifests = store.committed(prefix)
    return read_runs(store, manifests), [m["prefix"] for m in manifests]


def read_validated(lake: Store, kind: str, days: list[str] | None = None) -> pd.DataFrame:
    """Validated rows of ``kind`` (``labelled`` or ``reports``), optionally of some days only."""
    frame = read_runs(lake, lake.committed(catalog.validated_runs(kind)), None if days is None else set(days))
    return frame if len(frame.columns) else pd.DataFrame(columns=["post_id", "text", "batch_dt"])


def newest_day(lake: Store) -> str | None:
    """The newest ``batch_dt`` among committed validated runs (from manifests, else from the rows)."""
    best: str | None = None
    for kind in catalog.KINDS:
        for m in lake.committed(catalog.validated_runs(kind)):
            dts = m.get("batch_dts")
            if dts is None:
                dts = read_runs(lake, [m]).get("batch_dt", pd.Series(dtype=str)).dropna().tolist()
            best = max([best, *dts], key=lambda d: d or "")
    return best


def read_selected(
    store: Store, key: str, select, columns: list[str], batch_rows: int = 65_536
) -> pd.DataFrame:
    """The rows of Parquet ``key`` that ``select`` keeps, read in batches: memory stays bounded by the rows
    kept, not by the file. ``select`` gets the ``columns`` that exist in the file (strings as categories)
    and returns a boolean mask."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    local = store.local_path(key)
    source = local if local is not None else io.BytesIO(store.read_bytes(key))
    pf = pq.ParquetFile(source)
    present = [c for c in columns if c in pf.schema_arrow.names]
    head = pq.ParquetFile(source, read_dictionary=present).read(columns=present).to_pandas()
    mask = select(head)
    del head
    kept, offset = [], 0
    for batch in pf.iter_batches(batch_size=batch_rows):
        kept.append(batch.filter(pa.array(mask[offset : offset + batch.num_rows])))
        offset += batch.num_rows
    table = pa.Table.from_batches(kept, schema=pf.schema_arrow) if kept else pf.schema_arrow.empty_table()
    return table.to_pandas().reset_index(drop=True)


def read_predictions(lake: Store, days: set[str] | None, model_version: str) -> pd.DataFrame:
    """Stored predictions (``harmwatch predict``) of ``model_version`` for posts of ``days`` (None: all):
    ``post_id``, ``label``, ``harmful_score``, one row per post."""
    manifests = [
        m
        for m in lake.committed(catalog.PREDICTIONS)
        if str(m.get("model_version")) == str(model_version) and (days is None or m.get("batch_dt") in days)
    ]
    frame = read_runs(lake, manifests)
    if frame.empty:
        return pd.DataFrame(columns=["post_id", "label", "harmful_score"])
    return frame[["post_id", "label", "harmful_score"]].drop_duplicates("post_id", keep="last")


def frozen_eval(store: Store, columns: list[str] | None = None) -> tuple[pd.DataFrame, dict] | None:
    """The current anchor, if any: the newest generation (a renewal), else the first run's snapshot.
    ``columns``: only these (a run that only keeps the anchor's texts out of training needs ``key``)."""
    manifests = store.committed(catalog.EVAL_SNAPSHOTS)
    if not manifests:
        return None
    m = min(manifests, key=lambda m: (-int(m.get("generation", 0)), m.get("date", ""), m.get("version", "")))
    return store.read_parquet(f"{m['prefix']}/{catalog.EVAL_FILE}", columns=columns), m

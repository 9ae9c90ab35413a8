"""Splitting a judged run's Parquet file into validated rows and quarantine, one batch of rows at a time.

Validate judges a run in the engine (:mod:`harmwatch.data.row_checks`), so what it needs of the rows
afterwards is only to route each one: the validated file keeps the passing rows as they were (the same
schema and column metadata, so readers get the same frames), the quarantine gets the failing ones with
their reasons. Reading and writing by batches keeps this process at about one batch of rows plus the
quarantined rows (the few that fail), whatever the size of the run; the validated rows go to a local
file first and are copied into the lake by blocks (:meth:`harmwatch.storage.Store.write_file`).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from harmwatch.data.checks import with_rejections

BATCH_ROWS = 65_536


@dataclass
class Split:
    """A run routed row by row: the quarantined rows (with ``stage`` and ``reason``), how many rows the
    run has, its non-empty ``batch_dt`` values, and the local file of its validated rows."""

    quarantine: pd.DataFrame
    rows: int
    batch_dts: list[str]
    valid_file: Path
    _folder: tempfile.TemporaryDirectory = field(repr=False)

    def close(self) -> None:
        self._folder.cleanup()


def split_run(path: Path, flagged: pd.DataFrame, rejected: dict[str, str]) -> Split:
    """Route the rows of the Parquet file ``path``: ``flagged`` has the failing rows' positions (``_row``,
    ascending) and reasons (``_reason``); every row of a landing file in ``rejected`` fails with the
    batch's reason first (:func:`harmwatch.data.checks.with_rejections`)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    source = pq.ParquetFile(path)
    positions = flagged["_row"].to_numpy(dtype=np.int64)
    reasons_at = flagged["_reason"].to_numpy(dtype=object)
    folder = tempfile.TemporaryDirectory(prefix="harmwatch-split-")
    valid_file = Path(folder.name) / "part.parquet"
    quarantined: list[pd.DataFrame] = []
    days: set[str] = set()
    offset = 0
    with pq.ParquetWriter(valid_file, source.schema_arrow) as writer:
        for batch in source.iter_batches(batch_size=BATCH_ROWS):
            n = batch.num_rows
            own = np.full(n, "", dtype=object)
            lo, hi = np.searchsorted(positions, [offset, offset + n])
            own[positions[lo:hi] - offset] = reasons_at[lo:hi]
            sources = batch.column("source_file").to_pandas()
            reasons = with_rejections(sources, pd.Series(own, dtype="string"), rejected)
            bad = (reasons != "").to_numpy(dtype=bool)
            writer.write_batch(batch.filter(pa.array(~bad)))
            if bad.any():
                rows = batch.filter(pa.array(bad)).to_pandas()
                quarantined.append(rows.assign(stage="validate", reason=reasons[bad].reset_index(drop=True)))
            days.update(d for d in pc.unique(batch.column("batch_dt")).to_pylist() if d)
            offset += n
    if quarantined:
        quarantine = pd.concat(quarantined, ignore_index=True)
    else:
        empty = source.schema_arrow.empty_table().to_pandas()
        quarantine = empty.assign(stage="validate", reason=pd.Series(dtype="string"))
    return Split(quarantine, offset, sorted(days), valid_file, folder)

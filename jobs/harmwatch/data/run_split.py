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
from harmwatch.errors import DataError

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


def split_run(paths: Path | list[Path], flagged: pd.DataFrame, rejected: dict[str, str]) -> Split:
    """Route the rows of the run's Parquet files ``paths``, read in that order: ``flagged`` has the
    failing rows' positions in the run (``_row``, ascending) and reasons (``_reason``); every row of a
    landing file in ``rejected`` fails with the batch's reason first
    (:func:`harmwatch.data.checks.with_rejections`). The validated file takes the first file's schema;
    a later file with other columns stops the step with a line naming both."""
    import pyarrow.parquet as pq

    paths = [paths] if isinstance(paths, Path) else paths
    sources = [pq.ParquetFile(p) for p in paths]
    schema = sources[0].schema_arrow
    for path, source in zip(paths[1:], sources[1:], strict=True):
        if not source.schema_arrow.equals(schema):
            raise DataError(f"{path}: its columns differ from those of {paths[0]}, in the same run")
    folder = tempfile.TemporaryDirectory(prefix="harmwatch-split-")
    valid_file = Path(folder.name) / "part.parquet"
    router = _Router(flagged, rejected)
    with pq.ParquetWriter(valid_file, schema) as writer:
        for source in sources:
            for batch in source.iter_batches(batch_size=BATCH_ROWS):
                writer.write_batch(router.route(batch))
    if router.quarantined:
        quarantine = pd.concat(router.quarantined, ignore_index=True)
    else:
        empty = schema.empty_table().to_pandas()
        quarantine = empty.assign(stage="validate", reason=pd.Series(dtype="string"))
    return Split(quarantine, router.offset, sorted(router.days), valid_file, folder)


class _Router:
    """Routes a run's record batches in order: each batch's passing rows are returned (to be written),
    its failing rows kept with their reasons; the rows seen and the ``batch_dt`` values are counted."""

    def __init__(self, flagged: pd.DataFrame, rejected: dict[str, str]) -> None:
        self.positions = flagged["_row"].to_numpy(dtype=np.int64)
        self.reasons_at = flagged["_reason"].to_numpy(dtype=object)
        self.rejected = rejected
        self.quarantined: list[pd.DataFrame] = []
        self.days: set[str] = set()
        self.offset = 0

    def route(self, batch):  # pyarrow.RecordBatch -> pyarrow.RecordBatch
        import pyarrow as pa
        import pyarrow.compute as pc

        n = batch.num_rows
        own = np.full(n, "", dtype=object)
        lo, hi = np.searchsorted(self.positions, [self.offset, self.offset + n])
        own[self.positions[lo:hi] - self.offset] = self.reasons_at[lo:hi]
        sources = batch.column("source_file").to_pandas()
        reasons = with_rejections(sources, pd.Series(own, dtype="string"), self.rejected)
        bad = (reasons != "").to_numpy(dtype=bool)
        if bad.any():
            rows = batch.filter(pa.array(bad)).to_pandas()
            self.quarantined.append(rows.assign(stage="validate", reason=reasons[bad].reset_index(drop=True)))
        self.days.update(d for d in pc.unique(batch.column("batch_dt")).to_pylist() if d)
        self.offset += n
        return batch.filter(pa.array(~bad))

"""CSV files written for people: cells a spreadsheet would run as a formula are neutralised.

A post's text is whatever its author typed. Opened in a spreadsheet, a cell starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is taken as a formula (``=HYPERLINK(...)`` exfiltrates, DDE
runs commands), so every such text cell of a CSV export gets a leading apostrophe, which spreadsheets
show as text and do not display. The Parquet beside each CSV keeps the exact values; landing files
(``review-pull``'s output, the simulator's) are inputs to ``ingest`` and are not exports.

The CSV is formatted by DuckDB's writer, not pandas': the review queue grows with the platform's age
and is written every day, and pandas formats it cell by cell in Python (about 0.45 CPU-s for 49,000
rows, against 0.14 here). Strings are quoted where a reader could misread them, empty strings as ``""``
(missing values stay empty), booleans as ``true``/``false``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """``value`` with a leading apostrophe if it is a string a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _safe(column: str) -> str:
    """The SQL of a text column with :func:`neutralise` applied to each cell."""
    starts = ", ".join("'" + s + "'" for s in FORMULA_STARTS)
    return f"CASE WHEN left({column}, 1) IN ({starts}) THEN '''' || {column} ELSE {column} END"


def copy_spreadsheet_csv(
    con: duckdb.DuckDBPyConnection,
    source: str,
    path: Path,
    headers: list[str] | None = None,
    order: str = "",
) -> None:
    """The table or view ``source`` of ``con`` as UTF-8 CSV file ``path`` (``headers``: the header of
    each column, its name by default; ``order``: a column of ``source`` to sort by), every text cell that
    could start a formula neutralised: one formatting for a frame and for a table an engine keeps (the
    review queue, :class:`harmwatch.data.relational.EngineReview`)."""
    described = con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {source})").fetchall()
    names = headers if headers is not None else [c for c, _t in described]
    select = ", ".join(
        f"{_safe(_quoted(c)) if t == 'VARCHAR' else _quoted(c)} AS {_quoted(str(neutralise(name)))}"
        for (c, t), name in zip(described, names, strict=True)
    )
    by = f" ORDER BY src.{_quoted(order)}" if order else ""  # the source's column, not the neutralised one
    target = "'" + str(path).replace("'", "''") + "'"
    con.execute(f"COPY (SELECT {select} FROM {source} AS src{by}) TO {target} (FORMAT csv, HEADER)")


def spreadsheet_csv_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as UTF-8 CSV, every text cell that could start a formula neutralised (bytes: a writer
    to storage need not decode and encode again a file that grows with the history)."""
    flat = frame.reset_index(drop=True)
    names = [str(c) for c in flat.columns]
    flat.columns = [f"c{i}" for i in range(len(names))]  # any header, even a repeated one
    con = duckdb.connect()
    try:
        con.register("export_frame", flat)
        with tempfile.TemporaryDirectory(prefix="hw-csv-") as tmp:
            path = Path(tmp, "export.csv")
            copy_spreadsheet_csv(con, "export_frame", path, names)
            return path.read_bytes()
    finally:
        con.close()


def spreadsheet_csv(frame: pd.DataFrame) -> str:
    """``frame`` as CSV text, every text cell that could start a formula neutralised."""
    return spreadsheet_csv_bytes(frame).decode("utf-8")


def parquet_to_spreadsheet_csv(store: Any, source: str, target: str) -> None:
    """The Parquet file ``source`` of ``store`` as the spreadsheet-safe CSV ``target``, rows in the file's
    order: DuckDB streams the file (read where it lies on a local lake, else copied down by blocks)."""
    con = duckdb.connect()
    try:
        with tempfile.TemporaryDirectory(prefix="hw-csv-") as tmp:
            path = store.local_path(source)
            if path is None:
                path = Path(tmp, "source.parquet")
                stream, _size = store.open_read(source)
                with stream, open(path, "wb") as out:
                    shutil.copyfileobj(stream, out, 1 << 20)
            quoted = "'" + str(path).replace("'", "''") + "'"
            con.execute(f"CREATE VIEW parquet_source AS SELECT * FROM read_parquet({quoted})")
            csv = Path(tmp, "export.csv")
            copy_spreadsheet_csv(con, "parquet_source", csv)
            store.write_file(target, csv)
    finally:
        con.close()

"""CSV files written for people: cells a spreadsheet would run as a formula are neutralised.

A post's text is whatever its author typed. Opened in a spreadsheet, a cell starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is taken as a formula (``=HYPERLINK(...)`` exfiltrates, DDE
runs commands), so every such text cell of a CSV export gets a leading apostrophe, which spreadsheets
show as text and do not display. The Parquet beside each CSV keeps the exact values; landing files
(``review-pull``'s output, the simulator's) are inputs to ``ingest`` and are not exports.
"""

from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """``value`` with a leading apostrophe if it is a string a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def spreadsheet_csv(frame: pd.DataFrame) -> str:
    """``frame`` as CSV text, every text cell that could start a formula neutralised."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(neutralise)
    safe.columns = [neutralise(str(c)) for c in safe.columns]
    return safe.to_csv(index=False, lineterminator="\n")

"""Validate's row checks as relational expressions: one query flags every rule on every row in one pass.

``data/sql/validate/<kind>_rows.sql`` computes one boolean column per check (TRUE: the row fails it); the
query :func:`row_query` wraps around it joins the failed checks' reasons in the suite's order into
``_reason`` ('' when the row passes). DuckDB runs it in this process (:func:`check_rows`), Spark SQL runs
the same text translated by SQLGlot (:mod:`harmwatch.spark.validate`). The parsed timestamp and the text
key are Python (:func:`harmwatch.data.suites.ts_epoch`, :func:`harmwatch.data.dataset.text_key`): ingest
computes them once and stores them with the rows (``ts_epoch``, ``key``), and the checks read them; only
a run ingested before they were stored has them computed here (:func:`rows_view`).

:func:`row_rules` is the one table of checks: their names, reasons and the Great Expectations
expectation each one is, so the report lists the same expectations with their unexpected counts, and
:func:`harmwatch.data.suites.row_suite` (the suite run row by row) stays the reference the SQL is tested
against. Only the per-file batch summary goes through Great Expectations at run time.
"""

from __future__ import annotations

import itertools
from typing import Any

import pandas as pd

from harmwatch.data.landing import DERIVED
from harmwatch.data.relational import literal, render
from harmwatch.data.suites import KIND_SPEC, WARN_ONLY, Bounds, ts_epoch

# What Python's ``\S`` matches (GX's "not blank" regex): any character ``str.isspace`` rejects.
_SPACES = "".join(f"\\x{{{c:x}}}" for c in range(0x3001) if chr(c).isspace())
NOT_BLANK = f"[^{_SPACES}]"


def _column_rules(kind: str, bounds: Bounds) -> list[tuple[str, str, str, dict]]:
    """Per required column: present, not blank, and the text's length or the class's set where they apply."""
    spec = KIND_SPEC[kind]
    rules: list[tuple[str, str, str, dict]] = []
    for col in spec["required"]:
        rules.append(
            (f"{col}_present", f"{col} missing", "expect_column_values_to_not_be_null", {"column": col})
        )
        rules.append(
            (
                f"{col}_not_blank",
                f"{col} blank",
                "expect_column_values_to_match_regex",
                {"column": col, "regex": r"\S"},
            )
        )
        if col == "text":
            rules.append(
                (
                    "text_length",
                    f"text length outside [{bounds.min_text_len}, {bounds.max_text_len}]",
                    "expect_column_value_lengths_to_be_between",
                    {"column": "text", "min_value": bounds.min_text_len, "max_value": bounds.max_text_len},
                )
            )
        if col == spec["class"]:
            rules.append(
                (
                    f"{col}_allowed",
                    f"{col} not one of the allowed classes",
                    "expect_column_values_to_be_in_set",
                    {"column": col, "value_set": list(spec["classes"])},
                )
            )
    return rules


def row_rules(kind: str, bounds: Bounds, as_of: float) -> list[dict[str, Any]]:
    """The row checks in the suite's order: name, reason, GX expectation type and kwargs, warn-only."""
    spec = KIND_SPEC[kind]
    rules = _column_rules(kind, bounds)
    rules += [
        (
            f"{spec['id']}_unique",
            f"{spec['id']} duplicated within the batch: the copy with the latest {spec['ts']} (then the last "
            "landed) is kept",
            "expect_column_values_to_be_between",
            {"column": "_id_copy", "max_value": 0.0},
        ),
        (
            "timestamp_parses",
            f"{spec['ts']} is not an ISO 8601 timestamp",
            "expect_column_values_to_not_be_null",
            {"column": "_ts_epoch"},
        ),
        (
            "timestamp_not_future",
            f"{spec['ts']} is in the future",
            "expect_column_values_to_be_between",
            {"column": "_ts_epoch", "max_value": float(as_of)},
        ),
    ]
    if kind == "labelled":
        rules.append(
            (
                "label_variants",
                "same text under conflicting labels",
                "expect_column_values_to_be_between",
                {"column": "_label_variants", "max_value": 1.0},
            )
        )
    return [
        {"name": n, "reason": r, "type": t, "kwargs": kw, "warn_only": n in WARN_ONLY}
        for n, r, t, kw in rules
    ]


def row_query(kind: str, bounds: Bounds, as_of: float) -> str:
    """The query over table ``rows`` (the run, with ``_row`` and ``_ts_epoch``): its columns, one flag per
    check and ``_reason``, the quarantining checks' reasons joined by '; ' in the suite's order."""
    spec = KIND_SPEC[kind]
    flags = render(
        f"validate/{kind}_rows",
        {
            "blank": NOT_BLANK,
            "min_text_len": int(bounds.min_text_len),
            "max_text_len": int(bounds.max_text_len),
            "classes": list(spec["classes"]),
            "as_of": float(as_of),
        },
    )
    parts = [
        f"CASE WHEN {r['name']} THEN {literal(r['reason'])} END"
        for r in row_rules(kind, bounds, as_of)
        if not r["warn_only"]
    ]
    return f"SELECT *, concat_ws('; ', {', '.join(parts)}) AS _reason FROM ({flags}) AS flagged"


def count_query(kind: str, bounds: Bounds, as_of: float, table: str) -> str:
    """Per check, how many rows of ``table`` (the result of :func:`row_query`) fail it."""
    counts = ", ".join(
        f"sum(CASE WHEN {r['name']} THEN 1 ELSE 0 END) AS {r['name']}" for r in row_rules(kind, bounds, as_of)
    )
    return f"SELECT {counts} FROM {table}"


def records(kind: str, bounds: Bounds, as_of: float, counts: dict[str, Any]) -> list[dict]:
    """The report's per-expectation records (as the GX row suite gives them) from the checks' counts."""
    out = []
    for r in row_rules(kind, bounds, as_of):
        n = counts.get(r["name"])
        n = 0 if n is None or pd.isna(n) else int(n)  # no rows: SQL's sum is NULL
        out.append(
            {
                "name": r["name"],
                "type": r["type"],
                "success": n == 0,
                "unexpected": n,
                "warn_only": r["warn_only"],
                "kwargs": r["kwargs"],
            }
        )
    return out


def batch_count_query(kind: str, table: str) -> str:
    """Per landing file of ``table`` (the result of :func:`row_query`): its rows, the failing ones, and
    per class the passing rows of that class: all :func:`batch_frame` needs of the rows."""
    spec = KIND_SPEC[kind]
    cls = spec["class"]
    per_class = ", ".join(
        f"count(*) FILTER (WHERE _reason = '' AND {cls} = {literal(c)}) AS {literal(f'n_{c}')}"
        for c in spec["classes"]
    )
    return (
        "SELECT source_file, count(*) AS rows, count(*) FILTER (WHERE _reason <> '') AS invalid, "
        f"count(*) FILTER (WHERE _reason = '') AS good, count({cls}) FILTER (WHERE _reason = '') AS classed, "
        f"{per_class} FROM {table} WHERE source_file IS NOT NULL GROUP BY source_file"
    )


def batch_frame(counts: pd.DataFrame, kind: str, bounds: Bounds) -> pd.DataFrame:
    """:func:`harmwatch.data.suites.batch_summary` from the per-file counts of :func:`batch_count_query`:
    the same rows and values (shares of the passing rows with a class, by the same divisions)."""
    spec = KIND_SPEC[kind]
    rows = []
    for r in sorted(counts.to_dict(orient="records"), key=lambda r: r["source_file"]):
        n, good, classed = int(r["rows"]), int(r["good"]), int(r["classed"])
        big = n >= bounds.judge_min_rows
        invalid_share = int(r["invalid"]) / n if big else None
        rec = {"source_file": r["source_file"], "rows": n, "invalid_share": invalid_share}
        for c in spec["classes"]:
            share = int(r[f"n_{c}"]) / classed if classed else 0.0
            rec[f"share_{c}"] = float(share) if big and good else None
        rows.append(rec)
    return pd.DataFrame(rows)


def _columns(kind: str) -> list[str]:
    return [*KIND_SPEC[kind]["required"], "source_file", "source_line"]


def _engine(memory_limit: str | None = None, threads: int | None = None) -> Any:
    """An in-process DuckDB with the text key and the timestamp parse (Python's, as Arrow UDFs), holding
    at most ``memory_limit`` (it spills beyond) with ``threads`` (None or 0: one per core)."""
    import pyarrow as pa

    from harmwatch.data.relational import DuckDB

    engine = DuckDB(threads=threads, memory_limit=memory_limit)

    def epoch(values):  # no annotations: DuckDB reads them to type the function
        return pa.array(ts_epoch(values.to_pandas()).to_numpy(), type=pa.float64(), from_pandas=True)

    engine.con.create_function(
        "ts_epoch", epoch, ["VARCHAR"], "DOUBLE", type="arrow", side_effects=False, null_handling="special"
    )
    return engine


def _stored(names: Any) -> list[str]:
    """The derived columns ingest stored (``key``, ``ts_epoch``: :func:`harmwatch.data.landing.with_derived`)
    among ``names``; a run ingested before they were stored has neither, and they are computed here."""
    return [c for c in DERIVED if c in set(names)]


def rows_view(kind: str, source: str, stored: list[str]) -> str:
    """The ``rows`` the checks read: ``source`` with ``_ts_epoch`` and, for labelled posts, ``key``: as
    ingest stored them where ``stored`` has them, else derived by the one Python definition of each."""
    ts = KIND_SPEC[kind]["ts"]
    derived = ["ts_epoch" if "ts_epoch" in stored else f"ts_epoch(CAST({ts} AS VARCHAR))"]
    derived[0] += " AS _ts_epoch"
    if kind == "labelled" and "key" not in stored:
        derived.append("text_key(text) AS key")
    return f"SELECT *, {', '.join(derived)} FROM {source}"


def _judge(
    engine: Any, kind: str, bounds: Bounds, as_of: float, source: str, stored: list[str]
) -> tuple[pd.DataFrame, list]:
    """Run the checks over ``source`` (columns of :func:`_columns`, the ``stored`` derived ones and
    ``_row``): the failing rows' ``_row`` and ``_reason``, and the report's per-expectation records."""
    engine.table("rows", rows_view(kind, source, stored))
    engine.table("judged", row_query(kind, bounds, as_of))
    counts = engine.con.execute(count_query(kind, bounds, as_of, "judged")).df().iloc[0].to_dict()
    flagged = engine.con.execute("SELECT _row, _reason FROM judged WHERE _reason <> '' ORDER BY _row").df()
    return flagged, records(kind, bounds, as_of, counts)


def reasons_of(flagged: pd.DataFrame, index: pd.Index) -> pd.Series:
    """Per row of a run ('' when valid), from the failing rows' positions and reasons."""
    reasons = pd.Series("", index=range(len(index)), dtype="string")
    reasons.iloc[flagged["_row"].to_numpy()] = flagged["_reason"].to_numpy()
    reasons.index = index
    return reasons


def check_rows(frame: pd.DataFrame, kind: str, bounds: Bounds, as_of: float) -> tuple[pd.Series, list[dict]]:
    """Per-row quarantine reasons ('' when valid) and a per-expectation record for the report, by DuckDB."""
    stored = _stored(frame.columns)
    slim = pd.DataFrame(
        {
            c: frame[c].reset_index(drop=True)
            if c in frame.columns
            else pd.Series(pd.NA, index=range(len(frame)), dtype="string")
            for c in [*_columns(kind), *stored]
        }
    )
    slim["_row"] = range(len(slim))
    engine = _engine()
    engine.frame("run_rows", slim)
    flagged, recs = _judge(engine, kind, bounds, as_of, "run_rows", stored)
    return reasons_of(flagged, frame.index), recs


def check_parquet(
    paths: str | list[str],
    kind: str,
    bounds: Bounds,
    as_of: float,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> tuple[pd.DataFrame, list, pd.DataFrame] | None:
    """:func:`check_rows` on a run's Parquet files read by DuckDB itself (``_row``: the row's position in
    the run, the files read in the order given, as pandas reads them one after the other): the failing
    rows, the records and the per-file counts of :func:`batch_count_query`; None if a checked column is
    absent from a file. A run the Spark engine wrote holds several part files; the others hold one."""
    import pyarrow.parquet as pq

    paths = [paths] if isinstance(paths, str) else paths
    metas = [pq.ParquetFile(p).metadata for p in paths]
    names = [set(m.schema.to_arrow_schema().names) for m in metas]
    if not paths or any(not set(_columns(kind)) <= n for n in names):
        return None
    stored = _stored(sorted(set.intersection(*names)))
    cols = ", ".join([*_columns(kind), *stored])
    engine = _engine(memory_limit, threads)
    offsets = [0, *itertools.accumulate(m.num_rows for m in metas)]
    parts = " UNION ALL ".join(
        f"SELECT {cols}, file_row_number + {offset} AS _row"
        f" FROM read_parquet({literal(path)}, file_row_number = true)"
        for path, offset in zip(paths, offsets, strict=False)
    )
    flagged, recs = _judge(engine, kind, bounds, as_of, f"({parts})", stored)
    return flagged, recs, engine.con.execute(batch_count_query(kind, "judged")).df()

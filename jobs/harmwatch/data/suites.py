"""Great Expectations suites for labelled posts and user reports, and the derived columns they check.

Row-level expectations run on the ingested rows plus a few derived columns (parsed timestamps, text
length, label variants per normalised text) so every check is a plain GX expectation whose unexpected
rows map back to a quarantine reason. Batch-level expectations run on a one-row-per-landing-file
summary (volume, class mix, invalid share), so one GX call judges every batch at once.
"""

from __future__ import annotations

import functools
import itertools
import sys
from dataclasses import dataclass

import pandas as pd

from harmwatch.config import CLASSES, HARMFUL_CLASSES
from harmwatch.data.dataset import text_key


@dataclass(frozen=True)
class Bounds:
    """Thresholds of the suites (CLI options and DAG params override them)."""

    min_text_len: int = 1
    max_text_len: int = 5000
    min_rows: int = 1  # per landing file
    max_rows: int = 1_000_000
    judge_min_rows: int = 200  # class mix and invalid share are judged only on batches this big
    min_class_share: float = 0.02
    max_class_share: float = 0.60
    max_invalid_share: float = 0.20


KIND_SPEC = {
    "labelled": {
        "id": "post_id",
        "class": "label",
        "classes": CLASSES,
        "ts": "labelled_at",
        "required": ("post_id", "text", "label", "labelled_at"),
    },
    "reports": {
        "id": "report_id",
        "class": "reason",
        "classes": HARMFUL_CLASSES,
        "ts": "reported_at",
        "required": ("report_id", "post_id", "text", "reporter_id", "reason", "reported_at"),
    },
}
# Expectations that describe the batch but must not quarantine rows: conflicting labels are real
# moderator disagreement, and build-dataset sends those texts to the review queue.
WARN_ONLY = {"label_variants"}


def derive(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The columns the row-level suite checks: the required ones plus derived ones (prefixed ``_``).

    Only those columns go to GX (not the raw text and lineage columns): GX hashes and copies the
    whole frame it validates, so a slim frame is what keeps the suite fast on large batches.
    """
    spec = KIND_SPEC[kind]
    out = frame.loc[:, [c for c in spec["required"] if c in frame.columns]].copy()
    out["_row"] = range(len(out))
    out["_text_len"] = out["text"].str.len()
    out["_ts_epoch"] = ts_epoch(out[spec["ts"]])
    out["_id_copy"] = id_copies(frame, spec["id"], out["_ts_epoch"]).to_numpy()
    if kind == "labelled":
        key = text_key(out["text"])
        out["_label_variants"] = out.groupby(key)["label"].transform("nunique").fillna(0)
    return out


def id_copies(frame: pd.DataFrame, id_column: str, epoch: pd.Series) -> pd.Series:
    """1 for each copy of an id (``post_id``, ``report_id``) that the batch does not keep, else 0.

    The kept copy is the one with the latest timestamp (a moderator's newest decision), then the last
    landed (``source_file``, ``source_line``): one copy survives, so a duplicated post keeps its label.
    """
    if id_column not in frame.columns:
        return pd.Series(0, index=frame.index, dtype="int64")
    lineage = [c for c in ("source_file", "source_line") if c in frame.columns]
    order = pd.DataFrame(
        {"id": frame[id_column].to_numpy(), "ts": epoch.fillna(float("-inf")).to_numpy()}, index=frame.index
    )
    for c in lineage:
        order[c] = frame[c].to_numpy()
    order["_pos"] = range(len(order))
    ranked = order.sort_values(["ts", *lineage, "_pos"], ascending=False, kind="stable")
    copy = ranked["id"].notna() & ranked.duplicated("id")
    return copy.reindex(order.index).astype("int64")


def ts_epoch(values: pd.Series) -> pd.Series:
    """ISO 8601 timestamps as epoch seconds (NaN where a value does not parse); both engines use this."""
    ts = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    return ts.astype("int64").where(ts.notna()) / 1e9


_names = itertools.count()


# Optional GX dependencies for SQL and Spark data sources. The suites run on GX's pandas engine only, so
# great_expectations is imported as if these were not installed (GX's compatibility layer handles
# that); importing them is a sizeable share of GX's import time (pyspark alone, which GX imports down to
# pyspark.ml: about 0.2 CPU-s of the step). Other code imports them normally, and a process that has
# imported one already (the Spark engine's) keeps it.
OTHER_ENGINE_MODULES = ("sqlalchemy", "psycopg2", "pyspark")


@functools.cache
def import_gx() -> None:
    """Import great_expectations once, without the other engines' optional dependencies (see above)."""
    if "great_expectations" in sys.modules:
        return
    blocked = [m for m in OTHER_ENGINE_MODULES if m not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` raise ImportError
    try:
        import great_expectations  # noqa: F401
    finally:
        for name in blocked:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]


@functools.cache
def context():
    """One ephemeral GX context per process (GX needs it before suites are built); no progress bars."""
    import_gx()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx


def row_suite(kind: str, bounds: Bounds, as_of_epoch: float):
    """(suite, reasons): reasons maps each check name (in the expectation's meta) to its reason."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context()
    spec = KIND_SPEC[kind]
    suite = gx.ExpectationSuite(name=f"harmwatch_{kind}_rows")
    reasons: dict[str, str] = {}

    def add(exp, name: str, reason: str) -> None:
        exp.meta = {"check": name}  # GX may reorder results; the name maps a result back to its reason
        suite.add_expectation(exp)
        reasons[name] = reason

    for col in spec["required"]:
        add(gxe.ExpectColumnValuesToNotBeNull(column=col), f"{col}_present", f"{col} missing")
        add(gxe.ExpectColumnValuesToMatchRegex(column=col, regex=r"\S"), f"{col}_not_blank", f"{col} blank")
    add(
        gxe.ExpectColumnValueLengthsToBeBetween(
            column="text", min_value=bounds.min_text_len, max_value=bounds.max_text_len
        ),
        "text_length",
        f"text length outside [{bounds.min_text_len}, {bounds.max_text_len}]",
    )
    add(
        gxe.ExpectColumnValuesToBeInSet(column=spec["class"], value_set=list(spec["classes"])),
        f"{spec['class']}_allowed",
        f"{spec['class']} not one of the allowed classes",
    )
    add(
        gxe.ExpectColumnValuesToBeBetween(column="_id_copy", max_value=0),
        f"{spec['id']}_unique",
        f"{spec['id']} duplicated within the batch: the copy with the latest {spec['ts']} (then the last "
        "landed) is kept",
    )
    add(
        gxe.ExpectColumnValuesToNotBeNull(column="_ts_epoch"),
        "timestamp_parses",
        f"{spec['ts']} is not an ISO 8601 timestamp",
    )
    add(
        gxe.ExpectColumnValuesToBeBetween(column="_ts_epoch", max_value=as_of_epoch),
        "timestamp_not_future",
        f"{spec['ts']} is in the future",
    )
    if kind == "labelled":
        add(
            gxe.ExpectColumnValuesToBeBetween(column="_label_variants", max_value=1),
            "label_variants",
            "same text under conflicting labels",
        )
    return suite, reasons


def batch_summary(frame: pd.DataFrame, invalid: pd.Series, kind: str, bounds: Bounds) -> pd.DataFrame:
    """One row per landing file: volume, invalid share and class shares (None for small batches)."""
    spec = KIND_SPEC[kind]
    rows = []
    for source, part in frame.groupby("source_file", sort=True):
        bad = invalid.loc[part.index]
        good = part[~bad]
        # Shares are only judged on batches big enough for a share to mean something.
        big = len(part) >= bounds.judge_min_rows
        rec = {"source_file": source, "rows": len(part), "invalid_share": float(bad.mean()) if big else None}
        shares = good[spec["class"]].value_counts(normalize=True)
        for cls in spec["classes"]:
            rec[f"share_{cls}"] = float(shares.get(cls, 0.0)) if big and len(good) else None
        rows.append(rec)
    return pd.DataFrame(rows)


def batch_suite(kind: str, bounds: Bounds):
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context()
    spec = KIND_SPEC[kind]
    suite = gx.ExpectationSuite(name=f"harmwatch_{kind}_batches")
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(column="rows", min_value=bounds.min_rows, max_value=bounds.max_rows)
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(column="invalid_share", max_value=bounds.max_invalid_share)
    )
    # Reports legitimately skew (most reports name a few reasons); only labelled batches have a mix floor.
    # A report file whose reasons exceed the ceiling is only a warning: a brigade mass-reporting one
    # reason must not get the honest reports of the same file quarantined. The weak-label policy of
    # build-dataset decides what reports are worth; a skewed labelled file is a real defect and fails.
    lo = bounds.min_class_share if kind == "labelled" else None
    for cls in spec["classes"]:
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeBetween(
                column=f"share_{cls}",
                min_value=lo,
                max_value=bounds.max_class_share,
                meta={"warn_only": kind == "reports"},
            )
        )
    return suite


def run_suite(frame, suite, name: str, index_column: str):
    """Validate ``frame`` (a pandas or a Spark DataFrame) with ``suite``; return the GX result.

    The same suite runs on GX's pandas or Spark execution engine, chosen by the frame's type.
    """
    name = f"{name}_{next(_names)}"  # data source names must be unique within the context
    sources = context().data_sources
    source = sources.add_pandas(name) if isinstance(frame, pd.DataFrame) else sources.add_spark(name)
    batch = (
        source.add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    return batch.validate(
        suite, result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [index_column]}
    )


def unexpected_values(result, index_column: str) -> list:
    """The ``index_column`` values of the rows an expectation result flagged."""
    return [item[index_column] for item in (result.result or {}).get("unexpected_index_list") or []]

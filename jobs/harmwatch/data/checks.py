"""Validate's pure core: judge one ingest run's rows and landing files, and say what fails.

:func:`check_frame` takes the rows of a run and returns a :class:`Judgement`: a quarantine reason per row
('' when valid), the per-expectation records and the per-landing-file verdicts for the report, and the
landing files a batch-level check rejected (all their rows are quarantined). The row checks run as one
SQL query (:mod:`harmwatch.data.row_checks`); Great Expectations judges the one-row-per-file batch
summary. :func:`suite_row_reasons` runs the same row checks as a GX suite, row by row: the reference the
SQL is held to by the tests. No storage is touched here: the step reads the run and writes the results.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass

import pandas as pd

from harmwatch.data import row_checks
from harmwatch.data.suites import (
    WARN_ONLY,
    Bounds,
    batch_suite,
    batch_summary,
    derive,
    row_suite,
    run_suite,
    unexpected_values,
)

log = logging.getLogger(__name__)


@dataclass
class Judgement:
    """What the suites found in one run."""

    reasons: pd.Series  # per row, '' when valid
    expectations: list[dict]  # per row-level expectation, for the report
    batches: list[dict]  # per landing file: volume, shares, verdict
    rejected: dict[str, str]  # landing file -> why its batch failed

    @property
    def invalid(self) -> pd.Series:
        return self.reasons != ""

    @property
    def conflicting_label_rows(self) -> int:
        return next((e["unexpected"] for e in self.expectations if e["name"] == "label_variants"), 0)


def read_row_results(result, reasons: dict[str, str]) -> tuple[list[dict], list[tuple[str, list]]]:
    """A row suite's GX result as report records and, per quarantining check, its reason and the
    ``_row`` values it flagged (in result order: the order reasons are joined in, on either engine)."""
    records, flags = [], []
    for res in result.results:
        name = res.expectation_config.meta["check"]
        flagged = unexpected_values(res, "_row")
        records.append(
            {
                "name": name,
                "type": res.expectation_config.type,
                "success": bool(res.success),
                "unexpected": len(flagged),
                "warn_only": name in WARN_ONLY,
                "kwargs": {k: v for k, v in res.expectation_config.kwargs.items() if k != "batch_id"},
            }
        )
        if name not in WARN_ONLY:
            flags.append((reasons[name], flagged))
    return records, flags


def suite_row_reasons(
    frame: pd.DataFrame, kind: str, bounds: Bounds, as_of: float, derived: pd.DataFrame | None = None
) -> tuple[pd.Series, list[dict]]:
    """Per-row quarantine reasons ('' when valid) and a per-expectation record, by the GX row suite.

    The reference definition of the row checks (several seconds per 100k rows, so validate runs
    :func:`harmwatch.data.row_checks.check_rows` instead, and a test holds the two to the same result).
    ``derived`` is ``derive(frame, kind)`` when the caller computed it already.
    """
    if derived is None:
        derived = derive(frame, kind)
    suite, reasons = row_suite(kind, bounds, as_of)
    records, flags = read_row_results(run_suite(derived, suite, f"{kind}_rows", "_row"), reasons)
    row_reasons: list[list[str]] = [[] for _ in range(len(frame))]
    for reason, flagged in flags:
        for row in flagged:
            row_reasons[int(row)].append(reason)
    return pd.Series(["; ".join(r) for r in row_reasons], index=frame.index, dtype="string"), records


def check_batches(
    frame: pd.DataFrame, invalid: pd.Series, kind: str, bounds: Bounds, reviewed: Collection[str] = ()
) -> tuple[dict, list]:
    """Reasons keyed by rejected landing file, and the per-file summary rows for the report."""
    return judge_batches(batch_summary(frame, invalid, kind, bounds), kind, bounds, reviewed)


def judge_batches(
    summary: pd.DataFrame, kind: str, bounds: Bounds, reviewed: Collection[str] = ()
) -> tuple[dict, list]:
    """The batch suite on a one-row-per-landing-file summary (:func:`harmwatch.data.suites.batch_summary`,
    or the same columns aggregated by Spark): reasons keyed by rejected file, and the report rows.

    ``reviewed``: landing files the review-pull ledger vouches for (:mod:`harmwatch.data.authority`)."""
    if summary.empty:
        return {}, []
    result = run_suite(
        summary.reset_index(names="_batch"), batch_suite(kind, bounds), f"{kind}_batches", "_batch"
    )
    rejected: dict[str, list[str]] = {}
    warned: dict[str, list[str]] = {}
    for res in result.results:
        kw = res.expectation_config.kwargs
        warn_only = bool((res.expectation_config.meta or {}).get("warn_only"))
        for idx in unexpected_values(res, "_batch"):
            source = summary.loc[int(idx), "source_file"]
            value = summary.loc[int(idx), kw["column"]]
            # Moderators' answers from the review queue follow the queue's mix, not the platform's: a
            # skewed class mix there is expected, so it is only a warning (for files the ledger vouches for).
            review_mix = kw["column"].startswith("share_") and source in reviewed
            (warned if warn_only or review_mix else rejected).setdefault(source, []).append(
                f"{kw['column']}={value:.4g} outside [{kw.get('min_value')}, {kw.get('max_value')}]"
            )
    for source, reasons in warned.items():
        log.warning(
            "%s: %s (warning only: the weak-label policy weighs reports; review answers follow the queue)",
            source,
            "; ".join(reasons),
        )

    def verdict(source: str) -> str:
        if source in rejected:
            return "; ".join(rejected[source])
        return f"ok (warning: {'; '.join(warned[source])})" if source in warned else "ok"

    rows = summary.assign(verdict=summary["source_file"].map(verdict))
    return {k: "; ".join(v) for k, v in rejected.items()}, rows.to_dict(orient="records")


def check_frame(
    frame: pd.DataFrame,
    kind: str,
    bounds: Bounds,
    as_of: float,
    reviewed: Collection[str] = (),
) -> Judgement:
    """Row checks, then batch checks; a rejected batch's rows carry its reason before their own.

    ``reviewed``: landing files the review-pull ledger vouches for (their class mix only warns)."""
    reasons, expectations = row_checks.check_rows(frame, kind, bounds, as_of)
    return with_batches(frame, kind, bounds, reasons, expectations, reviewed)


def with_batches(
    frame: pd.DataFrame,
    kind: str,
    bounds: Bounds,
    reasons: pd.Series,
    expectations: list[dict],
    reviewed: Collection[str] = (),
) -> Judgement:
    """The batch checks on rows already judged row by row (``reasons``, ``expectations``)."""
    rejected, batches = check_batches(frame, reasons != "", kind, bounds, reviewed)
    reasons = with_rejections(frame["source_file"], reasons, rejected)
    return Judgement(reasons, expectations, batches, rejected)


def with_rejections(sources: pd.Series, reasons: pd.Series, rejected: dict[str, str]) -> pd.Series:
    """Per row, a rejected batch's reason before the row's own (``sources``: the rows' landing files)."""
    batch_reason = sources.map(lambda s: f"batch rejected: {rejected[s]}" if s in rejected else "")
    return reasons.where(batch_reason == "", batch_reason.astype("string") + "; " + reasons).str.strip("; ")

"""What build-dataset knows of its reporters, as of any day: the reporter-reliability table and the
co-reporting cohorts, by the plan's own SQL (``data/sql/``) on DuckDB, for the ``metrics`` step.

The validated rows are keyed and loaded once; each day's tables read only the rows of the batches up to
that day, so a day's figures are what build-dataset would have decided from the lake as it stood then.
"""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd

from harmwatch.data import relational
from harmwatch.data.cohorts import COHORT_COLUMNS
from harmwatch.data.weak_labels import Policy

# The plan's tables the reliability table is made from, in the order they are built.
RELIABILITY = (*relational.MODERATED, "judged", "record", "reliability")


class ReporterHistory:
    """Validated ``labelled`` and ``reports`` rows (as read from the lake, in read order), loaded once;
    ``reviewed``: the landing files the review loop vouches for (their labels settle a text)."""

    def __init__(
        self,
        labelled: pd.DataFrame,
        reports: pd.DataFrame,
        policy: Policy | None = None,
        reviewed: Collection[str] = (),
    ) -> None:
        self.engine = relational.DuckDB()
        relational.load_frames(self.engine, labelled, reports)
        for name in ("labelled", "reports"):
            self.engine.table(f"{name}_all", f'SELECT * FROM "{name}"')
        self.params = relational.parameters(policy or Policy(), seed=0)
        relational.reviewed_table(self.engine, reviewed)
        self.day: str | None = None
        self.table: pd.DataFrame | None = None  # the reliability table as of ``day``, once made

    def as_of(self, day: str) -> relational.DuckDB:
        """The engine, its plan inputs ``labelled`` and ``reports`` the rows of the batches up to ``day``."""
        if day != self.day:
            upto = relational.literal(day)
            for name in ("labelled", "reports"):
                self.engine.table(name, f'SELECT * FROM "{name}_all" WHERE batch_dt <= {upto}')
            self.day, self.table = day, None
        return self.engine

    def reliability(self, day: str) -> pd.DataFrame:
        """The reporter-reliability table build-dataset keeps, from the rows up to ``day``."""
        self.as_of(day)
        if self.table is None:
            for table in RELIABILITY:
                self.engine.table(table, relational.render(table, self.params))
            self.table = self.engine.fetch("reliability", ["reporter_id"])
        return self.table.copy()

    def cohorts(self, day: str) -> pd.DataFrame:
        """The co-reporting cohorts (``reporter_id``, ``cohort``, ``cohort_size``) of the reports up to
        ``day``: the plan's candidate pairs, its test and the grouping."""
        self.as_of(day)
        if not self.engine.count("reports"):
            return pd.DataFrame(columns=COHORT_COLUMNS)
        return relational.cohorts(self.engine, self.params)

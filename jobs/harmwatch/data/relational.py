"""build-dataset's decisions as relational expressions: one SQL file per decision, run by any SQL engine.

Each file in ``data/sql/`` is one ``SELECT`` whose result becomes the table named after the file; the
plan (:func:`plan`) runs them in order. The files are written in DuckDB's dialect: :class:`DuckDB` runs
them in this process (the default engine), and :mod:`harmwatch.spark.relational` runs the very same
files on Spark SQL, translated by SQLGlot. Policy values enter as ``:name`` literals (:func:`render`).

Two things stay Python, because Python is the work there: the text key (:func:`harmwatch.data.dataset.
text_key`, applied as a vectorised function when the rows are read, so both engines key a text alike)
and the co-reporting test's Poisson tail (:func:`harmwatch.data.cohorts.poisson_tail`, which
``linked_pairs.sql`` calls). Each engine registers both as vectorised functions, so on Spark they run on
the executors. The process holds the linked pairs (to group them into cohorts: connected components), the
champion's scores when it checks (on DuckDB; Spark scores on its executors), counts and the outputs it is
asked to fetch.

:func:`assemble` runs the plan on validated rows given as frames and returns the
:class:`~harmwatch.data.dataset.Assembly` (tests hold it against a pandas reference of the same rules).
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from harmwatch.config import BENIGN_CLASS
from harmwatch.data.cohorts import ALPHA, COHORT_COLUMNS, components, poisson_tail
from harmwatch.data.dataset import (
    EVAL_COLUMNS,
    RECENT_COLUMNS,
    SNAPSHOT_COLUMNS,
    Assembly,
    content_version,
    text_key,
    window_start,
)
from harmwatch.data.weak_labels import (
    CHAMPION,
    COHORTS,
    DISAGREE,
    SPOT_CHECK,
    TOO_FEW,
    UNRELIABLE,
    Policy,
)

SQL_DIR = Path(__file__).with_name("sql")
LABELLED = ["post_id", "text", "label", "labelled_at", "batch_dt", "source_file"]
REPORTS = ["report_id", "post_id", "text", "reporter_id", "reason", "reported_at", "batch_dt", "source_file"]
_PARAM = re.compile(r"(?<![:\w]):([a-z_]+)\b")
# A text's identity where the plan joins, groups, ranks and shuffles by text (``kh``): a 64-bit hash of
# the key, computed once as the inputs are read, instead of the normalised text itself (Spark sorted and
# shuffled whole texts by it: about 30 % of its samples at 16x). The key stays in the rows as what is
# shown, drawn (the anchor, the spot check) and sorted for output. Each engine uses its own hash (the
# values only meet within a run), NULL where the key is (``NOT IN`` keeps its meaning). A second,
# independent hash (``CHECK_ID``) checks it (:func:`id_collisions`): two texts with one ``kh`` make the
# inputs load again with the key itself as ``kh``, so a collision costs time, not a decision, unless
# both hashes collide at once (96 bits on Spark, 128 on DuckDB).
TEXT_ID = "CASE WHEN key IS NOT NULL THEN hash(key) END"
CHECK_ID = "md5_number_lower(key)"
EXACT_ID = "key"


def literal(value: Any) -> str:
    """A SQL literal both engines read alike (floats as DOUBLE, not DECIMAL)."""
    if isinstance(value, list | tuple):  # a list for ``IN (:name)``
        return ", ".join(literal(v) for v in value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"CAST({value!r} AS DOUBLE)"
    return "'" + str(value).replace("'", "''") + "'"


def render(name: str, params: dict[str, Any]) -> str:
    """The SQL of ``data/sql/<name>.sql`` with its ``:name`` parameters as literals."""
    sql = (SQL_DIR / f"{name}.sql").read_text()

    def value(match: re.Match) -> str:
        if match.group(1) not in params:
            raise KeyError(f"{name}.sql needs parameter :{match.group(1)}")
        return literal(params[match.group(1)])

    return _PARAM.sub(value, sql)


def spot_threshold(rate: float) -> str:
    """The spot check as a comparison of hex prefixes: a key is drawn when the first 8 hex digits of its
    seeded hash (SHA-256 of ``seed:spot-check:key``), as a number, are below ``rate * 16**8``."""
    if rate <= 0:
        return ""
    bound = math.ceil(rate * 16**8)
    return "~" if bound >= 16**8 else f"{bound:08x}"


def parameters(policy: Policy, seed: int, eval_fraction: float = 0.15) -> dict[str, Any]:
    """Every ``:name`` the SQL files use: the policy, its review wording, the seeds."""
    return {
        "benign": BENIGN_CLASS,
        "prior_agree": float(policy.prior_agree),
        "prior_disagree": float(policy.prior_disagree),
        "min_reliability": float(policy.min_reliability),
        "min_reliability_text": f"{policy.min_reliability:.2f}",
        "min_reporters": int(policy.min_reporters),
        "per_reason": bool(policy.per_reason),
        "cohorts": bool(policy.cohorts),
        "trusted_dissent": bool(policy.trusted_dissent),
        "champion_floor": float(policy.champion_floor),
        "champion_floor_text": str(policy.champion_floor),
        "disagree": DISAGREE,
        "too_few": TOO_FEW,
        "cohort_marker": COHORTS,
        "unreliable": UNRELIABLE,
        "champion_marker": CHAMPION,
        "spot_seed": f"{seed}:spot-check:",
        "spot_threshold": spot_threshold(policy.spot_check_rate),
        "spot_reason": (
            f"{SPOT_CHECK}: a random {policy.spot_check_rate:.0%} of accepted weak labels goes to moderators"
        ),
        "eval_seed": f"{seed}:",
        "eval_fraction": float(eval_fraction),
        "min_shared": 3,
        "cohort_alpha": ALPHA,
    }


def plan(policy: Policy, new_eval: bool) -> Iterator[tuple[str, str]]:
    """(table, SQL file) in the order they are built; ``new_eval``: draw the anchor (the first run)."""
    yield from (
        (t, t)
        for t in (
            "decided_labels",
            "open_labels",
            "conflicted_keys",
            "moderated",
            "conflict_review",
            "judged",
            "record",
            "reliability",
            "pending_reports",
            "votes",
        )
    )
    yield "vote_record", "vote_record_before" if policy.before_report else "vote_record_now"
    yield from (
        (t, t)
        for t in (
            "rated_votes",
            "tally",
            "ranked_reasons",
            "weak_label_decisions",
            "weak_label_texts",
            "accepted",
            "report_review",
            "newest_report",
        )
    )
    if new_eval:
        yield "eval_snapshot", "eval_split"
    yield from ((t, t) for t in ("train", "train_files"))
    if new_eval:
        yield "eval_files", "eval_files"


class Engine(Protocol):
    """What the plan needs of a SQL engine."""

    def frame(self, name: str, frame: pd.DataFrame) -> None: ...  # a table from a small pandas frame
    def table(self, name: str, sql: str) -> None: ...  # a table from a query (DuckDB's dialect)
    def fetch(self, name: str, order: list[str] | None = None) -> pd.DataFrame: ...
    def count(self, name: str) -> int: ...
    def location(self, key: str) -> str | None: ...  # how the engine addresses a lake file, if it can
    def empty(self, name: str, columns: list[str]) -> None: ...  # an input table without rows
    def parquet(self, name: str, paths: list[str], columns: list[str]) -> None: ...  # a keyed input
    def identify(self, name: str, rows: str) -> None: ...  # a keyed input from table ``rows``
    # What the outputs that stay in the engine need (:class:`EngineTrain`, :class:`ReviewQueue`):
    def view(self, name: str, select: str) -> None: ...  # a view, read where used
    def query(self, sql: str) -> list[tuple]: ...  # a small result's rows
    def keys_of_file(self, name: str, store: Any, key: str) -> None: ...  # a lake file's keys
    def write(self, store: Any, key: str, select: str, order: list[str]) -> None: ...  # one sorted file
    def sorted_lines_version(self, select: str) -> str: ...  # the digest of sorted lines

    text_id: str  # the SQL of ``kh`` in the engine's dialect
    check_id: str  # the SQL of a second hash of the key, independent of ``kh``


class DuckDB:
    """The embedded engine: one in-process DuckDB database; tables are materialised as they are built."""

    def __init__(
        self, store: Any = None, threads: int | None = None, memory_limit: str | None = None
    ) -> None:
        import duckdb
        import pyarrow as pa

        self.store = store
        self.text_id, self.check_id = TEXT_ID, CHECK_ID  # SQL of ``kh`` (EXACT_ID after a collision)
        self.con = duckdb.connect(":memory:")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            import tempfile

            self.spill = tempfile.TemporaryDirectory(prefix="harmwatch-duckdb-")
            self.con.execute(f"SET memory_limit = '{memory_limit}'")
            self.con.execute(f"SET temp_directory = '{self.spill.name}'")
        self.con.execute("SET preserve_insertion_order = false")

        def key(texts):  # no annotations: DuckDB reads them to type the function
            return pa.array(text_key(texts.to_pandas()), type=pa.string())

        def tail(shared, expected):
            return pa.array(poisson_tail(shared.to_numpy(), expected.to_numpy()), type=pa.float64())

        self.con.create_function("text_key", key, ["VARCHAR"], "VARCHAR", type="arrow", side_effects=False)
        self.con.create_function(
            "poisson_tail", tail, ["DOUBLE", "DOUBLE"], "DOUBLE", type="arrow", side_effects=False
        )

    def location(self, key: str) -> str | None:
        """Where DuckDB reads a lake file: a local path (None: not a local folder, pandas reads it)."""
        path = self.store.local_path(key) if self.store is not None else None
        return None if path is None else str(path)

    def frame(self, name: str, frame: pd.DataFrame) -> None:
        self.con.register(f"_{name}_frame", frame)
        self.con.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS SELECT * FROM "_{name}_frame"')
        self.con.unregister(f"_{name}_frame")

    def parquet(self, name: str, paths: list[str], columns: list[str]) -> None:
        """A keyed input table from Parquet files, with ``_row``, the order a reader meets the rows in."""
        files = ", ".join(f"({i}, {literal(p)})" for i, p in enumerate(paths))
        cols = ", ".join(f'"{c}"' for c in columns)
        self.con.execute(
            f"""CREATE OR REPLACE TEMP TABLE "{name}" AS
            SELECT {cols}, key, {self.text_id} AS kh, _row FROM (
            SELECT {cols}, text_key(text) AS key, CAST(f.i AS BIGINT) * 4294967296 + p.file_row_number AS _row
            FROM read_parquet([{", ".join(literal(p) for p in paths)}], filename = true,
                              file_row_number = true, union_by_name = true) AS p
            JOIN (VALUES {files}) AS f(i, path) ON f.path = p.filename)"""
        )
        self.con.execute(f"DELETE FROM \"{name}\" WHERE key = ''")

    def empty(self, name: str, columns: list[str]) -> None:
        """An input table without rows (no committed run of that kind yet)."""
        cols = ", ".join(f'CAST(NULL AS VARCHAR) AS "{c}"' for c in [*columns, "key"])
        self.con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{name}" AS '
            f"SELECT {cols}, NULL::UBIGINT AS kh, 0::BIGINT AS _row LIMIT 0"
        )

    def identify(self, name: str, rows: str) -> None:
        """Input ``name``: the keyed rows of table ``rows`` with ``kh``."""
        self.table(name, f'SELECT *, {self.text_id} AS kh FROM "{rows}"')

    def table(self, name: str, sql: str) -> None:
        self.con.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {sql}')

    def fetch(self, name: str, order: list[str] | None = None) -> pd.DataFrame:
        by = f" ORDER BY {', '.join(order)}" if order else ""
        return self.con.execute(f'SELECT * FROM "{name}"{by}').df()

    def count(self, name: str) -> int:
        return int(self.con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0])

    def view(self, name: str, select: str) -> None:
        """View ``name`` of ``select``: read where it is used, not materialised."""
        self.con.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS {select}')

    def query(self, sql: str) -> list[tuple]:
        """The rows of a query with a small result (counts, a row per label)."""
        return self.con.execute(sql).fetchall()

    def keys_of_file(self, name: str, store: Any, key: str) -> None:
        """Table ``name``: the ``key`` column of Parquet file ``key`` of ``store``."""
        path = store.local_path(key)
        if path is not None:
            self.table(name, f"SELECT key FROM read_parquet({literal(str(path))})")
        else:
            self.frame(name, store.read_parquet(key, columns=["key"]).astype("string"))

    def write(self, store: Any, key: str, select: str, order: list[str]) -> None:
        """The rows of ``select``, sorted by ``order``, as Parquet file ``key`` of ``store``, written by
        DuckDB itself: the rows never become a frame in this process."""
        import tempfile

        by = ", ".join(_ident(c) for c in order)
        with tempfile.TemporaryDirectory(prefix="harmwatch-write-") as folder:
            path = Path(folder) / "part.parquet"
            self.con.execute(f"COPY ({select} ORDER BY {by}) TO {literal(str(path))} (FORMAT parquet)")
            store.write_file(key, path)

    def sorted_lines_version(self, select: str) -> str:
        """:func:`harmwatch.data.dataset.content_version` of the lines ``select`` gives (one ``line``
        column), sorted by the engine (bytes of UTF-8, which is Python's order of code points) and hashed
        batch by batch."""
        import hashlib

        import pyarrow as pa
        import pyarrow.compute as pc

        reader = self.con.sql(f"SELECT line FROM ({select}) ORDER BY line").to_arrow_reader(65_536)
        digest, first = hashlib.sha256(), True
        for batch in reader:
            lines = batch.column(0)
            if len(lines):  # joined by Arrow: no Python string per line (a third of the time)
                lines = pa.concat_arrays([lines]) if lines.offset else lines
                whole = pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines)
                digest.update((b"" if first else b"\n") + pc.binary_join(whole, "\n")[0].as_buffer())
                first = False
        return digest.hexdigest()[:16]


def _columns(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``columns`` of ``frame`` as strings (missing ones empty), plus ``_row`` (read order) and ``key``."""
    out = pd.DataFrame(
        {
            c: (
                frame[c].astype("string")
                if c in frame
                else pd.Series(pd.NA, index=frame.index, dtype="string")
            )
            for c in columns
        }
    )
    out["key"] = text_key(out["text"]) if len(out) else pd.Series(dtype="string")
    out["_row"] = range(len(out))
    return out[out["key"] != ""].reset_index(drop=True)


def _keyed_frame(engine: Engine, name: str, frame: pd.DataFrame) -> None:
    """Input ``name`` from a keyed pandas frame (:func:`_columns`), with the text's ``kh``."""
    engine.frame(f"{name}_rows", frame)
    engine.identify(name, f"{name}_rows")


def id_collisions(engine: Engine) -> int:
    """How many values of ``kh`` stand for more than one text over both inputs (by a second hash)."""
    two = f"kh, {engine.check_id} AS kh2"
    engine.table(
        "kh_collisions",
        f"SELECT count(*) AS n FROM (SELECT kh FROM (SELECT {two} FROM labelled UNION ALL "
        f"SELECT {two} FROM reports) AS ids GROUP BY kh HAVING min(kh2) <> max(kh2)) AS clashes",
    )
    return int(engine.fetch("kh_collisions")["n"].iloc[0])


def _load_checked(engine: Engine, load: Any) -> None:
    """Run ``load`` (which builds both inputs); again with the key as ``kh`` if two texts share one."""
    load()
    if engine.text_id != EXACT_ID and id_collisions(engine):
        engine.text_id = EXACT_ID
        load()


def load_frames(engine: Engine, labelled: pd.DataFrame, reports: pd.DataFrame) -> None:
    """The two inputs from pandas frames (tests, small runs): ``labelled`` and ``reports``, keyed."""

    def load() -> None:
        _keyed_frame(engine, "labelled", _columns(labelled, LABELLED))
        _keyed_frame(engine, "reports", _columns(reports, REPORTS))

    _load_checked(engine, load)


def load_lake(engine: Engine, store: Any, labelled: list[dict], reports: list[dict]) -> None:
    """The two inputs from the Parquet files of committed validated runs (``labelled``, ``reports``: their
    manifests), read by the engine where it can address them (``engine.location``), else through pandas."""

    def load() -> None:
        for name, manifests, columns in (("labelled", labelled, LABELLED), ("reports", reports, REPORTS)):
            keys = [f"{m['prefix']}/{f['name']}" for m in manifests for f in m.get("files", [])]
            keys = [k for k in keys if k.endswith(".parquet")]
            paths = [engine.location(k) for k in keys]
            if not keys:
                engine.empty(name, columns)
            elif all(p is not None for p in paths):
                engine.parquet(name, paths, columns)
            else:
                frame = _columns(pd.concat([store.read_parquet(k) for k in keys]), columns)
                _keyed_frame(engine, name, frame)

    _load_checked(engine, load)


def newest_day(engine: Engine) -> str:
    """The newest ``batch_dt`` of the labelled rows (the run's default logical date)."""
    engine.table("newest_day", "SELECT max(batch_dt) AS batch_dt FROM labelled")
    return str(engine.fetch("newest_day")["batch_dt"].iloc[0])


def recent_rows(engine: Engine, start: str, renew: bool) -> None:
    """``recent_rows``: what the recent slice reads of the labelled rows (``key``, ``batch_dt``,
    ``post_id``, ``source_file``, ``_row``), bounded by the window, not the history: every row of the
    batches from ``start`` on; the earlier rows of the window's texts and posts; one earlier row (so the
    slice knows there was an earlier batch); with ``renew``, one row per earlier text dated at its first
    batch (renewing the anchor dates the texts it returns to training)."""
    before = literal(start)
    engine.table(
        "recent_window",
        f"SELECT key, batch_dt, post_id, source_file, _row FROM labelled "
        f"WHERE batch_dt >= {before} OR batch_dt IS NULL",
    )
    earlier = f"SELECT key, batch_dt, post_id, source_file, _row FROM labelled WHERE batch_dt < {before}"
    parts = [
        "SELECT * FROM recent_window",
        f"{earlier} AND (key IN (SELECT key FROM recent_window) "
        "OR post_id IN (SELECT post_id FROM recent_window))",
        f"SELECT * FROM ({earlier} ORDER BY _row LIMIT 1) AS one",
    ]
    if renew:
        parts.append(
            "SELECT key, min(batch_dt) AS batch_dt, CAST(NULL AS VARCHAR) AS post_id, "
            f"CAST(NULL AS VARCHAR) AS source_file, min(_row) AS _row FROM labelled "
            f"WHERE batch_dt < {before} GROUP BY key"
        )
    engine.table("recent_rows", " UNION ALL ".join(parts))


def recent_row_frame(engine: Engine) -> pd.DataFrame:
    """``recent_rows`` in read order, ``key`` also as ``text`` (a key is its own key): what renewing the
    anchor reads (the days its returned texts were labelled, the landing files of its new posts)."""
    rows = engine.fetch("recent_rows", ["_row"]).drop(columns="_row")
    return rows.assign(text=rows["key"])  # the same strings, not a second copy


@dataclass
class RecentSlice:
    """The recent slice the engine held out (:file:`recent_slice.sql`): its rows (``RECENT_COLUMNS``,
    by key), why it is empty (None when it is not) and the landing files of its posts."""

    rows: pd.DataFrame
    note: str | None
    files: list[str] = field(default_factory=list)

    @classmethod
    def empty(cls, note: str) -> RecentSlice:
        return cls(pd.DataFrame({c: pd.Series(dtype=object) for c in RECENT_COLUMNS}), note)


def recent_slice(engine: Engine, day: str, days: int) -> RecentSlice:
    """The recent slice of the engine's ``train`` for the ``days`` batches ending at ``day``, from
    ``recent_rows`` (:func:`recent_rows`, for the same window) and ``reviewed_files``: the table
    ``recent_slice``, fetched (a window's posts). With no labelled batch before the window nothing is held
    out (every text would be new), nor with ``days`` 0."""
    if days <= 0:
        return RecentSlice.empty("--recent-days 0")
    start = window_start(day, days)
    engine.table("recent_earlier", f"SELECT key FROM recent_rows WHERE batch_dt < {literal(start)} LIMIT 1")
    if not engine.count("recent_earlier"):
        return RecentSlice.empty(f"no labelled batch before {start}: the newest batches are all there is")
    engine.table("recent_slice", render("recent_slice", {"start": start, "day": day}))
    rows = engine.fetch("recent_slice", ["key"])[RECENT_COLUMNS]
    if rows.empty:
        return RecentSlice.empty(f"no new moderator-labelled text in the batches {start}..{day}")
    engine.table(
        "recent_files",
        "SELECT DISTINCT source_file FROM recent_rows "
        "WHERE post_id IN (SELECT post_id FROM recent_slice) AND source_file IS NOT NULL",
    )
    return RecentSlice(rows, None, sorted(engine.fetch("recent_files")["source_file"]))


def champion_table(champion: pd.DataFrame | None, policy: Policy) -> pd.DataFrame:
    """The champion's ``score_<class>`` columns as rows (key, label, p); empty without the check."""
    if champion is None or policy.champion_floor <= 0 or not len(champion):
        return pd.DataFrame(
            {
                "key": pd.Series(dtype="string"),
                "label": pd.Series(dtype="string"),
                "p": pd.Series(dtype="float64"),
            }
        )
    return long_scores(champion)


def long_scores(wide: pd.DataFrame) -> pd.DataFrame:
    """A model's ``score_<class>`` columns of each ``key`` as rows (key, label, p): the champion check's
    table, made here or on Spark's executors (:func:`harmwatch.spark.scoring.class_scores`)."""
    scores = [c for c in wide.columns if c.startswith("score_")]
    long = wide.melt(id_vars="key", value_vars=scores, var_name="label", value_name="p")
    long["label"] = long["label"].str.removeprefix("score_")
    return long[["key", "label", "p"]].astype({"key": "string", "label": "string", "p": "float64"})


def pending_table(engine: Engine) -> None:
    """Table ``pending_texts``: ``key`` and ``text`` of the texts known only from reports (what the
    champion is asked about)."""
    engine.table("all_labelled_keys", "SELECT DISTINCT kh FROM labelled")
    engine.table("pending_texts", render("pending_texts", {}))


def pending_texts(engine: Engine) -> pd.DataFrame:
    """The rows of :func:`pending_table`, fetched."""
    pending_table(engine)
    return engine.fetch("pending_texts", ["key"])[["key", "text"]]


def cohort_members(
    engine: Engine, policy: Policy, params: dict[str, Any], pairs: str = "cohort_pairs"
) -> int:
    """Build the ``cohort_members`` table (reporter -> cohort); the number of linked reporters.
    ``pairs``: the SQL of the candidate pairs (the state's counts them as the days are folded)."""
    members = pd.DataFrame({c: pd.Series(dtype="string") for c in COHORT_COLUMNS[:2]})
    if policy.cohorts and engine.count("reports"):
        found = cohorts(engine, params, pairs)
        if len(found):
            members = found[["reporter_id", "cohort"]].astype("string")
    engine.frame("cohort_members", members)
    return len(members)


def cohorts(engine: Engine, params: dict[str, Any], pairs: str = "cohort_pairs") -> pd.DataFrame:
    """The co-reporting cohorts (``reporter_id``, ``cohort``, ``cohort_size``; reporters linked to nobody
    left out): the engine counts the candidate pairs (``pairs``) and tests them (``linked_pairs.sql``);
    only the linked pairs are fetched, to be grouped here."""
    engine.table("cohort_pairs", render(pairs, params))
    engine.table("linked_pairs", render("linked_pairs", params))
    return components(engine.fetch("linked_pairs"))


def reviewed_table(engine: Engine, reviewed: Collection[str]) -> None:
    """``reviewed_files``: the landing files the review loop vouches for (their labels settle a text)."""
    files = pd.Series(sorted(reviewed), dtype="string")
    engine.frame("reviewed_files", pd.DataFrame({"source_file": files}))


# The plan's tables that settle each text's moderator label, in the order they are built.
MODERATED = ("decided_labels", "open_labels", "conflicted_keys", "moderated")


@dataclass
class Decided:
    """What the plan built, as counts (the tables stay in the engine)."""

    tables: dict[str, int] = field(default_factory=dict)


def decide(
    engine: Engine,
    policy: Policy,
    seed: int,
    eval_fraction: float,
    frozen: pd.DataFrame | None,
    champion: pd.DataFrame | None = None,
    reviewed: Collection[str] = (),
    champion_scored: bool = False,
) -> Decided:
    """Run the plan on ``engine`` (whose ``labelled`` and ``reports`` tables are loaded). The champion's
    scores are ``champion`` (``score_<class>`` columns by ``key``), or with ``champion_scored`` the
    engine's own table ``champion_scores`` (Spark scores on its executors)."""
    params = parameters(policy, seed, eval_fraction)
    reviewed_table(engine, reviewed)
    if not champion_scored:
        engine.frame("champion_scores", champion_table(champion, policy))
    if frozen is not None:
        engine.frame("eval_snapshot", frozen[EVAL_COLUMNS].astype("string"))
    decided = Decided({"cohort_members": cohort_members(engine, policy, params)})
    for table, sql in plan(policy, frozen is None):
        engine.table(table, render(sql, params))
    return decided


def stratified_draw(texts: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """The texts (``key``, ``label``, ...) the anchor's draw (``eval_split.sql``) takes from ``texts`` at
    ``fraction`` and ``seed``, sorted by key: renewing the anchor keeps a share of it by the same rule."""
    engine = DuckDB()
    frame = texts.astype("string").reset_index(drop=True)
    engine.frame("moderated_rows", frame)
    engine.table("moderated", f"SELECT *, {EXACT_ID} AS kh FROM moderated_rows")  # few rows: the key
    params = {"eval_seed": f"{seed}:", "eval_fraction": float(fraction)}
    engine.table("drawn", render("eval_split", params))
    drawn = engine.fetch("drawn")
    return frame[frame["key"].isin(set(drawn["key"]))].sort_values("key").reset_index(drop=True)


def resolve_labels(
    labelled: pd.DataFrame, reviewed: Collection[str] = ()
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per text with a single moderator label, the rows of texts moderators labelled differently)
    of validated ``labelled`` rows, by the plan's SQL, sorted by key; ``reviewed``: the landing files
    the review loop vouches for (a label from one settles its text)."""
    engine = DuckDB()
    load_frames(engine, labelled, pd.DataFrame())
    reviewed_table(engine, reviewed)
    for table in MODERATED:
        engine.table(table, render(table, {}))
    engine.table("conflicts", "SELECT * FROM open_labels WHERE kh IN (SELECT kh FROM conflicted_keys)")
    return engine.fetch("moderated", ["key"]), engine.fetch("conflicts", ["key", "_row"])


def weak_label_outcome(
    engine: Engine, policy: Policy, seed: int, champion: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accepted weak labels, the report rows held for review, each by ``key``) of ``engine``'s loaded
    inputs under ``policy``: the plan up to the review queue's rows from reports (audits of the policy)."""
    params = parameters(policy, seed)
    reviewed_table(engine, ())
    engine.frame("champion_scores", champion_table(champion, policy))
    cohort_members(engine, policy, params)
    for table, sql in plan(policy, new_eval=False):
        engine.table(table, render(sql, params))
        if table == "report_review":
            break
    return engine.fetch("accepted", ["key"]), engine.fetch("report_review", ["key"])


def _line(columns: list[str]) -> str:
    """SQL for the line :func:`harmwatch.data.dataset.version_lines` makes of a row of text columns
    (a missing value reads ``None``, as ``astype(str)`` writes it)."""
    return " || chr(9) || ".join(f"coalesce(CAST(\"{c}\" AS VARCHAR), 'None')" for c in columns)


class EngineTrain:
    """The training snapshot as the engine's table ``train``, held out, counted, hashed and written by the
    engine (:class:`harmwatch.data.snapshot_writer.StagedTrain`): its rows, one per text with the text,
    never come to this process; the recent slice is held out of it by the engine (:func:`recent_slice`).
    The same for DuckDB and Spark (:class:`harmwatch.spark.relational.SparkTrain` adds Spark's review
    queue): each engine makes views, answers small queries, hashes sorted lines and writes one sorted file
    its own way."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.table = engine, "train"

    def without(self, keys: pd.Series) -> None:
        """Leave the texts ``keys`` (the held-out slice) out of the snapshot."""
        self.engine.frame("held_keys", pd.DataFrame({"key": keys.astype("string").dropna()}))
        # a view: the few held-out texts are left out where it is read
        self.engine.view("train_out", "SELECT * FROM train WHERE key NOT IN (SELECT key FROM held_keys)")
        self.table = "train_out"

    def review(self) -> ReviewQueue:
        """The review queue, kept by the engine as the snapshot is."""
        return EngineReview(self.engine)

    def rows(self) -> int:
        return self.engine.count(self.table)

    def label_counts(self) -> dict[str, int]:
        sql = f'SELECT label, count(*) FROM "{self.table}" WHERE label IS NOT NULL GROUP BY label'
        return {str(label): int(n) for label, n in sorted(self.engine.query(sql))}

    def weak_labels(self) -> int:
        return int(
            self.engine.query(f"SELECT count(*) FROM \"{self.table}\" WHERE label_source = 'reports'")[0][0]
        )

    def version(self) -> str:
        """The snapshot's content version (:attr:`harmwatch.data.dataset.Assembly.train_version`)."""
        line = _line(["key", "label", "label_source"])
        return self.engine.sorted_lines_version(f'SELECT {line} AS line FROM "{self.table}"')

    def new_rows(self, store: Any, key: str) -> int:
        """Texts of the snapshot that the Parquet file ``key`` (the previous snapshot) does not hold."""
        self.engine.keys_of_file("previous_keys", store, key)
        sql = (
            f'SELECT count(*) FROM "{self.table}" '
            "WHERE key NOT IN (SELECT key FROM previous_keys WHERE key IS NOT NULL)"
        )
        return int(self.engine.query(sql)[0][0])

    def write(self, store: Any, key: str) -> None:
        cols = ", ".join(f'"{c}"' for c in SNAPSHOT_COLUMNS)
        self.engine.write(store, key, f'SELECT {cols} FROM "{self.table}"', ["key"])


_INTEGERS = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
}


class ReviewQueue:
    """The review queue as the engine's view ``review_queue``, counted, hashed and written by the engine
    (:class:`harmwatch.data.snapshot_writer.StagedReview`): the queue holds every text still waiting for
    a moderator, so it grows with the platform's age, and fetching it, hashing it and writing it from
    this process cost 0.65 CPU-s at 90 days of history against about 0.3 in the engine.

    The view is :func:`review_queue` of ``conflict_review`` and ``report_review`` as the engine keeps
    them (a view: their texts are not copied again): the same columns in the same order, integer counts
    as doubles (a column one part lacks is missing there, which makes pandas' integers floats), written
    sorted by key. Each engine names its types (``STRING``, ``DOUBLE``, ``INTEGERS``) and says what a
    table's columns are (:meth:`types_of`) and how a view is made (:meth:`view`)."""

    STRING, DOUBLE, INTEGERS = "VARCHAR", "DOUBLE", frozenset(_INTEGERS)

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        parts = [
            ("conflict_review", engine.count("conflict_review") > 0),
            ("report_review", engine.count("pending_reports") > 0),
        ]
        types: dict[str, dict[str, str]] = {}
        for table, used in parts:
            types[table] = (
                self.types_of(table) if used else {"key": self.STRING, "review_reason": self.STRING}
            )
        self.columns = list(dict.fromkeys(c for table, _used in parts for c in types[table]))

        def typed(column: str) -> str:
            kinds = {t[column] for t in types.values() if column in t}
            return self.DOUBLE if kinds & self.INTEGERS else min(kinds)

        def cast(table: str, used: bool, column: str) -> str:
            value = self.ident(column) if column in types[table] and used else "NULL"
            return f"CAST({value} AS {typed(column)}) AS {self.ident(column)}"

        selects = []
        for table, used in parts:
            cols = ", ".join(cast(table, used, c) for c in self.columns)
            limit = "" if used else " LIMIT 0"
            selects.append(f"SELECT * FROM (SELECT {cols} FROM {table}{limit}) AS {table}")
        self.view(" UNION ALL ".join(selects))

    def types_of(self, table: str) -> dict[str, str]:
        got = self.engine.con.execute(f'SELECT column_name, column_type FROM (DESCRIBE "{table}")')
        return dict(got.fetchall())

    def ident(self, name: str) -> str:
        return _ident(name)

    def view(self, select: str) -> None:
        self.engine.view("review_queue", select)

    def rows(self) -> int:
        return self.engine.count("review_queue")

    def report_reasons(self) -> pd.DataFrame:
        if "source" not in self.columns:
            return pd.DataFrame({"review_reason": pd.Series(dtype=object), "n": pd.Series(dtype="int64")})
        self.engine.table(
            "review_reasons",
            "SELECT review_reason, count(*) AS n FROM review_queue WHERE source = 'reports' "
            "GROUP BY review_reason",
        )
        return self.engine.fetch("review_reasons", ["review_reason"])

    def version(self) -> str:
        """The queue's content version, hashed from one ``line`` per row, sorted by the engine."""
        return self.engine.sorted_lines_version(
            f"SELECT {_line(['key', 'review_reason'])} AS line FROM review_queue"
        )


class EngineReview(ReviewQueue):
    """The review queue kept by DuckDB (:class:`ReviewQueue`)."""

    def write(self, store: Any, prefix: str) -> list[str]:
        """The queue as ``prefix``'s Parquet file and spreadsheet-safe CSV, sorted by key; their names."""
        import tempfile

        from harmwatch.data.catalog import REVIEW_CSV, REVIEW_FILE
        from harmwatch.data.exports import copy_spreadsheet_csv

        self.engine.write(store, f"{prefix}/{REVIEW_FILE}", "SELECT * FROM review_queue", ["key"])
        with tempfile.TemporaryDirectory(prefix="harmwatch-csv-") as folder:
            path = Path(folder) / REVIEW_CSV
            copy_spreadsheet_csv(self.engine.con, "review_queue", path, order="key")
            store.write_file(f"{prefix}/{REVIEW_CSV}", path)
        return [REVIEW_FILE, REVIEW_CSV]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("key", kind="stable").reset_index(drop=True)


def review_queue(conflicts: pd.DataFrame, reports: pd.DataFrame, pending: bool) -> pd.DataFrame:
    """Conflicting labels and held-back reports in one queue, sorted by key; the columns in the order
    the pandas engine gives them (no conflict, or no ``pending`` report: that part contributes ``key``
    and ``review_reason`` only)."""
    bare = pd.DataFrame(columns=["key", "review_reason"])
    parts = [conflicts if len(conflicts) else bare, reports if pending else bare]
    return _ordered(pd.concat(parts, ignore_index=True))


def fetch_assembly(
    engine: Engine,
    policy: Policy,
    frozen_eval: tuple[pd.DataFrame, str] | None,
    staged: Any = None,
) -> Assembly:
    """The :class:`Assembly` the plan built, fetched from the engine; with ``staged``, its ``train`` has no
    rows: the snapshot stays in the engine, which holds the recent slice out of it (:func:`recent_slice`)."""
    if staged:
        train = pd.DataFrame({c: pd.Series(dtype=object) for c in SNAPSHOT_COLUMNS})
    else:
        train = _ordered(engine.fetch("train"))[SNAPSHOT_COLUMNS]
    if frozen_eval is None:
        ev = engine.fetch("eval_snapshot", ["key"])[EVAL_COLUMNS]
        eval_version, eval_files = (
            content_version(ev, ["key", "label"]),
            sorted(engine.fetch("eval_files")["source_file"]),
        )
    else:
        (ev, eval_version), eval_files = frozen_eval, []
    reliability = engine.fetch("reliability", ["reporter_id"])
    if staged:  # the queue stays in the engine with the snapshot
        review, staged_review = pd.DataFrame(columns=["key", "review_reason"]), staged.review()
    else:
        review, staged_review = (
            review_queue(
                engine.fetch("conflict_review", ["key"]),
                engine.fetch("report_review", ["key"]),
                engine.count("pending_reports") > 0,
            ),
            None,
        )
    return Assembly(
        train=train,
        eval=ev,
        eval_version=eval_version,
        eval_is_new=frozen_eval is None,
        review=review,
        staged_review=staged_review,
        reliability=reliability,
        weak_labels=staged.weak_labels() if staged else int((train["label_source"] == "reports").sum()),
        train_files=sorted(engine.fetch("train_files")["source_file"].dropna()),
        eval_files=eval_files,
    )


def assemble(
    labelled: pd.DataFrame,
    reports: pd.DataFrame,
    frozen_eval: tuple[pd.DataFrame, str] | None,
    policy: Policy,
    eval_fraction: float,
    seed: int,
    champion: pd.DataFrame | None = None,
    reviewed: Collection[str] = (),
    engine: Engine | None = None,
) -> Assembly:
    """The :class:`~harmwatch.data.dataset.Assembly` of validated ``labelled`` and ``reports`` rows by the
    SQL plan (on DuckDB unless ``engine`` is given): the evaluation anchor drawn (``frozen_eval`` None) or
    reused, the champion's scores of the pending texts, the review loop's landing files (``reviewed``)."""
    engine = engine or DuckDB()
    load_frames(engine, labelled, reports)
    decide(
        engine,
        policy,
        seed,
        eval_fraction,
        None if frozen_eval is None else frozen_eval[0],
        champion,
        reviewed,
    )
    return fetch_assembly(engine, policy, frozen_eval)

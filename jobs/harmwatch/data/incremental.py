"""Incremental days: build-dataset folds each new validated run into state tables instead of re-reading
the history.

The full plan (:mod:`harmwatch.data.relational`) decides from every labelled and report row of the lake,
so a day's cost grows with the platform's age, and most of it is keying texts the lake keyed yesterday.
Here the rows are read, keyed and reduced once, when their run is new, into six state tables (the SQL is
in ``data/sql/state/``):

- ``labels``: per text, the facts its moderator labels decide by (the earliest open label, the newest
  reviewed one, the distinct labels, posts and landing files, the first and last batch);
- ``votes``: per text, reporter and reason, the first such report;
- ``reports``: per reported text, its first report's text, the distinct posts, report ids and landing
  files, when it was first reported and the newest batch;
- ``record``: per reporter and reason, votes on moderated texts and agreements;
- ``pairs`` and ``reach``: per two reporters, the texts both reported, and per reporter, the distinct
  texts they reported: the co-reporting cohorts' candidate pairs are read off them (a self-join of every
  vote cost 0.24 CPU-s a day at 90 days of history; folding the day's pairs and reading the candidates
  off the counts, about 0.06).

Each fact is a pick by a total order (the order the full plan uses, with the read order spelt as landing
run folder, file and row) or a set, so folding run by run gives the rows folding everything at once gives;
``record`` is folded by taking back the judgements of the texts the day touched as the old state had them
and adding them as the new state has them; ``pairs`` and ``reach`` by counting the (reporter, text) pairs
of the touched texts after the fold that were not there before. The weak-label decisions
(``decisions``) and co-reporting cohorts (``cohorts``) are made from the state on every run and committed
beside it; a run under the same policy, seed and champion as the previous state re-decides only the
pending texts whose inputs changed (:func:`stale_keys`).

State versions are ids of their inputs (the folded runs with their file digests, the review loop's files,
the policy), committed like snapshots: files first, ``_MANIFEST.json``, then ``state/build/LATEST.json``.
A run killed before the pointer moves leaves the previous state in force and the rerun folds the same
runs again; a run already folded is never folded twice. A folded run that changed or vanished, or a
landing file the review loop vouches for only now, makes the state unusable and the run rebuilds it from
the lake (``build-dataset --rebuild`` forces that), which gives the same tables.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from dataclasses import asdict
from typing import Any

import pandas as pd

from harmwatch.config import Settings
from harmwatch.data import catalog, relational
from harmwatch.data.dataset import window_start
from harmwatch.data.snapshot_writer import champion_scores, finish, provenance
from harmwatch.data.tables import frozen_eval
from harmwatch.data.weak_labels import Policy
from harmwatch.errors import DataError

log = logging.getLogger(__name__)

STATE_FORMAT = 4  # bump when a state table's columns or meaning change: older states are rebuilt
STATE_TABLES = ("labels", "votes", "reports", "record", "pairs", "reach")
COMMITTED = (*STATE_TABLES, "decisions", "cohorts")
RESULTS = {"decisions": "weak_label_decisions", "cohorts": "cohort_members"}  # committed, made each run
_LIST = "VARCHAR[]"
SCHEMAS: dict[str, list[tuple[str, str]]] = {
    "labels": [
        ("key", "VARCHAR"),
        ("first_batch", "VARCHAR"),
        ("last_batch", "VARCHAR"),
        ("first_seen", "VARCHAR"),
        ("labels", _LIST),
        ("posts", _LIST),
        ("open_files", _LIST),
        ("files", _LIST),
        *[
            (f"m_{c}", "VARCHAR")
            for c in ("text", "label", "post_id", "batch_dt", "labelled_at", "source_file")
        ],
        ("m_file", "VARCHAR"),
        ("m_rn", "BIGINT"),
        ("c_text", "VARCHAR"),
        ("c_labelled_at", "VARCHAR"),
        ("c_file", "VARCHAR"),
        ("c_rn", "BIGINT"),
        *[
            (f"r_{c}", "VARCHAR")
            for c in ("text", "label", "post_id", "batch_dt", "labelled_at", "source_file")
        ],
        ("r_file", "VARCHAR"),
        ("r_rn", "BIGINT"),
    ],
    "votes": [
        ("key", "VARCHAR"),
        ("reporter_id", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("reported_at", "VARCHAR"),
        ("report_id", "VARCHAR"),
        ("_file", "VARCHAR"),
        ("_rn", "BIGINT"),
    ],
    "reports": [
        ("key", "VARCHAR"),
        ("first_seen", "VARCHAR"),
        ("newest_batch", "VARCHAR"),
        ("posts", _LIST),
        ("report_ids", _LIST),
        ("files", _LIST),
        ("w_text", "VARCHAR"),
        ("w_reported_at", "VARCHAR"),
        ("w_report_id", "VARCHAR"),
        ("w_file", "VARCHAR"),
        ("w_rn", "BIGINT"),
        ("p_text", "VARCHAR"),
        ("p_reported_at", "VARCHAR"),
        ("p_file", "VARCHAR"),
        ("p_rn", "BIGINT"),
    ],
    "record": [
        ("reporter_id", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("judged", "BIGINT"),
        ("agreements", "BIGINT"),
    ],
    "pairs": [("a", "VARCHAR"), ("b", "VARCHAR"), ("shared", "BIGINT")],
    "reach": [("reporter_id", "VARCHAR"), ("texts", "BIGINT")],
}
MAX_PARTS = 8  # parts of a keyed state table before a run writes it whole again
CHANGED = {
    "labels": "changed_labels",
    "votes": "changed_reports",
    "reports": "changed_reports",
    "pairs": "changed_pairs",
}
KEYS = {"pairs": ("a", "b")}  # what identifies a row of a keyed table (else its text's ``key``)
ORDER = {
    "labels": "key",
    "votes": "key, reporter_id, reason",
    "reports": "key",
    "record": "reporter_id, reason",
    "pairs": "a, b",
    "reach": "reporter_id",
    "cohorts": "reporter_id",
}


def _changed(name: str, table: str, changed: str) -> str:
    """The condition on a row of ``table`` (state table ``name``) that its keys (:data:`KEYS`) are in the
    table ``changed``."""
    keys = KEYS.get(name, ("key",))
    if keys == ("key",):
        return f"key IN (SELECT key FROM {changed})"
    on = " AND ".join(f'c."{k}" = {table}."{k}"' for k in keys)
    return f"EXISTS (SELECT 1 FROM {changed} AS c WHERE {on})"


def state_prefix(version: str) -> str:
    return f"{catalog.STATE}/v={version}"


# -- the state in the engine -------------------------------------------------------------------------


def empty_state(engine: relational.DuckDB) -> None:
    """The four state tables without rows (nothing folded yet)."""
    for name, columns in SCHEMAS.items():
        cols = ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, t in columns)
        engine.table(f"s_{name}", f"SELECT {cols} LIMIT 0")


def _cast(name: str, source: str) -> str:
    cols = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in SCHEMAS[name])
    return f"SELECT {cols} FROM {source}"


def load_state(engine: relational.DuckDB, store: Any, manifest: dict) -> None:
    """The committed state of ``manifest`` into the engine (``s_labels`` ...): per table, its parts from
    the oldest on, and per text the rows of the newest part that holds it."""
    for name in STATE_TABLES:
        sources = []
        for gen, prefix in enumerate(manifest["parts"][name]):
            key = f"{prefix}/{name}.parquet"
            path = store.local_path(key)
            if path is not None:
                source = f"read_parquet({relational.literal(str(path))})"
            else:
                engine.frame(f"_state_{name}_{gen}", store.read_parquet(key))
                source = f"_state_{name}_{gen}"
            sources.append(f"SELECT *, {gen} AS _gen FROM ({_cast(name, source)})")
        union = " UNION ALL ".join(sources)
        engine.table(
            f"s_{name}",
            f"""SELECT * EXCLUDE (_gen, _newest) FROM (
                SELECT *, max(_gen) OVER (PARTITION BY {", ".join(KEYS.get(name, ("key",)))}) AS _newest
                FROM ({union})
            ) WHERE _gen = _newest"""
            if len(sources) > 1
            else f"SELECT * EXCLUDE (_gen) FROM ({union})",
        )


def _delta(
    engine: relational.DuckDB, name: str, source: str, columns: list[str], reviewed: list[str]
) -> None:
    """A keyed delta table from ``source`` (which has ``_file`` and ``_rn``): ``columns`` as strings."""
    cols = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in columns)
    engine.frame("_reviewed", pd.DataFrame({"f": pd.Series(sorted(reviewed), dtype="string")}))
    engine.table(
        name,
        f"""SELECT * FROM (
            SELECT {cols}, text_key(CAST(text AS VARCHAR)) AS key, CAST(_file AS VARCHAR) AS _file,
                   CAST(_rn AS BIGINT) AS _rn,
                   coalesce(CAST(source_file AS VARCHAR) IN (SELECT f FROM _reviewed), FALSE) AS reviewed
            FROM {source}) WHERE key <> ''""",
    )


def delta_from_frames(
    engine: relational.DuckDB,
    labelled: pd.DataFrame,
    reports: pd.DataFrame,
    part: str = "",
    reviewed: Any = (),
) -> None:
    """``new_labelled`` and ``new_reports`` from frames (tests, small runs). Their read order is their
    ``_file`` and ``_rn`` columns where they have them, else ``part`` and the row's place in the frame
    (a later part is read after an earlier one)."""
    for name, frame, columns in (
        ("new_labelled", labelled, relational.LABELLED),
        ("new_reports", reports, relational.REPORTS),
    ):
        out = pd.DataFrame(
            {
                c: frame[c].astype("string")
                if c in frame
                else pd.Series(pd.NA, index=frame.index, dtype="string")
                for c in columns
            }
        ).reset_index(drop=True)
        out["_file"] = frame["_file"].to_numpy() if "_file" in frame else part
        out["_rn"] = frame["_rn"].to_numpy() if "_rn" in frame else range(len(out))
        engine.frame(f"_{name}_rows", out)
        _delta(engine, name, f"_{name}_rows", columns, sorted(reviewed))


def delta_from_lake(
    engine: relational.DuckDB, store: Any, labelled: list[dict], reports: list[dict], reviewed: Any
) -> None:
    """``new_labelled`` and ``new_reports`` from the Parquet files of the runs not folded yet."""
    for name, manifests, columns in (
        ("new_labelled", labelled, relational.LABELLED),
        ("new_reports", reports, relational.REPORTS),
    ):
        keys = [f"{m['prefix']}/{f['name']}" for m in manifests for f in m.get("files", [])]
        keys = [k for k in keys if k.endswith(".parquet")]
        if not keys:
            cols = ", ".join(f'CAST(NULL AS VARCHAR) AS "{c}"' for c in columns)
            engine.table(f"_{name}_rows", f"SELECT {cols}, '' AS _file, 0::BIGINT AS _rn LIMIT 0")
        elif all(store.local_path(k) is not None for k in keys):
            paths = [str(store.local_path(k)) for k in keys]
            names = ", ".join(
                f"({relational.literal(p)}, {relational.literal(k)})"
                for p, k in zip(paths, keys, strict=True)
            )
            engine.table(
                f"_{name}_rows",
                f"""SELECT {", ".join(f'p."{c}"' for c in columns)}, f.k AS _file, p.file_row_number AS _rn
                FROM read_parquet([{", ".join(relational.literal(p) for p in paths)}], filename = true,
                                  file_row_number = true, union_by_name = true) AS p
                JOIN (VALUES {names}) AS f(path, k) ON f.path = p.filename""",
            )
        else:
            parts = [store.read_parquet(k).assign(_file=k, _rn=lambda d: range(len(d))) for k in keys]
            frame = pd.concat(parts, ignore_index=True)
            for c in columns:
                if c not in frame:
                    frame[c] = None
            engine.frame(f"_{name}_rows", frame[[*columns, "_file", "_rn"]])
        _delta(engine, name, f"_{name}_rows", columns, sorted(reviewed))


def _judged(engine: relational.DuckDB, name: str, labels: str, votes: str, params: dict[str, Any]) -> None:
    """``name``: the judged votes of label state ``labels`` and ``votes``, by the full plan's own
    :file:`judged.sql`: its ``reports`` are the votes (read order: landing file, then row), its
    ``moderated`` the texts :file:`state/moderated.sql` settles, both told apart by the key itself as
    their ``kh`` (DuckDB joins the fold's few rows by the text itself in its hash tables)."""
    engine.con.execute(f"CREATE OR REPLACE TEMP VIEW labels_in AS {labels}")
    engine.table(f"{name}_moderated", relational.render("state/moderated", params))
    inputs = (
        f"WITH reports AS (SELECT *, key AS kh, {{'f': _file, 'r': _rn}} AS _row FROM ({votes})), "
        f"moderated AS (SELECT * FROM {name}_moderated) "
    )
    engine.table(name, inputs + relational.render("judged", params))


def fold(engine: relational.DuckDB, params: dict[str, Any]) -> dict[str, int]:
    """Fold ``new_labelled`` and ``new_reports`` into the state tables; the rows each now holds."""
    engine.table("touched_keys", "SELECT key FROM new_labelled UNION SELECT key FROM new_reports")
    engine.table("changed_labels", "SELECT DISTINCT key FROM new_labelled")
    engine.table("changed_reports", "SELECT DISTINCT key FROM new_reports")
    touched = "WHERE key IN (SELECT key FROM touched_keys)"
    _judged(
        engine,
        "judged_before",
        f"SELECT * FROM s_labels {touched}",
        f"SELECT * FROM s_votes {touched}",
        params,
    )
    for name in ("labels", "votes", "reports"):  # the touched texts' new rows, then they replace the old
        engine.table(f"s_{name}_next", relational.render(f"state/{name}", params))
    # the co-reporting pairs and reaches the new votes add, from the votes before and after the fold
    engine.table("s_pairs_next", relational.render("state/pairs", params))
    engine.table("changed_pairs", "SELECT a, b FROM s_pairs_next")
    engine.table("s_reach_next", relational.render("state/reach", params))
    for name, changed in (
        ("labels", "changed_labels"),
        ("votes", "changed_reports"),
        ("reports", "changed_reports"),
        ("pairs", "changed_pairs"),
    ):
        engine.con.execute(f"DELETE FROM s_{name} WHERE {_changed(name, f's_{name}', changed)}")
        engine.con.execute(f"INSERT INTO s_{name} SELECT * FROM s_{name}_next")
        engine.con.execute(f"DROP TABLE s_{name}_next")
    engine.con.execute("DROP TABLE s_reach")
    engine.con.execute("ALTER TABLE s_reach_next RENAME TO s_reach")
    _judged(
        engine,
        "judged_after",
        f"SELECT * FROM s_labels {touched}",
        f"SELECT * FROM s_votes {touched}",
        params,
    )
    engine.table("s_record_next", relational.render("state/record", params))
    engine.con.execute("DROP TABLE s_record")
    engine.con.execute("ALTER TABLE s_record_next RENAME TO s_record")
    return {name: engine.count(f"s_{name}") for name in STATE_TABLES}


# -- decisions from the state --------------------------------------------------------------------------


def pending_texts(engine: relational.DuckDB) -> pd.DataFrame:
    """``key`` and ``text`` of the texts known only from reports (what the champion is asked about)."""
    engine.table("pending_texts", relational.render("state/pending_texts", {}))
    return engine.fetch("pending_texts", ["key"])[["key", "text"]]


def decide(
    engine: relational.DuckDB,
    policy: Policy,
    seed: int,
    eval_fraction: float,
    frozen: pd.DataFrame | None,
    champion: pd.DataFrame | None = None,
    bounded: bool = False,
) -> int:
    """Build the tables :func:`harmwatch.data.relational.fetch_assembly` reads, from the state tables:
    the text-level facts from the state, the weak-label rules by the full plan's own SQL; the number of
    pending texts decided anew.

    With ``bounded`` (the previous run's decisions and cohorts are ``s_decisions`` and ``s_cohorts``,
    made under the same policy, seed and champion, and the fold just made ``judged_before`` and
    ``judged_after``), only the pending texts whose inputs may have changed are decided again
    (:func:`stale_keys`); the others keep their decision."""
    params = relational.parameters(policy, seed, eval_fraction)
    _text_facts(engine, policy, params, frozen, champion)
    redecided = _weak_label_decisions(engine, policy, params, bounded)
    _outputs(engine, params, frozen)
    return redecided


def _text_facts(
    engine: relational.DuckDB,
    policy: Policy,
    params: dict[str, Any],
    frozen: pd.DataFrame | None,
    champion: pd.DataFrame | None,
) -> None:
    """The text-level facts from the state: moderated texts, conflicts, pending votes, cohorts and
    reporter reliability."""
    engine.frame("champion_scores", relational.champion_table(champion, policy))
    if frozen is not None:
        engine.frame("eval_snapshot", frozen[["key"]].astype("string"))  # what the SQL reads of it
    engine.con.execute("CREATE OR REPLACE TEMP VIEW labels_in AS SELECT * FROM s_labels")
    engine.table("moderated", relational.render("state/moderated", params))
    for table in ("conflicted_keys", "conflict_review"):
        engine.table(table, relational.render(f"state/{table}", params))
    # Views, not copies, where the plan's SQL only reads a state table under its own name.
    engine.table("votes_all", relational.render("state/votes_pending", params))
    _view(engine, "votes", "SELECT * FROM votes_all")
    _view(engine, "pending_reports", "SELECT key FROM votes_all")
    _view(engine, "record", "SELECT * FROM s_record")
    _view(engine, "reports", "SELECT reporter_id, key FROM s_votes")  # whether any vote links anyone
    relational.cohort_members(engine, policy, params, "state/cohort_pairs")
    if policy.before_report:
        _judged(engine, "judged", "SELECT * FROM s_labels", "SELECT * FROM s_votes", params)
    engine.table("reliability", relational.render("reliability", params))


def _weak_label_decisions(
    engine: relational.DuckDB, policy: Policy, params: dict[str, Any], bounded: bool
) -> int:
    """The weak-label rules by the full plan's own SQL (only the stale texts when ``bounded``, the others
    keeping the previous run's decision); the number of texts decided anew."""
    if bounded:
        stale_keys(engine)
        engine.table("votes_stale", "SELECT * FROM votes_all WHERE key IN (SELECT key FROM stale_keys)")
        _view(engine, "votes", "SELECT * FROM votes_stale")
    engine.table(
        "vote_record",
        relational.render("vote_record_before" if policy.before_report else "vote_record_now", params),
    )
    for table in ("rated_votes", "tally", "ranked_reasons", "weak_label_decisions"):
        engine.table(table, relational.render(table, params))
    redecided = engine.count("weak_label_decisions")
    if bounded:
        engine.con.execute(
            """INSERT INTO weak_label_decisions BY NAME SELECT * FROM s_decisions
            WHERE key IN (SELECT key FROM votes_all) AND key NOT IN (SELECT key FROM stale_keys)"""
        )
        _view(engine, "votes", "SELECT * FROM votes_all")
    # What only the decisions read is dropped: its memory serves the outputs instead of new pages (at 90
    # days of history the process touched some 800 MiB, and each new page costs the kernel a fault).
    for table in ("votes_stale", "vote_record", "rated_votes", "tally", "ranked_reasons", "s_decisions"):
        engine.con.execute(f'DROP TABLE IF EXISTS "{table}"')
    return redecided


def _view(engine: relational.DuckDB, name: str, select: str) -> None:
    engine.con.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS {select}')


def _outputs(engine: relational.DuckDB, params: dict[str, Any], frozen: pd.DataFrame | None) -> None:
    """What :func:`harmwatch.data.relational.fetch_assembly` reads: accepted weak labels, the review
    queue's report rows, the evaluation split (unless frozen), the training rows and their files."""
    engine.table("weak_label_texts", relational.render("state/weak_label_texts", params))
    for table in ("accepted", "report_review"):
        engine.table(table, relational.render(table, params))
    engine.table("newest_report", relational.render("state/newest_report", params))
    if frozen is None:
        engine.table("eval_snapshot", relational.render("eval_split", params))
    engine.table("train", relational.render("train", params))
    engine.table("train_files", relational.render("state/train_files", params))
    if frozen is None:
        engine.table("eval_files", relational.render("state/eval_files", params))


def stale_keys(engine: relational.DuckDB) -> None:
    """``stale_keys``: the pending texts whose decision may differ from the previous run's.

    A decision reads only its text's votes (changed only on a text the day touched), each voter's record
    (changed only by a judgement of a touched text: the rows where ``judged_before`` and ``judged_after``
    differ, label times included for ``before_report``), each voter's cohort (which the day's pairs can
    move for anyone: the reporters whose cohort differs from ``s_cohorts``), the champion's score of its
    text and the policy (both the same as the previous run's, or the run decides every text)."""
    engine.table(
        "stale_reporters",
        """SELECT reporter_id FROM (SELECT * FROM judged_before EXCEPT SELECT * FROM judged_after)
        UNION SELECT reporter_id FROM (SELECT * FROM judged_after EXCEPT SELECT * FROM judged_before)
        UNION SELECT coalesce(n.reporter_id, o.reporter_id)
              FROM cohort_members AS n FULL JOIN s_cohorts AS o ON o.reporter_id = n.reporter_id
              WHERE n.cohort IS DISTINCT FROM o.cohort""",
    )
    engine.table(
        "stale_keys",
        """SELECT key FROM touched_keys
        UNION SELECT key FROM votes_all WHERE reporter_id IN (SELECT reporter_id FROM stale_reporters)""",
    )


def load_results(engine: relational.DuckDB, store: Any, manifest: dict) -> None:
    """The previous run's decisions and cohorts (``s_decisions``, ``s_cohorts``) from ``manifest``."""
    for name, table in (("decisions", "s_decisions"), ("cohorts", "_s_cohorts")):
        key = f"{manifest['parts'][name][-1]}/{name}.parquet"
        path = store.local_path(key)
        if path is not None:
            source = f"read_parquet({relational.literal(str(path))}, hive_partitioning = false)"
            engine.table(table, f"SELECT * FROM {source}")
        else:
            engine.frame(table, store.read_parquet(key))
    engine.table(
        "s_cohorts",
        "SELECT CAST(reporter_id AS VARCHAR) AS reporter_id, CAST(cohort AS VARCHAR) AS cohort "
        "FROM _s_cohorts",
    )


def held_rows(engine: relational.DuckDB, start: str, renew: bool) -> None:
    """``recent_rows`` as :func:`harmwatch.data.relational.recent_rows` makes it from the whole lake, here
    from the state: the rows of the batches from ``start`` on (``new_window``, read order ``_row``), and
    for the texts also labelled earlier one row dated at their first batch (with ``renew``: for every
    text, which renewing the anchor dates texts by)."""
    older = "" if renew else "AND key IN (SELECT key FROM new_window)"
    before = relational.literal(start)
    engine.table(
        "recent_rows",
        f"""SELECT key, batch_dt, post_id, source_file, {{'f': _file, 'r': _rn}} AS _row FROM new_window
        UNION ALL
        SELECT key, first_batch, NULL, NULL, {{'f': '', 'r': 0}} FROM s_labels
        WHERE first_batch < {before} {older}
        UNION ALL
        SELECT * FROM (SELECT key, first_batch, NULL, NULL, {{'f': '', 'r': 0}} FROM s_labels
                       WHERE first_batch < {before} LIMIT 1)""",
    )


# -- the lake --------------------------------------------------------------------------------------------


def incremental_arguments(parser: argparse.ArgumentParser) -> None:
    """build-dataset's ``--incremental`` and ``--rebuild``."""
    parser.add_argument(
        "--incremental",
        action="store_true",
        help="fold only the validated runs not folded yet into the lake's state tables, then decide "
        "from them (duckdb; docs/weak-labels.md)",
    )
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="rebuild the state tables from every validated run of the lake (implies --incremental)",
    )


def _digest(manifest: dict) -> str:
    return hashlib.sha256(json.dumps(manifest.get("files", []), sort_keys=True).encode()).hexdigest()[:16]


def state_version(folded: dict[str, str], reviewed: list[str], policy: Policy, seed: int, extra: dict) -> str:
    """The id of a state: what was folded, the review loop's files, and what the decisions depend on."""
    ident = {
        "format": STATE_FORMAT,
        "folded": folded,
        "reviewed": reviewed,
        "policy": asdict(policy),
        "seed": seed,
        **extra,
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:16]


def previous_state(store: Any, runs: dict[str, str], reviewed: set[str]) -> tuple[dict | None, str]:
    """The committed state to fold onto, or None and why it cannot serve (then the run rebuilds)."""
    if not store.exists(catalog.STATE_LATEST):
        return None, "no state yet"
    version = store.read_json(catalog.STATE_LATEST)["version"]
    manifest = store.manifest(state_prefix(version))
    if manifest is None:
        return None, f"state {version} has no manifest"
    if manifest.get("format") != STATE_FORMAT:
        return (
            None,
            f"state {version} is of format {manifest.get('format')}, this build writes {STATE_FORMAT}",
        )
    changed = sorted(p for p, d in manifest["folded"].items() if runs.get(p) != d)
    if changed:
        return None, f"folded run {changed[0]} changed or vanished"
    if not set(manifest["reviewed"]) <= reviewed:
        return None, "a landing file the review loop vouched for no longer is"
    return manifest, ""


def vouched_late(engine: relational.DuckDB, newly_reviewed: set[str]) -> bool:
    """Whether a landing file the review loop vouches for only now was folded as an ordinary one."""
    if not newly_reviewed:
        return False
    files = "[" + ", ".join(relational.literal(f) for f in sorted(newly_reviewed)) + "]::VARCHAR[]"
    engine.table("_late", f"SELECT key FROM s_labels WHERE list_has_any(files, {files}) LIMIT 1")
    return engine.count("_late") > 0


def _write(engine: relational.DuckDB, store: Any, key: str, select: str, order: str) -> None:
    path = store.local_path(key)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        target = relational.literal(str(path))
        engine.con.execute(f"COPY ({select} ORDER BY {order}) TO {target} (FORMAT parquet)")
    else:
        engine.table("_part", select)
        store.write_parquet(key, engine.fetch("_part", order.split(", ")))


def _write_state(
    engine: relational.DuckDB, store: Any, prefix: str, previous: dict | None
) -> dict[str, list[str]]:
    """Write this run's part of each table under ``prefix``; the parts each table is made of now.

    A keyed table gets a part with the rows of the texts this run changed, on top of the previous parts,
    so a day writes what it changed, not the history; every ``MAX_PARTS`` parts (and on a rebuild) it is
    written whole again. ``record`` is small and written whole; ``decisions`` is this run's output."""
    parts: dict[str, list[str]] = {}
    for name in COMMITTED:
        table = f"s_{name}" if name in STATE_TABLES else RESULTS[name]
        before = [] if previous is None else previous["parts"].get(name, [])
        changed = CHANGED.get(name)
        if changed and 0 < len(before) < MAX_PARTS:
            select = f"SELECT * FROM {table} WHERE {_changed(name, table, changed)}"
            parts[name] = [*before, prefix]
        else:
            select, parts[name] = f"SELECT * FROM {table}", [prefix]
        _write(engine, store, f"{prefix}/{name}.parquet", select, ORDER.get(name, "key"))
    return parts


def open_state(
    engine: relational.DuckDB, store: Any, runs: dict[str, str], reviewed: set[str], rebuild: bool
) -> tuple[dict | None, str]:
    """Load the state to fold onto into ``engine`` (its manifest), or an empty one (None) and why."""
    previous, why = (None, "--rebuild") if rebuild else previous_state(store, runs, reviewed)
    if previous is not None:
        load_state(engine, store, previous)
        if vouched_late(engine, reviewed - set(previous["reviewed"])):
            previous, why = None, "a folded landing file became a review file"
    if previous is None:
        log.info("build-dataset: building the state from the whole lake (%s)", why)
        empty_state(engine)
    return previous, why


def commit_state(
    engine: relational.DuckDB,
    store: Any,
    version: str,
    folded: dict[str, str],
    reviewed: set[str],
    policy: Policy,
    date: str,
    previous: dict | None,
    basis: dict[str, Any],
) -> None:
    """Write and commit state ``version`` unless it is committed already (a rerun of the same inputs);
    ``previous``: the manifest of the state it was folded onto (None: built from nothing); ``basis``: what
    its decisions were made under (:func:`decision_basis`)."""
    prefix = state_prefix(version)
    if store.manifest(prefix) is not None:
        return
    parts = _write_state(engine, store, prefix, previous)
    rows = {n: engine.count(f"s_{n}") for n in STATE_TABLES}
    meta = {"version": version, "format": STATE_FORMAT, "folded": folded, "reviewed": sorted(reviewed)}
    store.commit(
        prefix,
        [f"{n}.parquet" for n in COMMITTED],
        {**meta, "parts": parts, "rows": rows, "policy": asdict(policy), "date": date, "basis": basis},
    )


def decision_basis(policy: Policy, seed: int, champion_version: str | None) -> dict[str, Any]:
    """What a state's decisions were made under: a run under the same basis re-decides only the texts
    whose inputs changed (:func:`stale_keys`), any other run every pending text."""
    return {"policy": asdict(policy), "seed": seed, "champion": champion_version}


def window_slice(
    engine: relational.DuckDB,
    store: Any,
    labelled: list[dict],
    folded_now: list[dict],
    reviewed: set[str],
    date: str,
    args: argparse.Namespace,
) -> relational.RecentSlice:
    """The recent slice ending at ``date`` (:func:`harmwatch.data.relational.recent_slice`) on
    :func:`held_rows`: the window's rows come from the runs just folded, or are read again when an older
    run holds a batch of the window."""
    start = window_start(date, args.recent_days)
    window = [m for m in labelled if not m.get("batch_dts") or max(m["batch_dts"]) >= start]
    if not {m["prefix"] for m in window} <= {m["prefix"] for m in folded_now}:
        delta_from_lake(engine, store, window, [], reviewed)
    engine.table("new_window", f"SELECT * FROM new_labelled WHERE batch_dt >= {relational.literal(start)}")
    held_rows(engine, start, bool(args.renew_anchor))
    relational.reviewed_table(engine, reviewed)
    return relational.recent_slice(engine, date, args.recent_days)


def _fold_new_runs(
    engine: relational.DuckDB,
    store: Any,
    manifests: dict[str, list[dict]],
    reviewed: set[str],
    policy: Policy,
    settings: Settings,
    args: argparse.Namespace,
) -> tuple[dict | None, str, dict[str, str], dict[str, list[dict]]]:
    """Open the state (or start afresh, saying why) and fold into it the validated runs it has not seen:
    the previous state's manifest, why it was (not) used, every run folded so far, the runs new today."""
    runs = {m["prefix"]: _digest(m) for ms in manifests.values() for m in ms}
    previous, why = open_state(engine, store, runs, reviewed, getattr(args, "rebuild", False))
    folded: dict[str, str] = {} if previous is None else dict(previous["folded"])
    new = {kind: [m for m in ms if m["prefix"] not in folded] for kind, ms in manifests.items()}
    delta_from_lake(engine, store, new["labelled"], new["reports"], reviewed)
    fold(engine, relational.parameters(policy, settings.seed, args.eval_fraction))
    folded.update({m["prefix"]: runs[m["prefix"]] for ms in new.values() for m in ms})
    return previous, why, folded, new


def _newest_day(engine: Any, store: Any, asked: str | None) -> str:
    """The day the run is for: ``asked``, else the newest labelled batch day in the folded state; with
    nothing folded there is no dataset to build either way."""
    if not engine.count("s_labels"):
        raise DataError(
            f"no validated labelled data under {store.url(catalog.validated_runs('labelled'))}; "
            "run ingest and validate first"
        )
    engine.table("newest_day", "SELECT max(last_batch) AS batch_dt FROM s_labels")
    return asked or str(engine.fetch("newest_day")["batch_dt"].iloc[0])


def _decide_pending(
    engine: Any,
    store: Any,
    settings: Settings,
    args: argparse.Namespace,
    policy: Policy,
    previous: dict | None,
    frozen: Any,
) -> tuple[str | None, Any, int]:
    """The champion version whose scores the decisions read (when asked), the decision basis, and how
    many pending texts were decided: only those whose inputs changed when the previous state was decided
    on the same basis, every one otherwise."""
    scores, champion_version = (None, None)
    if args.champion_check and policy.champion_floor > 0:
        scores, champion_version = champion_scores(settings, pending_texts(engine))
    basis = decision_basis(policy, settings.seed, champion_version)
    bounded = previous is not None and previous.get("basis") == basis
    if bounded:
        load_results(engine, store, previous)
    anchor_rows = None if frozen is None else frozen[0]
    redecided = decide(engine, policy, settings.seed, args.eval_fraction, anchor_rows, scores, bounded)
    return champion_version, basis, redecided


def _staged_train(args: argparse.Namespace, engine: Any) -> relational.EngineTrain | None:
    """The training snapshot kept in the engine (held out, hashed and written there) unless the anchor is
    renewed, which works on it in this process."""
    return None if args.renew_anchor else relational.EngineTrain(engine)


def run(
    settings: Settings,
    args: argparse.Namespace,
    store: Any,
    policy: Policy,
    manifests: dict[str, list[dict]] | None = None,
) -> dict[str, Any]:
    """build-dataset on the state tables: fold the runs not folded yet (all of them with ``--rebuild`` or
    when the state cannot serve), decide, commit the state, then write what the full plan writes.
    ``manifests``: the validated runs per kind, when the caller listed them already."""
    if manifests is None:
        manifests = {kind: store.committed(catalog.validated_runs(kind)) for kind in catalog.KINDS}
    origin = provenance(store)
    reviewed = set(origin["reviewed"])
    engine = relational.DuckDB(
        store, threads=settings.duckdb_incremental_threads, memory_limit=settings.duckdb_memory_limit
    )
    previous, why, folded, new = _fold_new_runs(engine, store, manifests, reviewed, policy, settings, args)
    date = _newest_day(engine, store, args.date)
    frozen = frozen_eval(store, None if args.renew_anchor else ["key"])  # the rest is renewal's
    champion_version, basis, redecided = _decide_pending(
        engine, store, settings, args, policy, previous, frozen
    )
    anchor = None if frozen is None else (frozen[0], frozen[1]["version"])
    recent = window_slice(engine, store, manifests["labelled"], new["labelled"], reviewed, date, args)
    labelled = relational.recent_row_frame(engine) if args.renew_anchor else None
    staged = _staged_train(args, engine)
    assembly = relational.fetch_assembly(engine, policy, anchor, staged)
    inputs = {"eval": None if anchor is None else anchor[1], "champion": champion_version}
    version = state_version(
        folded, sorted(reviewed), policy, settings.seed, {**inputs, "eval_fraction": args.eval_fraction}
    )
    commit_state(engine, store, version, folded, reviewed, policy, date, previous, basis)
    order = [m["prefix"] for m in manifests["labelled"] + manifests["reports"]]
    summary = finish(
        store,
        settings,
        args,
        policy,
        recent,
        assembly,
        frozen,
        date,
        order,
        champion_version,
        "duckdb",
        origin,
        staged,
        labelled,
    )
    store.write_json(catalog.STATE_LATEST, {"version": version, "date": date})
    new_runs = sum(len(v) for v in new.values())
    return {
        **summary,
        "state_version": version,
        "state_rebuilt": previous is None,
        "state_note": why,
        "runs_folded": new_runs,
        "texts_decided": redecided,
    }

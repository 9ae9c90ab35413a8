"""Build the training snapshot, the frozen evaluation snapshot and the moderators' review queue.

Reads every committed validated run; the SQL plan (:mod:`harmwatch.data.relational`) decides what goes where
(moderator labels first, weak labels from reports under :class:`harmwatch.data.weak_labels.Policy`, the
rest to review). With ``--champion-check`` the champion scores the posts known only from reports first, so
that a weak label the champion strongly disagrees with waits for a moderator (no champion: no check).
Writes, each committed by its manifest: the reporter-reliability table (pseudonymised ids only, so a
moderator can see who is trusted and why), the training snapshot, the review queue, the evaluation
snapshot on the first run, and last the ``LATEST`` pointer train reads. Versions are content
hashes, so a rerun on the same lake rewrites nothing new.

Beside the frozen anchor it holds out the *recent slice* (:mod:`harmwatch.data.holdout`): the newest
moderator-labelled posts (``--recent-days`` batches ending at ``--date``), which evaluate compares both
models on too. ``--renew-anchor --reason TEXT`` replaces the anchor explicitly (a new generation, with who
and why in its manifest); nothing else ever changes it. The summary says how many training rows are new
since the previous snapshot (``new_rows``).

Each decision is defined once, as the SQL of ``data/sql/`` (:mod:`harmwatch.data.relational`): in this
process DuckDB runs it (``--engine duckdb``, the default below the Spark threshold; ``pandas`` is another
name for it), and ``--engine spark`` runs the same SQL on Spark SQL (:mod:`harmwatch.spark.relational`).
Both finish with the same code (:func:`finish`).
"""

from __future__ import annotations

import argparse
from typing import Any

from harmwatch.config import Settings
from harmwatch.data import catalog, relational, sql_build
from harmwatch.data.defences import DEFENCE_NAMES
from harmwatch.data.incremental import incremental_arguments
from harmwatch.data.keys import require_key
from harmwatch.data.weak_labels import Policy
from harmwatch.errors import HarmwatchError
from harmwatch.spark.engine import add_engine_argument, choose, manifest_bytes
from harmwatch.storage import open_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", help="logical date YYYY-MM-DD (default: newest batch_dt in the lake)")
    parser.add_argument(
        "--recent-days",
        type=int,
        default=1,
        help="batches ending at --date whose new moderator-labelled posts are held out of training as "
        "the recent evaluation slice (default 1; 0: none)",
    )
    parser.add_argument(
        "--renew-anchor",
        action="store_true",
        help="replace the frozen evaluation anchor: keep --keep-share of it and add the recent slice",
    )
    parser.add_argument("--reason", help="why the anchor is renewed (required with --renew-anchor)")
    parser.add_argument(
        "--keep-share",
        type=float,
        default=0.5,
        help="share of the old anchor the renewed one keeps, stratified per label (default 0.5)",
    )
    parser.add_argument(
        "--eval-fraction",
        type=float,
        default=0.15,
        help="share of moderator-labelled texts frozen for evaluation on the first run (default 0.15)",
    )
    parser.add_argument(
        "--min-reporters",
        type=int,
        default=Policy.min_reporters,
        help="distinct reporters that must agree for a weak label (default %(default)s)",
    )
    parser.add_argument(
        "--min-reliability",
        type=float,
        default=Policy.min_reliability,
        help="mean reliability those reporters must reach (default %(default)s)",
    )
    parser.add_argument(
        "--spot-check-rate",
        type=float,
        default=Policy.spot_check_rate,
        help="share of accepted weak labels sent to moderators at random (default %(default)s)",
    )
    parser.add_argument(
        "--champion-check",
        action="store_true",
        help="score report-only posts with the champion; a weak label it strongly disagrees with waits",
    )
    parser.add_argument(
        "--defences-off",
        nargs="+",
        default=[],
        choices=DEFENCE_NAMES,
        metavar="DEFENCE",
        help=f"switch weak-label defences off, to measure them ({', '.join(DEFENCE_NAMES)})",
    )
    incremental_arguments(parser)
    add_engine_argument(parser)


def policy_of(args: argparse.Namespace) -> Policy:
    if not 0 <= args.spot_check_rate < 1:
        raise HarmwatchError(f"--spot-check-rate {args.spot_check_rate} must be in [0, 1)")
    return Policy(
        min_reporters=args.min_reporters,
        min_reliability=args.min_reliability,
        spot_check_rate=args.spot_check_rate,
    ).without(*args.defences_off)


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    store = open_store(settings.lake_uri, settings)
    require_key(store, settings.pseudonym_key_id)  # reliability joins pseudonyms of one key only
    policy = policy_of(args)
    runs = {kind: store.committed(catalog.validated_runs(kind)) for kind in catalog.KINDS}
    validated = [m for kind in catalog.KINDS for m in runs[kind]]
    engine = choose(settings, getattr(args, "engine", None), manifest_bytes(validated), local="duckdb")
    if getattr(args, "incremental", False) or getattr(args, "rebuild", False):
        from harmwatch.data import incremental

        return incremental.run(settings, args, store, policy, runs)
    if engine == "spark":
        from harmwatch.spark.relational import SparkSQL
        from harmwatch.spark.session import spark_session

        with spark_session(settings, "build-dataset") as spark:
            return sql_build.run(SparkSQL(spark, store), "spark", settings, args, store, policy)
    db = relational.DuckDB(store, threads=settings.duckdb_threads, memory_limit=settings.duckdb_memory_limit)
    return sql_build.run(db, "duckdb", settings, args, store, policy)

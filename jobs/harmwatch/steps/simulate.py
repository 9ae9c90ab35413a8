"""Simulate: turn the Kaggle cyberbullying CSV into a landing zone of daily batches.

Day 0 carries an initial bulk of moderator-labelled posts; each following day carries a batch of new
moderator labels and a batch of user reports from a simulated reporter population
(:mod:`harmwatch.data.simulation`), optionally with an adaptive adversary (``--adversary NAME
--adversary-strength X``, :mod:`harmwatch.data.adversaries`; ``brigade`` sets the brigade's share). Texts
pass through untouched, defects included. The same seed gives
the same landing zone byte for byte; a file that is already there with the same bytes is not rewritten
(a new mtime would make ingest take it twice).
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

from harmwatch.config import CLASSES, Settings
from harmwatch.data import catalog
from harmwatch.data.adversaries import ADVERSARIES, Adversary, validate
from harmwatch.data.simulation import Population, load_source, plan_landing, to_bytes
from harmwatch.errors import HarmwatchError
from harmwatch.storage import open_store

TRUTH = catalog.SIMULATION_TRUTH  # in the landing zone: how it was made (steps never read it)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", help="source CSV (default: settings.source_csv)")
    parser.add_argument("--landing", help="landing zone URI (default: settings.landing_uri)")
    parser.add_argument("--start", default="2026-01-01", help="date of the initial bulk (YYYY-MM-DD)")
    parser.add_argument("--days", type=int, default=7, help="number of daily batches after the bulk")
    parser.add_argument("--bulk-fraction", type=float, default=0.7, help="share of posts in the bulk")
    parser.add_argument("--brigade-share", type=float, default=0.10, help="brigade share of reports")
    parser.add_argument("--seed", type=int, help="random seed (default: settings.seed)")
    parser.add_argument(
        "--adversary",
        choices=["brigade", *ADVERSARIES],
        help="an adaptive adversary beside the population (brigade: the brigade itself, at the strength)",
    )
    parser.add_argument(
        "--adversary-strength", type=float, default=0.10, help="the adversary's share of all reports"
    )
    parser.add_argument(
        "--review-lag-days",
        type=int,
        default=0,
        help="days before moderators label a reported post (default 0: the same day)",
    )


def population(args: argparse.Namespace) -> Population:
    """The reporter population the options describe; an adversary other than the brigade replaces it."""
    lag = args.review_lag_days
    if lag < 0:
        raise HarmwatchError(f"--review-lag-days {lag} must be >= 0")
    if args.adversary is None:
        return Population(brigade_share=args.brigade_share, review_lag_days=lag)
    if args.adversary == "brigade":
        return Population(brigade_share=args.adversary_strength, review_lag_days=lag)
    adversary = Adversary(args.adversary, args.adversary_strength)
    try:
        validate(adversary)
    except ValueError as exc:
        raise HarmwatchError(f"--adversary: {exc}") from None
    return Population(brigade_share=0.0, review_lag_days=lag, adversary=adversary)


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    source_path = str(args.source or settings.source_csv)
    try:
        start = date.fromisoformat(args.start)
    except ValueError:
        raise HarmwatchError(f"--start {args.start!r} is not a YYYY-MM-DD date") from None
    if not 0 < args.bulk_fraction < 1 or args.days < 0 or not 0 <= args.brigade_share < 1:
        raise HarmwatchError("--bulk-fraction must be in (0,1), --days >= 0, --brigade-share in [0,1)")
    seed = settings.seed if args.seed is None else args.seed
    pop = population(args)
    source = load_source(source_path)
    unknown = sorted(set(source["label"]) - set(CLASSES))
    files = plan_landing(source, start, args.days, args.bulk_fraction, seed, pop)
    store = open_store(args.landing or settings.landing_uri, settings)
    for key, frame in files.items():
        data = to_bytes(key, frame)
        # Rewriting an identical file would give it a new identity (mtime) and ingest would take it twice.
        if not (store.exists(key) and store.read_bytes(key) == data):
            store.write_bytes(key, data)
    truth = {
        "seed": seed,
        "population": asdict(pop),
        "source": source_path,
        "source_sha256": hashlib.sha256(Path(source_path).read_bytes()).hexdigest(),
    }
    store.write_json(TRUTH, truth)
    return {
        "landing_uri": store.uri,
        "files": len(files),
        "labelled_rows": int(sum(len(f) for k, f in files.items() if k.startswith("labelled/"))),
        "report_rows": int(sum(len(f) for k, f in files.items() if k.startswith("reports/"))),
        "dates": sorted({k.split("/")[1][3:] for k in files}),
        "unknown_labels_in_source": unknown,
    }

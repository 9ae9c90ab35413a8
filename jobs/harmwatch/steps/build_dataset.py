"""Build the training snapshot, the frozen evaluation snapshot and the moderators' review queue.

Reads every committed validated run; :func:`harmwatch.data.dataset.assemble` decides what goes where
(moderator labels first, weak labels from reports under :class:`harmwatch.data.weak_labels.Policy`, the
rest to review). Writes, each committed by its manifest: the reporter-reliability table (pseudonymised ids
only, so a moderator can see who is trusted and why), the training snapshot, the review queue, the
evaluation snapshot on the first run, and last the ``LATEST`` pointer train reads. Versions are content
hashes, so a rerun on the same lake rewrites nothing new.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

import pandas as pd

from harmwatch.config import Settings
from harmwatch.data import catalog
from harmwatch.data.dataset import Assembly, assemble
from harmwatch.data.tables import read_committed
from harmwatch.data.weak_labels import Policy
from harmwatch.errors import DataError
from harmwatch.spark.engine import add_engine_argument, choose, manifest_bytes
from harmwatch.storage import Store, open_store


def frozen_eval(store: Store) -> tuple[pd.DataFrame, dict] | None:
    """The evaluation snapshot built by the first run, if any (earliest logical date wins)."""
    manifests = store.committed(catalog.EVAL_SNAPSHOTS)
    if not manifests:
        return None
    m = min(manifests, key=lambda m: (m.get("date", ""), m.get("version", "")))
    return store.read_parquet(f"{m['prefix']}/{catalog.EVAL_FILE}"), m


# Each table's order as written (pandas sorts train, eval and review by key; reporters come grouped).
ORDER = {
    catalog.TRAIN_FILE: ["key"],
    catalog.EVAL_FILE: ["key"],
    catalog.REVIEW_FILE: ["key"],
    catalog.RELIABILITY_FILE: ["reporter_id"],
}


def _write(store: Store, prefix: str, files: dict[str, Any], meta: dict[str, Any]) -> None:
    """Write each table (a pandas frame, or a Spark table as one file), then the manifest."""
    for name, frame in files.items():
        if name.endswith(".csv"):  # the CSV twin of the Parquet table written just before it
            table = (
                frame
                if isinstance(frame, pd.DataFrame)
                else store.read_parquet(f"{prefix}/{catalog.REVIEW_FILE}")
            )
            store.write_text(f"{prefix}/{name}", table.to_csv(index=False))
        elif isinstance(frame, pd.DataFrame):
            store.write_parquet(f"{prefix}/{name}", frame)
        else:
            from harmwatch.spark.lake import write_single

            write_single(frame, store, f"{prefix}/{name}", ORDER[name])
    store.commit(prefix, files.keys(), meta)


def facts(a: Any) -> dict[str, Any]:
    """Row counts the manifests and the summary report, from either engine's assembly."""
    if not isinstance(a, Assembly):
        return a.counts  # the Spark engine counted while it built the tables
    return {
        "train": len(a.train),
        "eval": len(a.eval),
        "review": len(a.review),
        "reporters": len(a.reliability),
        "trusted": int(a.reliability["trusted"].sum()),
        "train_label_counts": a.train["label"].value_counts().sort_index().to_dict(),
        "eval_label_counts": a.eval["label"].value_counts().sort_index().to_dict(),
    }


def write_assembly(
    store: Store, a: Any, date: str, policy: Policy, runs: list[str], eval_meta: dict[str, Any]
) -> None:
    """Reporters, training snapshot, review queue (and a new evaluation snapshot), then ``LATEST``.

    ``a`` is an :class:`~harmwatch.data.dataset.Assembly` or the Spark engine's twin of it."""
    n = facts(a)
    if a.eval_is_new:
        _write(store, catalog.eval_snapshot(a.eval_version), {catalog.EVAL_FILE: a.eval}, eval_meta)
    _write(
        store,
        catalog.reporter_table(a.reporters_version),
        {catalog.RELIABILITY_FILE: a.reliability},
        {
            "version": a.reporters_version,
            "date": date,
            "rows": n["reporters"],
            "policy": asdict(policy),
            "trusted": n["trusted"],
        },
    )
    _write(
        store,
        catalog.train_snapshot(a.train_version),
        {catalog.TRAIN_FILE: a.train},
        {
            "version": a.train_version,
            "date": date,
            "eval_version": a.eval_version,
            "rows": n["train"],
            "label_counts": n["train_label_counts"],
            "weak_labels_accepted": a.weak_labels,
            "landing_files": a.train_files,
            "policy": asdict(policy),
            "validated_runs": runs,
            "review_version": a.review_version,
            "reporters_version": a.reporters_version,
        },
    )
    _write(
        store,
        catalog.review_queue(a.review_version),
        {catalog.REVIEW_FILE: a.review, catalog.REVIEW_CSV: a.review},
        {"version": a.review_version, "date": date, "rows": n["review"]},
    )
    store.write_json(catalog.TRAIN_LATEST, {"version": a.train_version, "date": date})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", help="logical date YYYY-MM-DD (default: newest batch_dt in the lake)")
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
        help="distinct reporters that must agree for a weak label (default 3)",
    )
    parser.add_argument(
        "--min-reliability",
        type=float,
        default=Policy.min_reliability,
        help="mean reliability those reporters must reach (default 0.8)",
    )
    add_engine_argument(parser)


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    store = open_store(settings.lake_uri, settings)
    policy = Policy(min_reporters=args.min_reporters, min_reliability=args.min_reliability)
    validated = [m for kind in catalog.KINDS for m in store.committed(catalog.validated_runs(kind))]
    if choose(settings, getattr(args, "engine", None), manifest_bytes(validated)) == "spark":
        from harmwatch.spark.build import run_spark

        return run_spark(settings, args, store, policy)
    labelled, labelled_runs = read_committed(store, catalog.validated_runs("labelled"))
    if labelled.empty:
        raise DataError(
            f"no validated labelled data under {store.url(catalog.validated_runs('labelled'))}; "
            "run ingest and validate first"
        )
    reports, report_runs = read_committed(store, catalog.validated_runs("reports"))
    date = args.date or str(labelled["batch_dt"].max())
    frozen = frozen_eval(store)
    a = assemble(
        labelled,
        reports,
        None if frozen is None else (frozen[0], frozen[1]["version"]),
        policy,
        args.eval_fraction,
        settings.seed,
    )
    return finish(store, a, date, policy, labelled_runs + report_runs, frozen, args, settings, "pandas")


def finish(
    store: Store,
    a: Any,
    date: str,
    policy: Policy,
    runs: list[str],
    frozen: tuple[Any, dict] | None,
    args: argparse.Namespace,
    settings: Settings,
    engine: str,
) -> dict[str, Any]:
    """Write either engine's assembly (manifests, ``LATEST``) and return the step's summary."""
    n = facts(a)
    eval_meta = (
        frozen[1]
        if frozen is not None
        else {
            "version": a.eval_version,
            "date": date,
            "rows": n["eval"],
            "landing_files": a.eval_files,
            "label_counts": n["eval_label_counts"],
            "eval_fraction": args.eval_fraction,
            "seed": settings.seed,
        }
    )
    write_assembly(store, a, date, policy, runs, eval_meta)
    return {
        "train_version": a.train_version,
        "eval_version": a.eval_version,
        "review_version": a.review_version,
        "rows_train": n["train"],
        "rows_eval": n["eval"],
        "rows_review": n["review"],
        "weak_labels_accepted": a.weak_labels,
        "reporters_scored": n["reporters"],
        "reporters_version": a.reporters_version,
        "eval_reused": frozen is not None,
        "date": date,
        "landing_files": sorted(set(a.train_files) | set(eval_meta.get("landing_files", []))),
        "engine": engine,
    }

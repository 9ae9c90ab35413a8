"""Writing what build-dataset decided: the snapshots, the anchor, the recent slice, the review queue.

Shared by the pandas and Spark engines of build-dataset: each assembles, and this writes.
"""

from __future__ import annotations

import argparse
from collections.abc import Collection
from dataclasses import asdict
from typing import Any, Protocol

import pandas as pd

from harmwatch.config import Settings
from harmwatch.data import catalog
from harmwatch.data.authority import refusal_lines, reviewed_files
from harmwatch.data.dataset import RECENT_COLUMNS, Assembly, content_version
from harmwatch.data.exports import spreadsheet_csv_bytes
from harmwatch.data.holdout import renew_anchor
from harmwatch.data.relational import RecentSlice
from harmwatch.data.weak_labels import Policy
from harmwatch.errors import HarmwatchError
from harmwatch.storage import Store


class StagedTrain(Protocol):
    """A training snapshot the engine keeps, holds out from, hashes and writes itself (its rows never come
    to this process); ``Assembly.train`` then has no rows."""

    def without(self, keys: pd.Series) -> None: ...  # the held-out texts leave the snapshot
    def rows(self) -> int: ...
    def label_counts(self) -> dict[str, int]: ...
    def version(self) -> str: ...  # Assembly.train_version of the whole snapshot
    def new_rows(self, store: Store, key: str) -> int: ...  # texts not in the Parquet file ``key``
    def write(self, store: Store, key: str) -> None: ...  # the snapshot, sorted by key
    def review(self) -> StagedReview: ...  # the review queue, kept by the same engine


class StagedReview(Protocol):
    """A review queue the engine keeps, counts, hashes and writes itself (its rows never come to this
    process): the same files, rows and column types as :func:`write_files` makes of ``Assembly.review``."""

    def rows(self) -> int: ...
    def report_reasons(self) -> pd.DataFrame: ...  # review_reason and n: the queue's rows from reports
    def version(self) -> str: ...  # Assembly.review_version of the whole queue
    def write(self, store: Store, prefix: str) -> list[str]: ...  # the Parquet and the CSV; their names


def write_files(
    store: Store,
    prefix: str,
    files: dict[str, pd.DataFrame],
    meta: dict[str, Any],
    written: Collection[str] = (),
) -> None:
    """Write ``files`` under ``prefix`` and commit them with ``written`` (files an engine wrote there)."""
    for name, frame in files.items():
        if name.endswith(".csv"):
            store.write_bytes(f"{prefix}/{name}", spreadsheet_csv_bytes(frame))
        else:
            store.write_parquet(f"{prefix}/{name}", frame)
    store.commit(prefix, [*files, *written], meta)


def train_facts(assembly: Assembly, staged: StagedTrain | None) -> tuple[str, int, dict[str, int]]:
    """The training snapshot's content version, rows and rows per label (``staged``: the engine's)."""
    if staged:
        return staged.version(), staged.rows(), staged.label_counts()
    counts = assembly.train["label"].value_counts().sort_index().to_dict()
    return assembly.train_version, len(assembly.train), counts


def write_train(
    store: Store, prefix: str, train: pd.DataFrame, staged: StagedTrain | None, meta: dict[str, Any]
) -> None:
    """Commit the training snapshot under ``prefix``: ``train``, or the one the engine writes."""
    if staged:
        staged.write(store, f"{prefix}/{catalog.TRAIN_FILE}")
        write_files(store, prefix, {}, meta, [catalog.TRAIN_FILE])
    else:
        write_files(store, prefix, {catalog.TRAIN_FILE: train}, meta)


def write_reporters(store: Store, reliability: pd.DataFrame, version: str, date: str, policy: Policy) -> None:
    """Commit the reporter table (one row per pseudonymised reporter, with ``trusted``)."""
    meta = {"version": version, "date": date, "rows": len(reliability), "policy": asdict(policy)}
    meta["trusted"] = int(reliability["trusted"].sum())
    write_files(store, catalog.reporter_table(version), {catalog.RELIABILITY_FILE: reliability}, meta)


def write_assembly(
    store: Store,
    assembly: Assembly,
    date: str,
    policy: Policy,
    runs: list[str],
    eval_meta: dict[str, Any],
    train_meta: dict[str, Any] | None = None,
    staged: StagedTrain | None = None,
) -> dict[str, str]:
    """Reporters, training snapshot, review queue (and a new evaluation snapshot), then ``LATEST``; the
    three content versions (each table hashed once). ``staged``: the snapshot the engine writes."""
    train_version, train_rows, label_counts = train_facts(assembly, staged)  # hashed once
    review_version, reporters_version = assembly.review_version, assembly.reporters_version
    if assembly.eval_is_new:
        write_files(
            store, catalog.eval_snapshot(assembly.eval_version), {catalog.EVAL_FILE: assembly.eval}, eval_meta
        )
    write_reporters(store, assembly.reliability, reporters_version, date, policy)
    write_train(
        store,
        catalog.train_snapshot(train_version),
        assembly.train,
        staged,
        {
            "version": train_version,
            "date": date,
            "eval_version": assembly.eval_version,
            "rows": train_rows,
            "label_counts": label_counts,
            "weak_labels_accepted": assembly.weak_labels,
            "landing_files": assembly.train_files,
            "policy": asdict(policy),
            "validated_runs": runs,
            "review_version": review_version,
            "reporters_version": reporters_version,
            **(train_meta or {}),
        },
    )
    review_meta = {"version": review_version, "date": date, "rows": assembly.review_rows}
    prefix = catalog.review_queue(review_version)
    if assembly.staged_review is not None:
        write_files(store, prefix, {}, review_meta, assembly.staged_review.write(store, prefix))
    else:
        review = assembly.review
        write_files(store, prefix, {catalog.REVIEW_FILE: review, catalog.REVIEW_CSV: review}, review_meta)
    store.write_json(catalog.TRAIN_LATEST, {"version": train_version, "date": date})
    return {
        "train_version": train_version,
        "review_version": review_version,
        "reporters_version": reporters_version,
    }


def champion_scores(settings: Settings, texts: pd.DataFrame) -> tuple[pd.DataFrame | None, str | None]:
    """The champion's ``score_<class>`` of ``texts`` (``key``, ``text``); (None, None) without a champion."""
    from harmwatch import registry

    _client, version = registry.champion(settings)
    if version is None:
        return None, None
    if texts.empty:
        return pd.DataFrame(columns=["key"]), str(version.version)
    with registry.mlflow_calls(settings):
        model = registry.load_registered(registry.version_uri(settings.model_name, version.version))
    scored = model.predict(texts[["text"]].reset_index(drop=True))
    columns = [c for c in scored.columns if c.startswith("score_")]
    return scored[columns].assign(key=texts["key"].to_numpy()), str(version.version)


def provenance(store: Store) -> dict[str, Any]:
    """Where the lake's rows came from, from the ingest manifests: the landing zones ingest read
    (``landing_zones``), the landing files the review-pull ledger vouches for (``reviewed``: their labels
    settle conflicts and are not held out) and the review-named files it does not (``review_refused``)."""
    reviewed, refused = reviewed_files(store)
    zones = {
        m.get("landing_uri") or "unrecorded"
        for kind in catalog.KINDS
        for m in store.committed(catalog.ingest_runs(kind))
    }
    return {"reviewed": reviewed, "review_refused": refusal_lines(refused), "landing_zones": sorted(zones)}


def new_eval_meta(assembly: Assembly, date: str, args: argparse.Namespace, settings: Settings) -> dict:
    """The manifest of an evaluation snapshot drawn in this run (the first one)."""
    return {
        "version": assembly.eval_version,
        "date": date,
        "rows": len(assembly.eval),
        "landing_files": assembly.eval_files,
        "label_counts": assembly.eval["label"].value_counts().sort_index().to_dict(),
        "eval_fraction": args.eval_fraction,
        "seed": settings.seed,
    }


def finish(
    store: Store,
    settings: Settings,
    args: argparse.Namespace,
    policy: Policy,
    recent: RecentSlice,
    assembly: Assembly,
    frozen: tuple[pd.DataFrame, dict] | None,
    date: str,
    runs: list[str],
    champion_version: str | None,
    engine: str,
    origin: dict[str, Any] | None = None,
    staged: StagedTrain | None = None,
    labelled: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Hold out the recent slice, write everything and return the summary (every engine).

    ``recent``: the slice the engine found (:func:`harmwatch.data.relational.recent_slice`); ``origin``:
    :func:`provenance` when the caller has it; ``staged``: the training snapshot kept in the engine (then
    ``assembly.train`` has no rows); ``labelled``: with ``--renew-anchor``, the labelled rows the slice
    read (``key``, ``batch_dt``: :func:`harmwatch.data.relational.recent_row_frame`)."""
    eval_meta = frozen[1] if frozen is not None else new_eval_meta(assembly, date, args, settings)
    origin = origin or provenance(store)
    held = hold_out(store, settings, args, recent, assembly, frozen, date, staged, labelled)
    eval_meta = held.pop("eval_meta", eval_meta)
    lineage = {"landing_zones": origin["landing_zones"], "review_files_refused": origin["review_refused"]}
    versions = write_assembly(store, assembly, date, policy, runs, eval_meta, {**held, **lineage}, staged)
    return {
        **held,
        "anchor_generation": int(eval_meta.get("generation", 0)),
        "anchor_renewed": bool(args.renew_anchor),
        "train_version": versions["train_version"],
        "eval_version": assembly.eval_version,
        "review_version": versions["review_version"],
        "rows_train": staged.rows() if staged else len(assembly.train),
        "rows_eval": len(assembly.eval),
        "rows_review": assembly.review_rows,
        "weak_labels_accepted": assembly.weak_labels,
        "reporters_scored": len(assembly.reliability),
        "reporters_version": versions["reporters_version"],
        "review_from_reports": assembly.review_counts,
        "champion_checked": champion_version,
        "eval_reused": frozen is not None and not args.renew_anchor,
        "date": date,
        "landing_files": sorted(
            set(assembly.train_files) | set(eval_meta.get("landing_files", [])) | set(held["recent_files"])
        ),
        **lineage,
        "engine": engine,
    }


def new_rows(store: Store, train: pd.DataFrame, staged: StagedTrain | None = None) -> tuple[int, str | None]:
    """Training texts not in the previous snapshot (the one ``LATEST`` pointed to), and its version."""
    rows = staged.rows() if staged else len(train)
    if not store.exists(catalog.TRAIN_LATEST):
        return rows, None
    previous = store.read_json(catalog.TRAIN_LATEST)["version"]
    key = f"{catalog.train_snapshot(previous)}/{catalog.TRAIN_FILE}"
    if not store.exists(key):
        return rows, previous
    if staged:
        return staged.new_rows(store, key), previous
    old = store.read_parquet(key, columns=["key"])
    return int((~train["key"].isin(old["key"])).sum()), previous  # a hash table, not a Python set


def hold_out(
    store: Store,
    settings: Settings,
    args: argparse.Namespace,
    recent: RecentSlice,
    assembly: Assembly,
    frozen: tuple[pd.DataFrame, dict] | None,
    date: str,
    staged: StagedTrain | None = None,
    labelled: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Take the recent slice out of ``assembly.train`` (or the engine's ``staged`` snapshot) and write it;
    with ``--renew-anchor`` it becomes the new anchor's fresh part instead (``labelled``: see
    :func:`finish`). Updates ``assembly``; returns the facts for the training manifest (and, on a renewal,
    the new anchor's manifest under ``eval_meta``)."""
    if args.renew_anchor and (frozen is None or not (args.reason or "").strip()):
        raise HarmwatchError(
            "--renew-anchor needs --reason and an anchor to renew (the first run draws the anchor)"
        )
    if args.renew_anchor and (staged is not None or labelled is None):
        raise HarmwatchError("--renew-anchor needs the training snapshot and the labelled rows here")
    rows, note, files = recent.rows, recent.note, recent.files
    train = assembly.train[~assembly.train["key"].isin(rows["key"])]
    facts: dict[str, Any] = {}
    if args.renew_anchor:
        if rows.empty:
            raise HarmwatchError(f"--renew-anchor: {note}, so there are no unseen posts to renew it with")
        days = labelled.groupby("key")["batch_dt"].min()
        review_keys = set(assembly.review["key"])
        renewal = renew_anchor(
            train, rows, frozen, review_keys, args, settings.seed, date, settings.acting_user(), days
        )
        train, assembly.eval, assembly.eval_version, facts["eval_meta"] = renewal
        assembly.eval_is_new = True
        facts["eval_meta"]["landing_files"] = files
        rows, note, files = rows.iloc[0:0], "the held-out posts became the renewed anchor", []
    if staged is not None:
        staged.without(rows["key"])
    assembly.train = train.sort_values("key").reset_index(drop=True)
    facts["new_rows"], facts["previous_train_version"] = new_rows(store, assembly.train, staged)
    facts.update(recent_version=None, rows_recent=len(rows), recent_note=note, recent_files=[])
    if not rows.empty:
        facts.update(write_recent_slice(store, rows, files, date, args.recent_days))
    return facts


def write_recent_slice(
    store: Store, recent: pd.DataFrame, files: list[str], date: str, days: int
) -> dict[str, Any]:
    """Commit the recent slice under its content version; its version and landing files (``files``)."""
    version = content_version(recent, ["key", "label"])
    write_files(
        store,
        catalog.recent_slice(version),
        {catalog.RECENT_FILE: recent[RECENT_COLUMNS]},
        {
            "version": version,
            "date": date,
            "days": days,
            "rows": len(recent),
            "label_counts": recent["label"].value_counts().sort_index().to_dict(),
            "batch_dts": sorted(recent["batch_dt"].astype(str).unique().tolist()),
            "landing_files": files,
        },
    )
    return {"recent_version": version, "recent_files": files}

"""build-dataset on a SQL engine: read the validated runs into the engine, decide, finish.

The same run for DuckDB (in this process) and Spark SQL (:mod:`harmwatch.spark.relational`): the inputs
are the committed runs' Parquet files, read by the engine; the decisions, the evaluation split and the
recent slice are the plan of :mod:`harmwatch.data.relational`; anchor renewal, writes and summary are
:func:`harmwatch.data.snapshot_writer.finish`, shared with the incremental build. This process holds the
counts, the linked co-reporting pairs, the champion's scores (``--champion-check``, on DuckDB), the recent
slice and the smaller outputs (evaluation snapshot, reporters). The training snapshot, one row per
text, and the review queue stay in the engine: held out, hashed and written there (:func:`staged_train`;
the snapshot is fetched only with ``--renew-anchor``).
"""

from __future__ import annotations

import argparse
from typing import Any

import pandas as pd

from harmwatch.config import Settings
from harmwatch.data import catalog, relational
from harmwatch.data.dataset import window_start
from harmwatch.data.snapshot_writer import champion_scores, finish, provenance
from harmwatch.data.tables import frozen_eval
from harmwatch.data.weak_labels import Policy
from harmwatch.errors import DataError
from harmwatch.storage import Store


def run(
    engine: Any, name: str, settings: Settings, args: argparse.Namespace, store: Store, policy: Policy
) -> dict[str, Any]:
    """build-dataset's ``run`` with ``engine`` (:class:`harmwatch.data.relational.Engine` that reads
    Parquet); ``name`` is the engine the summary reports."""
    lab_runs = store.committed(catalog.validated_runs("labelled"))
    rep_runs = store.committed(catalog.validated_runs("reports"))
    relational.load_lake(engine, store, lab_runs, rep_runs)
    if not engine.count("labelled"):
        raise DataError(
            f"no validated labelled data under {store.url(catalog.validated_runs('labelled'))}; "
            "run ingest and validate first"
        )
    date = args.date or relational.newest_day(engine)
    frozen = frozen_eval(store)
    origin = provenance(store)
    scores, champion_version, in_engine = (None, None, False)
    if args.champion_check and policy.champion_floor > 0:
        scores, champion_version, in_engine = champion_check(engine, settings)
    relational.decide(
        engine,
        policy,
        settings.seed,
        args.eval_fraction,
        None if frozen is None else frozen[0],
        scores,
        origin["reviewed"],
        champion_scored=in_engine,
    )
    anchor = None if frozen is None else (frozen[0], frozen[1]["version"])
    # The training snapshot stays in the engine (held out, hashed and written there) unless the anchor is
    # renewed, which works on it and the labelled rows here. Either engine finds the recent slice on the
    # rows its window bounds and fetches only the slice.
    staged = None if args.renew_anchor else staged_train(engine)
    relational.recent_rows(engine, window_start(date, args.recent_days), args.renew_anchor)
    recent = relational.recent_slice(engine, date, args.recent_days)
    labelled = relational.recent_row_frame(engine) if args.renew_anchor else None
    assembly = relational.fetch_assembly(engine, policy, anchor, staged)
    runs = [m["prefix"] for m in lab_runs + rep_runs]
    return finish(
        store,
        settings,
        args,
        policy,
        recent,
        assembly,
        frozen,
        date,
        runs,
        champion_version,
        name,
        origin,
        staged,
        labelled,
    )


def champion_check(engine: Any, settings: Settings) -> tuple[pd.DataFrame | None, str | None, bool]:
    """The champion's scores of the pending texts: (scores, champion version, whether they are the
    engine's table ``champion_scores``). DuckDB's are scored in this process; Spark scores them on its
    executors (:meth:`harmwatch.spark.relational.SparkSQL.score_champion`), so no text comes here."""
    if isinstance(engine, relational.DuckDB):
        return (*champion_scores(settings, relational.pending_texts(engine)), False)
    from harmwatch import registry

    _client, version = registry.champion(settings)
    if version is None:
        return None, None, False
    relational.pending_table(engine)
    with registry.mlflow_calls(settings):
        engine.score_champion(registry.version_uri(settings.model_name, version.version))
    return None, str(version.version), True


def staged_train(engine: Any) -> Any:
    """The engine's own keeper of the training snapshot: :class:`harmwatch.data.relational.EngineTrain`
    on DuckDB, :class:`harmwatch.spark.relational.SparkTrain` on Spark."""
    if isinstance(engine, relational.DuckDB):
        return relational.EngineTrain(engine)
    from harmwatch.spark.relational import SparkTrain

    return SparkTrain(engine)

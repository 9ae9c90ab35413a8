"""Section ``review``: what the moderation loop buys, ordered queue against first-in-first-out.

A full simulated landing zone (bulk + 7 days) is ingested, validated and built; a first champion is
trained, evaluated and promoted. Then, for each order (``value``: expected value, ``fifo``: first seen
first) on its own copy of that state and its own Label Studio project, simulated days run the real loop:
``review-push`` (the champion's scores order the queue), the simulated moderators answer K tasks in
Label Studio (``devstack/moderators.py``: 5 % errors, 1 % skips, 10 % of tasks labelled twice),
``review-pull``, then ``ingest``, ``validate`` and ``build-dataset`` as the retrain DAG runs them. After
each day the classifier is fitted on the new training snapshot (in-process, the whole snapshot: no
sampling) with three seeds and scored on the frozen evaluation snapshot; a point is the median over
the seeds (one retrain's luck moves macro-F1 by about as much as a day of labels). The champion that
orders the queue stays the first one (in production the retrain DAG would promote newer ones).

Result: macro-F1 and the F1 of the two weakest classes against moderator labels added, per order, with
the gain per 100 labels, and a plot (``review.png`` beside the results).
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.core import Options, free_port, run_step, step_env

SIM_DAYS = 7
LAST_SIM_DAY = "2026-01-08"
PER_DAY, REVIEW_DAYS = 150, 5
QUICK_PER_DAY, QUICK_DAYS = 30, 2
SEEDS, QUICK_SEEDS = (42, 43, 44), (42,)
WEAK = ("not_cyberbullying", "other_cyberbullying")


def _score(home: Path, seeds: tuple[int, ...]) -> dict[str, Any]:
    """Fit on the newest training snapshot once per seed, score the frozen evaluation snapshot: the
    median F1 figures over the seeds, and the spread of macro-F1 (what one retrain's luck is worth)."""
    import statistics

    from sklearn.metrics import f1_score

    from harmwatch.config import load_settings
    from harmwatch.data import catalog
    from harmwatch.data.tables import frozen_eval
    from harmwatch.model.fitting import fit_model
    from harmwatch.storage import open_store

    lake = open_store(load_settings(home=home).lake_uri)
    latest = lake.read_json(catalog.TRAIN_LATEST)
    train = lake.read_parquet(f"{catalog.train_snapshot(latest['version'])}/{catalog.TRAIN_FILE}")
    ev = frozen_eval(lake)[0]
    runs = []
    for seed in seeds:
        model, _features = fit_model(train, seed, n_jobs=1)
        pred = model.predict(ev[["text"]])["label"].to_numpy()
        per_class = f1_score(ev["label"], pred, labels=list(WEAK), average=None)
        macro = f1_score(ev["label"], pred, average="macro")
        runs.append({"macro_f1": macro, **dict(zip(WEAK, per_class, strict=True))})
    macro = [r["macro_f1"] for r in runs]
    return {
        "macro_f1": round(statistics.median(macro), 4),
        **{f"f1_{c}": round(statistics.median(r[c] for r in runs), 4) for c in WEAK},
        "macro_f1_seeds": [round(float(m), 4) for m in macro],
        "train_rows": len(train),
    }


def _loop(
    base: Path, order: str, server: Any, opts: Options, per_day: int, days: int, seeds: tuple[int, ...]
) -> list[dict]:
    from devstack.moderators import Habits, work_day
    from harmwatch.data.simulation import ground_truth, load_source
    from harmwatch.review.moderators import truth_by_text

    home = Path(tempfile.mkdtemp(prefix=f"hw-bench-review-{order}-"))
    shutil.copytree(base, home, dirs_exist_ok=True)
    project = f"harmwatch review bench {order}"
    env = step_env(home, opts.source)
    env.update(
        HARMWATCH_LABEL_STUDIO_URL=server.url,
        HARMWATCH_LABEL_STUDIO_TOKEN=server.admin.token,
        HARMWATCH_LABEL_STUDIO_PROJECT=project,
    )
    truth = truth_by_text(ground_truth(load_source(str(opts.source)), 42), 42)
    curve = [{"day": 0, "labels_added": 0, **_score(home, seeds)}]
    added = 0
    try:
        for d in range(1, days + 1):
            day = (date.fromisoformat(LAST_SIM_DAY) + timedelta(days=d)).isoformat()
            push = run_step(
                "review-push", [f"--date={day}", f"--max-open={2 * per_day}", f"--order={order}"], env
            )
            work = work_day(server.url, project, server.moderators, truth, Habits(per_day=per_day), day)
            pull = run_step("review-pull", [f"--date={day}"], env)
            for step in ("ingest", "validate", "build-dataset"):
                run_step(step, [f"--date={day}"], env)
            added += pull["summary"]["labelled_new"]
            point = {"day": d, "labels_added": added, **_score(home, seeds), "work": work}
            point["pushed"], point["status"] = push["summary"]["pushed"], pull["summary"]["status_counts"]
            print(f"bench review {order} day {d}: {point}", flush=True)
            curve.append(point)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return curve


def run(opts: Options) -> dict[str, Any]:
    from bench.report import plot_review
    from devstack import labelstudio

    quick = opts.repeats == 1 and opts.requests <= 200
    per_day, days, seeds = (
        (QUICK_PER_DAY, QUICK_DAYS, QUICK_SEEDS) if quick else (PER_DAY, REVIEW_DAYS, SEEDS)
    )
    base = Path(tempfile.mkdtemp(prefix="hw-bench-review-"))
    env = step_env(base, opts.source)
    server = None
    try:
        run_step("simulate", ["--start", "2026-01-01", "--days", str(SIM_DAYS)], env)
        for step in ("ingest", "validate", "build-dataset"):
            run_step(step, [f"--date={LAST_SIM_DAY}"], env)
        built = run_step("train", [], env)["summary"]
        run_step("evaluate", [], env)
        run_step("promote", [f"--date={LAST_SIM_DAY}"], env)
        server = labelstudio.start(base / "labelstudio-home", free_port(), moderators=3)
        curves = {
            order: _loop(base, order, server, opts, per_day, days, seeds) for order in ("value", "fifo")
        }
    finally:
        if server is not None:
            labelstudio.stop(base / "labelstudio-home")
        shutil.rmtree(base, ignore_errors=True)
    gains = {}
    for order, curve in curves.items():
        first, last = curve[0], curve[-1]
        per100 = (last["macro_f1"] - first["macro_f1"]) / max(last["labels_added"], 1) * 100
        gains[order] = round(per100, 5)
    plot = opts.results / "review.png"
    plot_review(curves, plot)
    return {
        "per_day": per_day,
        "seeds": list(seeds),
        "days": days,
        "first_champion": built.get("model_version"),
        "curves": curves,
        "macro_f1_gain_per_100_labels": gains,
        "plot": str(plot.name),
    }

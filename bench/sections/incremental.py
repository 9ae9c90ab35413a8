"""Section ``incremental``: what one more day costs ``build-dataset --incremental`` after 7, 30 and 90 days
of history, against the full plan reading the whole history that day.

A synthetic history is written straight into a lake as validated runs, one labelled and one report run
per day (ingest and validate cost per day, whatever the history): each day ``posts`` new posts (texts of
the source dataset, made unique per day), a share of them labelled by moderators that day, a share of
the previous days' reported posts labelled two days late (a review backlog: a day touches older texts
too), and reports by a fixed population of reporters, most on the day's posts, some on the last week's.
For each history the state is built once (``--rebuild``, not measured), then the next day lands and is
measured: ``--incremental`` (folds one day into the state) and the full SQL plan on the same lake, each
``--repeats`` times on a fresh copy of that day's lake, reported as the run of median CPU-s (the machine
is shared). CPU-s and peak RSS are of the ``harmwatch build-dataset`` process (bench.core.run_step).
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.core import Options, load1, run_step, step_env

HISTORIES = (7, 30, 90)
POSTS = 2_000  # new posts a day
REPORTERS = 3_000
LABELLED_SHARE = 0.3  # of the day's posts, labelled that day
LATE_SHARE = 0.2  # of the posts reported two days earlier, labelled now
REPORTED_SHARE = 0.4  # of the day's posts reported
OLD_REPORTS = 0.1  # reports on the last week's posts, as a share of the day's reports


def _day(first: str, offset: int) -> str:
    return (date.fromisoformat(first) + timedelta(days=offset)).isoformat()


def _frames(texts: list[tuple[str, str]], day_no: int, first: str, rng) -> tuple[Any, Any]:
    """(validated labelled rows, validated report rows) of day ``day_no``."""
    import numpy as np
    import pandas as pd

    day = _day(first, day_no)
    posts = _posts_of(texts, day_no)
    labelled = posts.sample(frac=LABELLED_SHARE, random_state=day_no)
    if day_no >= 2:  # the backlog: posts reported two days ago, labelled now
        old = _posts_of(texts, day_no - 2)
        labelled = pd.concat([labelled, old.sample(frac=LATE_SHARE * REPORTED_SHARE, random_state=day_no)])
    lab = labelled.assign(
        text_raw=labelled["text"],
        labelled_at=f"{day}T12:00:00Z",
        labeller_id="mod-01",
        batch_dt=day,
        source_file=f"labelled/dt={day}/batch.csv",
        source_line=range(2, len(labelled) + 2),
        ingest_run=f"d{day_no}",
        extra="{}",
    )
    reported = posts.sample(frac=REPORTED_SHARE, random_state=10_000 + day_no)
    if day_no >= 1:
        back = pd.concat([_posts_of(texts, d) for d in range(max(0, day_no - 7), day_no)])
        reported = pd.concat([reported, back.sample(n=int(len(reported) * OLD_REPORTS), random_state=day_no)])
    reported = reported.reset_index(drop=True)
    per_post = rng.integers(1, 5, size=len(reported))
    rows = reported.loc[reported.index.repeat(per_post)].reset_index(drop=True)
    honest = rng.random(len(rows)) < 0.85
    rows["reason"] = np.where(honest, rows["label"], "religion")
    rows = rows.assign(
        report_id=[f"r{day_no}-{i}" for i in range(len(rows))],
        text_raw=rows["text"],
        reporter_id=[f"u{k}" for k in rng.integers(0, REPORTERS, size=len(rows))],
        reported_at=f"{day}T09:00:00Z",
        batch_dt=day,
        source_file=f"reports/dt={day}/reports.jsonl",
        source_line=range(1, len(rows) + 1),
        ingest_run=f"d{day_no}",
        extra="{}",
    ).drop(columns="label")
    return lab.reset_index(drop=True), rows


def _posts_of(texts: list[tuple[str, str]], day_no: int):
    import pandas as pd

    n = len(texts)
    base = (day_no * POSTS) % n
    picks = [texts[(base + i) % n] for i in range(POSTS)]
    return pd.DataFrame(
        {
            "post_id": [f"p{day_no}-{i}" for i in range(POSTS)],
            "text": [f"{t} d{day_no} n{i}" for i, (t, _) in enumerate(picks)],
            "label": [label for _, label in picks],
        }
    )


def grow_history(lake: Path, texts: list[tuple[str, str]], days: range, first: str = "2026-01-01") -> None:
    """Commit days ``days`` of the synthetic history as validated runs in the local lake ``lake``."""
    import numpy as np

    from harmwatch.data import catalog
    from harmwatch.storage import open_store

    store = open_store(str(lake))
    for day_no in days:
        lab, rep = _frames(texts, day_no, first, np.random.default_rng(day_no))
        for kind, frame in (("labelled", lab), ("reports", rep)):
            prefix = catalog.validated_run(kind, f"d{day_no:03d}")
            store.write_parquet(f"{prefix}/{catalog.PART}", frame)
            store.commit(prefix, [catalog.PART], {"batch_dts": [_day(first, day_no)], "rows": len(frame)})


def source_texts(source: Path) -> list[tuple[str, str]]:
    """(text, label) of the source dataset, the vocabulary the synthetic posts are made of."""
    import pandas as pd

    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    return list(zip(frame["tweet_text"], frame["cyberbullying_type"], strict=True))


def _median_run(home: Path, day: Path, args: list[str], env: dict[str, str], phase: str, repeats: int):
    """``build-dataset args`` ``repeats`` times, each on a fresh copy of the lake ``day`` (a run commits
    a state and snapshots, so a second run on the same lake would measure something else): the run of
    median CPU-s, with every run's CPU-s and the 1-minute load seen at its start."""
    records = []
    for _ in range(repeats):
        shutil.rmtree(home / "lake", ignore_errors=True)
        shutil.copytree(day, home / "lake")
        records.append(run_step("build-dataset", args, env, phase))
    ordered = sorted(records, key=lambda r: r["cpu_s"])
    median = ordered[len(ordered) // 2]
    return {
        **median,
        "cpu_s_runs": [r["cpu_s"] for r in records],
        "load1_runs": [r["load1"] for r in records],
    }


def measure(
    opts: Options, history: int, texts: list[tuple[str, str]], full: bool, repeats: int = 1
) -> list[dict[str, Any]]:
    """The day after ``history`` days: incremental (and the full plan), each in its own process, each
    the median of ``repeats`` runs on the same lake."""
    home = Path(tempfile.mkdtemp(prefix="hw-incr-"))
    try:
        env = step_env(home, opts.source)
        lake = home / "lake"
        grow_history(lake, texts, range(history))
        run_step("build-dataset", ["--rebuild", "--recent-days", "1"], env)  # the state so far (not measured)
        grow_history(lake, texts, range(history, history + 1))
        day = home / "day"
        shutil.copytree(lake, day)
        records = []
        print(f"incremental: day {history + 1} after {history} days", flush=True)
        phase = f"{history} days"
        rec = _median_run(home, day, ["--incremental", "--recent-days", "1"], env, phase, repeats)
        records.append({**rec, "mode": "incremental", "history_days": history})
        if full:
            args = ["--engine", "duckdb", "--recent-days", "1"]
            rec = _median_run(home, day, args, env, phase, repeats)
            records.append({**rec, "mode": "full", "history_days": history})
        return records
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run(opts: Options) -> dict[str, Any]:
    """Per history: the incremental day's CPU-s and peak RSS (and the full plan's), the median of
    ``opts.repeats`` runs, and the ratio of the day at the longest history to the day at the shortest
    (target: at most 1.5)."""
    texts = source_texts(opts.source)
    histories = list(opts.histories or HISTORIES)
    repeats = max(1, opts.repeats)
    rows = [r for h in histories for r in measure(opts, h, texts, full=True, repeats=repeats)]
    table = [
        {
            "mode": r["mode"],
            "history_days": r["history_days"],
            "cpu_s": r["cpu_s"],
            "cpu_s_runs": r["cpu_s_runs"],
            "wall_s": r["wall_s"],
            "peak_rss_mib": r["peak_rss_mib"],
            "load1": r["load1"],
            "load1_runs": r["load1_runs"],
            "runs_folded": r["summary"].get("runs_folded"),
            "rows_train": r["summary"].get("rows_train"),
            "rows_review": r["summary"].get("rows_review"),
        }
        for r in rows
    ]
    inc = {t["history_days"]: t for t in table if t["mode"] == "incremental"}
    lo, hi = inc[min(inc)], inc[max(inc)]
    return {
        "posts_per_day": POSTS,
        "histories": histories,
        "repeats": repeats,
        "table": table,
        "cpu_ratio_longest_to_shortest": round(hi["cpu_s"] / lo["cpu_s"], 2),
        "rss_ratio_longest_to_shortest": round(hi["peak_rss_mib"] / lo["peak_rss_mib"], 2),
        "target_cpu_ratio": 1.5,
        "load1_end": load1(),
    }


def report_lines(section: dict[str, Any]) -> list[str]:
    """The day's cost per history, incremental against the full plan on the same lake."""
    lines = [
        f"## Incremental days ({section.get('date', '')}, commit {section.get('commit')})",
        "",
        f"One more day ({section['posts_per_day']} new posts) after each history: `build-dataset "
        "--incremental` folds it into the state tables; the full plan reads the whole history. CPU-s: the "
        f"median of {section.get('repeats', 1)} runs. Day at the longest history / day at the shortest, "
        f"CPU: {section['cpu_ratio_longest_to_shortest']} "
        f"(target <= {section['target_cpu_ratio']}).",
        "",
        "| history (days) | mode | CPU-s | wall s | peak RSS MiB | training rows | load |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for row in section["table"]:
        lines.append(
            f"| {row['history_days']} | {row['mode']} | {row['cpu_s']:.2f} | {row['wall_s']:.2f} | "
            f"{row['peak_rss_mib']:.0f} | {row['rows_train']} | {row['load1']} |"
        )
    return [*lines, ""]

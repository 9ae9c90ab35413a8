"""The simulator behind ``harmwatch simulate``: a landing zone that looks like production, from a CSV.

Day 0 carries an initial bulk of moderator-labelled posts; each following day carries a batch of new
moderator labels and a batch of user reports. Reports come from a simulated reporter population:
honest reporters (mostly right about the reason), careless ones (random posts, random reasons) and a
coordinated brigade that mass-reports benign posts under one reason, and optionally one adaptive
adversary (:mod:`harmwatch.data.adversaries`: reputation farming, a swarm of new accounts, vote tying,
slow poisoning, false reports mixed with honest-looking ones). A share of the reported posts is later
labelled by moderators, which is what lets build-dataset estimate reporter reliability.

Texts pass through untouched: the dataset's duplicates, embedded newlines, HTML entities and mojibake
reach the landing zone as they are, because cleaning is ingest's job. The same seed gives the same
landing zone byte for byte.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd

from harmwatch.config import BENIGN_CLASS, HARMFUL_CLASSES
from harmwatch.data.adversaries import Adversary, adversary_reports
from harmwatch.errors import HarmwatchError


@dataclass(frozen=True)
class Population:
    """Who reports. ``brigade_share`` is the brigade's share of all reports."""

    honest: int = 400
    careless: int = 60
    brigade: int = 25
    honest_accuracy: float = 0.9  # chance an honest reporter names the right class
    honest_report_rate: float = 0.5  # share of harmful posts that honest users report at all
    careless_share: float = 0.08  # careless reports as a share of honest ones
    brigade_share: float = 0.10
    brigade_reason: str = "religion"
    labelled_share_of_reported: float = 0.5  # reported posts that moderators also label
    review_lag_days: int = 0  # days before moderators label a reported post (0: the day it is reported)
    adversary: Adversary | None = None  # an adaptive adversary beside the brigade (none by default)


def load_source(path: str) -> pd.DataFrame:
    """Read the Kaggle CSV (``tweet_text``, ``cyberbullying_type``) as strings, texts untouched."""
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except FileNotFoundError:
        raise HarmwatchError(f"{path}: source CSV not found (set HARMWATCH_SOURCE_CSV)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise HarmwatchError(f"{path}: cannot parse source CSV ({str(exc).splitlines()[0]})") from None
    missing = {"tweet_text", "cyberbullying_type"} - set(df.columns)
    if missing:
        raise HarmwatchError(f"{path}: source CSV lacks columns {sorted(missing)}")
    return df.rename(columns={"tweet_text": "text", "cyberbullying_type": "label"})[["text", "label"]]


def _stamp(day: date, seconds: np.ndarray) -> list[str]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return [(start + timedelta(seconds=int(s))).strftime("%Y-%m-%dT%H:%M:%SZ") for s in seconds]


def _post_ids(count: int, seed: int) -> list[str]:
    return [hashlib.sha1(f"{seed}:{i}".encode()).hexdigest()[:12] for i in range(count)]


def simulate_reports(
    posts: pd.DataFrame,
    day: date,
    pop: Population,
    rng: np.random.Generator,
    start_id: int,
    when: tuple[int, int] = (1, 1),
    adversary_rng: np.random.Generator | None = None,
) -> pd.DataFrame:
    """User reports on ``posts`` (columns post_id, text, label) during ``day``.

    ``when`` is (this day's number, number of days), which an adversary's plan depends on; the adversary
    draws from ``adversary_rng``, so everyone else's reports are the same with and without it.
    """
    rows: list[dict[str, Any]] = []
    harmful = posts[posts["label"] != BENIGN_CLASS]
    benign = posts[posts["label"] == BENIGN_CLASS]
    wrong = {c: [x for x in HARMFUL_CLASSES if x != c] for c in HARMFUL_CLASSES}
    # Honest reporters: a share of harmful posts, each by 1-5 distinct people, mostly the right reason.
    for post in harmful.itertuples():
        if rng.random() >= pop.honest_report_rate:
            continue
        for who in rng.choice(pop.honest, size=int(rng.integers(1, 6)), replace=False):
            right = rng.random() < pop.honest_accuracy
            reason = post.label if right else str(rng.choice(wrong[post.label]))
            rows.append({"post": post, "reporter": f"honest-{who:04d}", "reason": reason})
    n_honest = len(rows)
    # Careless reporters: any post, any reason.
    for _ in range(int(n_honest * pop.careless_share)):
        post = posts.iloc[int(rng.integers(len(posts)))]
        rows.append(
            {
                "post": post,
                "reporter": f"careless-{int(rng.integers(pop.careless)):04d}",
                "reason": str(rng.choice(HARMFUL_CLASSES)),
            }
        )
    # Brigade: benign posts, many members each, one coordinated reason, brigade_share of all reports.
    n_brigade = round(pop.brigade_share / (1 - pop.brigade_share) * len(rows)) if pop.brigade_share else 0
    while n_brigade > 0 and len(benign):
        post = benign.iloc[int(rng.integers(len(benign)))]
        k = min(n_brigade, int(rng.integers(3, 9)), pop.brigade)
        for who in rng.choice(pop.brigade, size=k, replace=False):
            rows.append({"post": post, "reporter": f"brigade-{who:04d}", "reason": pop.brigade_reason})
        n_brigade -= k
    seconds = np.sort(rng.integers(0, 86400, size=len(rows)))
    out = _frame([rows[j] for j in rng.permutation(len(rows))], day, seconds)
    if pop.adversary is not None:
        arng = adversary_rng if adversary_rng is not None else np.random.default_rng(start_id)
        extra = adversary_reports(pop.adversary, posts, when[0], when[1], rows, arng)
        extra = [extra[j] for j in arng.permutation(len(extra))]
        stamped = _frame(extra, day, np.sort(arng.integers(0, 86400, size=len(extra))))
        out = pd.concat([out, stamped], ignore_index=True).sort_values("reported_at", kind="stable")
    ids = [f"r{day:%Y%m%d}-{start_id + i:06d}" for i in range(len(out))]
    return out.assign(report_id=ids)[REPORT_FIELDS].reset_index(drop=True)


REPORT_FIELDS = ["report_id", "post_id", "text", "reporter_id", "reason", "reported_at"]


def _frame(rows: list[dict[str, Any]], day: date, seconds: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "report_id": "",
            "post_id": [r["post"].post_id for r in rows],
            "text": [r["post"].text for r in rows],
            "reporter_id": [r["reporter"] for r in rows],
            "reason": [r["reason"] for r in rows],
            "reported_at": _stamp(day, seconds),
        },
        columns=REPORT_FIELDS,
    )


def _shuffle(source: pd.DataFrame, rng: np.random.Generator, seed: int) -> pd.DataFrame:
    """The source in simulation order, with the post ids the landing zone will carry."""
    df = source.iloc[rng.permutation(len(source))].reset_index(drop=True)
    df.insert(0, "post_id", _post_ids(len(df), seed))
    return df


def ground_truth(source: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Every simulated post's id, text and true label (``plan_landing`` with the same source and seed).

    The landing zone only shows the labels of posts moderators labelled; audits of report-derived labels
    (tests of the weak-label policy) need the truth of the others too. Steps never read it.
    """
    return _shuffle(source, np.random.default_rng(seed), seed)


def plan_landing(
    source: pd.DataFrame, start: date, days: int, bulk_fraction: float, seed: int, pop: Population
) -> dict[str, pd.DataFrame]:
    """Landing files (key -> frame) for the bulk day and ``days`` daily batches."""
    rng = np.random.default_rng(seed)
    df = _shuffle(source, rng, seed)
    n_bulk = int(len(df) * bulk_fraction)
    files: dict[str, pd.DataFrame] = {}
    bulk = df.iloc[:n_bulk]
    files[f"labelled/dt={start}/bulk.csv"] = _labelled(bulk, start, rng)
    daily = np.array_split(np.arange(n_bulk, len(df)), days) if days else []
    next_report = 0
    adversary_rng = np.random.default_rng([seed, 15])  # its own stream, so it leaves the crowd's alone
    backlog: list[pd.DataFrame] = []  # per day: reported posts moderators will label review_lag_days later
    for d, idx in enumerate(daily, start=1):
        day = start + timedelta(days=d)
        posts = df.iloc[idx]
        reports = simulate_reports(posts, day, pop, rng, next_report, (d, days), adversary_rng)
        next_report += len(reports)
        reported = set(reports["post_id"])
        # Moderators label half the day's unreported posts and a share of the reported ones.
        is_reported = posts["post_id"].isin(reported).to_numpy()
        keep = np.where(
            is_reported, rng.random(len(posts)) < pop.labelled_share_of_reported, rng.random(len(posts)) < 0.5
        )
        if pop.review_lag_days <= 0:
            files[f"labelled/dt={day}/batch.csv"] = _labelled(posts[keep], day, rng, after=reports)
        else:  # reported posts wait in the moderators' queue; the last days' stay unlabelled
            backlog.append(posts[keep & is_reported])
            due = backlog[d - 1 - pop.review_lag_days] if d > pop.review_lag_days else posts.iloc[:0]
            files[f"labelled/dt={day}/batch.csv"] = _labelled(
                pd.concat([posts[keep & ~is_reported], due]), day, rng
            )
        files[f"reports/dt={day}/reports.jsonl"] = reports
    return files


def _labelled(
    posts: pd.DataFrame, day: date, rng: np.random.Generator, after: pd.DataFrame | None = None
) -> pd.DataFrame:
    seconds = rng.integers(0, 86400, size=len(posts))
    out = pd.DataFrame(
        {
            "post_id": posts["post_id"].to_numpy(),
            "text": posts["text"].to_numpy(),
            "label": posts["label"].to_numpy(),
            "labelled_at": _stamp(day, seconds),
            "labeller_id": [f"mod-{int(m):02d}" for m in rng.integers(1, 21, size=len(posts))],
        }
    )
    if after is not None and len(after):  # a reported post is labelled after its last report
        last = pd.to_datetime(out["post_id"].map(after.groupby("post_id")["reported_at"].max()), utc=True)
        review = last + pd.to_timedelta(rng.integers(60, 4 * 3600, size=len(out)), unit="s")
        end_of_day = pd.Timestamp(datetime.combine(day, time(23, 59, 59), tzinfo=UTC))
        review = review.where(review < end_of_day, end_of_day)
        labelled = pd.to_datetime(out["labelled_at"], utc=True)
        late = last.notna() & (review > labelled)
        out.loc[late, "labelled_at"] = review[late].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


def to_bytes(key: str, frame: pd.DataFrame) -> bytes:
    """Serialise a landing file: CSV with a header, or JSON lines (UTF-8, non-ASCII kept)."""
    if key.endswith(".jsonl"):
        lines = (json.dumps(r, ensure_ascii=False) for r in frame.to_dict(orient="records"))
        return ("\n".join(lines) + "\n").encode("utf-8")
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")

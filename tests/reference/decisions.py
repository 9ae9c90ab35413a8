"""The pandas reference of build-dataset's decisions, which the SQL plan (``data/sql/``) is tested against.

The product defines each decision once, as SQL run by DuckDB in one process and by Spark SQL at scale
(:mod:`harmwatch.data.relational`). This is a second, independent reading of the same rules, written
row by row in pandas: the tests run both on the same rows (hand-made histories, the real dataset, the
broken corpus) and require every output table and content version to be equal
(``tests/jobs/test_relational.py``, ``tests/data/test_relational_parity.py``,
``tests/spark/test_build_policy.py``). It never runs in the product.

:func:`assemble` takes the validated rows as frames and returns the :class:`~harmwatch.data.dataset.Assembly`
:func:`harmwatch.data.relational.assemble` returns.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harmwatch.data.cohorts import components
from harmwatch.data.dataset import (
    EVAL_COLUMNS,
    RECENT_COLUMNS,
    SNAPSHOT_COLUMNS,
    Assembly,
    content_version,
    keyed_reports,
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
from tests.reference.reliability import (
    judged_reports,
    reporter_reliability,
    vote_reliability,
)

MEAN_DECIMALS = 9  # far above a float sum's order noise (about 1e-16), far below any policy's step


def resolve_moderator_labels(
    labelled: pd.DataFrame, reviewed: Collection[str] = ()
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per text with a single moderator label, rows of texts with conflicting labels).

    A label that came back from the review loop (``reviewed``: the landing files the review-pull ledger
    vouches for, :mod:`harmwatch.data.authority`) settles its text: the newest reviewed label wins
    over every other label of the text, because the reviewer decided with the conflicting labels and
    the evidence in front of them. Ordinary labels that disagree, with no review decision, leave the
    text conflicted: a later ordinary label is one more opinion, not a decision, so it goes to review.
    """
    df = labelled.assign(key=text_key(labelled["text"]))
    df = df[df["key"] != ""]
    decisive = df["source_file"].isin(set(reviewed)) if "source_file" in df and reviewed else None
    if decisive is not None and decisive.any():
        order = ["key", "labelled_at", "source_file", "post_id"]
        decided = df[decisive].sort_values(order).drop_duplicates("key", keep="last")
        df = df[~df["key"].isin(decided["key"])]
    else:
        decided = df.iloc[0:0]
    n_labels = df.groupby("key")["label"].nunique()
    conflicted = df["key"].isin(n_labels[n_labels > 1].index)
    clean = df[~conflicted].sort_values(["key", "labelled_at", "post_id"]).drop_duplicates("key")
    clean = pd.concat([clean, decided]).sort_values("key", kind="stable")
    return clean.reset_index(drop=True), df[conflicted].reset_index(drop=True)


def conflict_review(conflicts: pd.DataFrame) -> pd.DataFrame:
    """One review row per text that moderators labelled differently."""
    if conflicts.empty:
        return pd.DataFrame(columns=["key", "review_reason"])
    grp = conflicts.sort_values("labelled_at").groupby("key")
    out = grp.agg(
        text=("text", "first"),
        post_id=("post_id", join_values),
        labels_seen=("label", join_values),
        source_files=("source_file", join_values),
        first_seen=("labelled_at", "min"),
    ).reset_index()
    out["review_reason"] = "conflicting moderator labels: " + out["labels_seen"]
    return out.assign(source="moderators")


def split_eval(moderated: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """Stratified, order-independent sample: per label, the posts whose seeded hash ranks lowest."""
    rank = moderated["key"].map(lambda k: hashlib.sha256(f"{seed}:{k}".encode()).hexdigest())
    ranked = moderated.assign(_rank=rank).sort_values(["label", "_rank"])
    take = (ranked.groupby("label")["key"].transform("size") * fraction).round().astype(int)
    picked = ranked[ranked.groupby("label").cumcount() < take]
    return picked.drop(columns="_rank").sort_values("key").reset_index(drop=True)


def newest_report_day(reports: pd.DataFrame) -> pd.Series:
    """key -> the newest ``batch_dt`` of its reports (when a weak label's evidence last grew)."""
    if reports.empty or "batch_dt" not in reports:
        return pd.Series(dtype=object)
    return reports.groupby("key")["batch_dt"].max()


def assemble(
    labelled: pd.DataFrame,
    reports: pd.DataFrame,
    frozen_eval: tuple[pd.DataFrame, str] | None,
    policy: Policy,
    eval_fraction: float,
    seed: int,
    champion: pd.DataFrame | None = None,
    reviewed: Collection[str] = (),
) -> Assembly:
    """Training snapshot, evaluation snapshot, review queue and reporter reliability from validated rows.

    ``labelled``: validated labelled rows (``post_id``, ``text``, ``label``, ``labelled_at``,
    ``source_file``); ``reports``: validated report rows (``report_id``, ``post_id``, ``text``,
    ``reporter_id``, ``reason``, ``reported_at``, ``source_file``); ``frozen_eval``: the evaluation snapshot
    built by an earlier run and its version (None on the first run, when one is drawn here);
    ``champion``: the champion's ``score_<class>`` of the posts known only from reports (``key``), or None;
    ``reviewed``: landing files the review-pull ledger vouches for (their labels settle conflicts).
    """
    reports = keyed_reports(reports)
    moderated, conflicts = resolve_moderator_labels(labelled, reviewed)
    reliability = reporter_reliability(reports, moderated, policy)
    decided_keys = set(moderated["key"]) | set(conflicts["key"])
    cohorts = reporter_cohorts(reports) if policy.cohorts and not reports.empty else None
    accepted, report_review = (
        weak_labels(reports, moderated, decided_keys, policy, cohorts=cohorts, champion=champion, seed=seed)
        if not reports.empty
        else no_weak_labels()
    )
    newest = newest_report_day(reports)
    decisions = Decisions(moderated, conflicts, reliability, accepted, report_review, newest)
    label_files = pd.DataFrame({"key": text_key(labelled["text"]), "source_file": labelled["source_file"]})
    return finish_assembly(decisions, label_files, frozen_eval, policy, eval_fraction, seed)


@dataclass
class Decisions:
    """The per-text and per-reporter decisions :func:`assemble` makes before it splits and snapshots.

    Either engine computes them (the Spark engine one bucket of text keys at a time) and hands them to
    :func:`finish_assembly`."""

    moderated: pd.DataFrame  # resolve_moderator_labels: one row per text with a single moderator label
    conflicts: pd.DataFrame  # rows of texts with conflicting moderator labels
    reliability: pd.DataFrame  # RELIABILITY_COLUMNS
    accepted: pd.DataFrame  # weak_labels: accepted weak labels
    report_review: pd.DataFrame  # weak_labels: reported posts held back
    newest_report: pd.Series  # key -> newest_report_day


def finish_assembly(
    decisions: Decisions,
    label_files: pd.DataFrame,
    frozen_eval: tuple[pd.DataFrame, str] | None,
    policy: Policy,
    eval_fraction: float,
    seed: int,
) -> Assembly:
    """The evaluation split, training snapshot and review queue from the decisions. ``label_files``:
    ``key`` and ``source_file`` of every labelled row (which landing files fed what)."""
    moderated, accepted = decisions.moderated, decisions.accepted
    labelled_keys, files = label_files["key"], label_files["source_file"]
    if frozen_eval is None:
        ev = split_eval(moderated, eval_fraction, seed)[EVAL_COLUMNS]
        eval_version = content_version(ev, ["key", "label"])
        eval_files = sorted(set(files[labelled_keys.isin(ev["key"])]))
    else:
        (ev, eval_version), eval_files = frozen_eval, []
    eval_keys = set(ev["key"])
    mod_train = moderated[~moderated["key"].isin(eval_keys)].assign(label_source="moderator")
    weak_train = accepted[~accepted["key"].isin(eval_keys)].assign(label_source="reports")
    weak_train = weak_train.assign(batch_dt=weak_train["key"].map(decisions.newest_report))
    # An empty part is left out, as pandas does now when it types the result (and will stop doing).
    parts = [part[SNAPSHOT_COLUMNS] for part in (mod_train, weak_train) if len(part)]
    train = pd.concat(parts, ignore_index=True) if parts else mod_train[SNAPSHOT_COLUMNS]
    review = pd.concat([conflict_review(decisions.conflicts), decisions.report_review], ignore_index=True)
    train_files = sorted(
        set(files[labelled_keys.isin(mod_train["key"])])
        | {f for s in weak_train.get("source_files", []) for f in str(s).split("|") if f}
    )
    reliability = decisions.reliability
    return Assembly(
        train=train.sort_values("key").reset_index(drop=True),
        eval=ev,
        eval_version=eval_version,
        eval_is_new=frozen_eval is None,
        review=review.sort_values("key").reset_index(drop=True),
        reliability=reliability.assign(
            trusted=reliability["reliability"].astype(float) >= policy.min_reliability
        ),
        weak_labels=len(weak_train),
        train_files=train_files,
        eval_files=eval_files,
    )


def pending_texts(labelled: pd.DataFrame, reports: pd.DataFrame) -> pd.DataFrame:
    """``key`` and ``text`` of the posts known only from reports: what the champion is asked about."""
    reports = keyed_reports(reports)
    if reports.empty:
        return pd.DataFrame(columns=["key", "text"])
    decided = set(text_key(labelled["text"]))
    pending = reports[~reports["key"].isin(decided)].sort_values(["key", "reported_at"])
    return pending.drop_duplicates("key")[["key", "text"]].reset_index(drop=True)


def reliability_of(
    labelled: pd.DataFrame, reports: pd.DataFrame, policy: Policy | None = None
) -> pd.DataFrame:
    """Reporter reliability from validated rows, exactly as :func:`assemble` computes it (metrics uses it)."""
    moderated, _conflicts = resolve_moderator_labels(labelled)
    return reporter_reliability(keyed_reports(reports), moderated, policy or Policy())


def join_values(values: pd.Series) -> str:
    """Distinct non-empty values, sorted and ``|``-joined (post ids, landing files)."""
    return "|".join(sorted({str(v) for v in values if pd.notna(v) and str(v)}))


def no_weak_labels() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The (accepted, review) pair when no report is pending, with the columns callers select."""
    columns = ["key", "text", "label", "post_id", "n_reporters", "votes", "mean_reliability"]
    accepted = pd.DataFrame(columns=columns)
    return accepted, pd.DataFrame(columns=["key", "review_reason"])


def pending_votes(
    reports: pd.DataFrame,
    judged: pd.DataFrame,
    cohorts: pd.DataFrame | None,
    policy: Policy,
    record: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per post, reporter and reason of ``reports``, with ``rel``, ``trusted`` and ``cohort``."""
    votes = reports.sort_values(["reported_at", "report_id"]).drop_duplicates(
        ["key", "reporter_id", "reason"]
    )
    votes = vote_reliability(
        votes[["key", "reporter_id", "reason", "reported_at"]],
        judged,
        policy,
        policy.before_report,
        policy.per_reason,
        record,
    )
    cohort = votes["reporter_id"]
    if policy.cohorts and cohorts is not None and len(cohorts):
        cohort = cohort.map(cohorts.set_index("reporter_id")["cohort"]).fillna(cohort)
    return votes.assign(trusted=votes["rel"] >= policy.min_reliability, cohort=cohort)


def tally(votes: pd.DataFrame) -> pd.DataFrame:
    """Per post and reason: distinct reporters, distinct cohorts, trusted cohorts, mean reliability.

    The mean is rounded to :data:`MEAN_DECIMALS` decimals, as ``data/sql/tally.sql`` rounds it: a float
    sum depends on the order it is added in, so a mean of exactly ``min_reliability`` could otherwise fall
    below it on one engine (or one order of the same rows) and not on another."""
    trusted = votes["cohort"].where(votes["trusted"])
    out = (
        votes.assign(_trusted=trusted)
        .groupby(["key", "reason"])
        .agg(
            n_reporters=("reporter_id", "nunique"),
            n_cohorts=("cohort", "nunique"),
            n_trusted=("_trusted", "nunique"),
            rel=("rel", "mean"),
        )
        .reset_index()
    )
    return out.assign(rel=out["rel"].round(MEAN_DECIMALS))


def champion_p_label(leading: pd.Series, champion: pd.DataFrame | None, policy: Policy) -> pd.Series:
    """The champion's probability of each post's leading reason (``leading``: reason by key); NaN without
    the champion check."""
    if champion is None or policy.champion_floor <= 0 or not len(champion):
        return pd.Series(np.nan, index=leading.index)
    scores = champion.set_index("key").reindex(leading.index)
    return pd.Series(
        [scores.at[k, f"score_{lab}"] if f"score_{lab}" in scores else np.nan for k, lab in leading.items()],
        index=leading.index,
        dtype=float,
    )


def weak_label_decisions(
    tallies: pd.DataFrame, policy: Policy, champion: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per post: the leading reason, the counts, and ``review_reason`` ("" = accepted)."""
    n = "n_cohorts" if policy.cohorts else "n_reporters"
    order = (["n_trusted"] if policy.trusted_dissent else []) + [n, "rel"]
    t = tallies.sort_values(["key", *order], ascending=[True] + [False] * len(order), kind="stable")
    t = t.assign(_rank=t.groupby("key").cumcount(), _vote=t["reason"] + " " + t["n_reporters"].astype(str))
    votes = t.groupby("key", sort=True)["_vote"].agg(", ".join)
    top = t[t["_rank"] == 0].set_index("key").sort_index()
    rival = t[t["_rank"] == 1].set_index("key").reindex(top.index)
    if policy.trusted_dissent:
        tied = (rival["n_trusted"] >= top["n_trusted"]) & (top["n_trusted"] > 0)
    else:
        tied = rival[n] == top[n]
    p_label = champion_p_label(top["reason"], champion, policy)
    rel, need = top["rel"].map("{:.2f}".format), f"{policy.min_reliability:.2f}"
    cohort_note = " in " + top["n_cohorts"].astype(str) + f" {COHORTS}(s)"
    few = top[n] < policy.min_reporters
    reasons = np.select(
        [
            tied.fillna(False).to_numpy(),
            few.to_numpy(),
            (top["rel"] < policy.min_reliability).to_numpy(),
            (p_label < policy.champion_floor).to_numpy(),
        ],
        [
            (f"{DISAGREE} (" + votes + ")").to_numpy(),
            (
                top["n_reporters"].astype(str)
                + f" {TOO_FEW}(s)"
                + (cohort_note.where(top["n_cohorts"] < top["n_reporters"], "") if policy.cohorts else "")
                + f" agree (policy needs {policy.min_reporters})"
            ).to_numpy(),
            (f"{UNRELIABLE} " + rel + f" (policy needs {need})").to_numpy(),
            (
                f"{CHAMPION}: p(label) " + p_label.map("{:.3f}".format) + f" < {policy.champion_floor}"
            ).to_numpy(),
        ],
        "",
    )
    return pd.DataFrame(
        {
            "key": top.index,
            "label": top["reason"].to_numpy(),
            "n_reporters": top["n_reporters"].astype(int).to_numpy(),
            "n_cohorts": top["n_cohorts"].astype(int).to_numpy(),
            "votes": votes.reindex(top.index).to_numpy(),
            "mean_reliability": top["rel"].astype(float).round(4).to_numpy(),
            "champion_p_label": p_label.round(4).to_numpy(),
            "review_reason": reasons,
        }
    )


def spot_checked(keys: pd.Series, rate: float, seed: int) -> pd.Series:
    """A seeded, order-independent random ``rate`` of ``keys`` (the same key is always in or out)."""
    if rate <= 0:
        return pd.Series(False, index=keys.index)
    draw = keys.map(lambda k: int(hashlib.sha256(f"{seed}:spot-check:{k}".encode()).hexdigest()[:8], 16))
    return draw < rate * 16**8


def weak_labels(
    reports: pd.DataFrame,
    moderated: pd.DataFrame,
    decided_keys: set[str],
    policy: Policy,
    *,
    cohorts: pd.DataFrame | None = None,
    champion: pd.DataFrame | None = None,
    seed: int = 0,
    record: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accepted weak labels, posts for review) from reports of posts no moderator has decided.

    ``reports``: every keyed report (their history is the reporters' record); ``moderated``: one row per
    moderated key (``label``, ``labelled_at``); ``cohorts``: :func:`harmwatch.data.cohorts.reporter_cohorts`
    of the reports; ``champion``: ``key`` and ``score_<class>`` of the pending posts, or None;
    ``record``: the reporters' :func:`harmwatch.data.reliability.record_counts` over every report, when
    the caller (the Spark engine, which hands over some posts at a time) summed them; without it they
    come from ``reports`` and ``moderated``.
    """
    pending = reports[~reports["key"].isin(decided_keys)]
    if pending.empty:
        return no_weak_labels()
    judged = judged_reports(reports, moderated) if record is None else pd.DataFrame()
    votes = pending_votes(pending, judged, cohorts, policy, record)
    decided = weak_label_decisions(tally(votes), policy, champion)
    sampled = spot_checked(decided["key"], policy.spot_check_rate, seed) & (decided["review_reason"] == "")
    decided.loc[sampled, "review_reason"] = (
        f"{SPOT_CHECK}: a random {policy.spot_check_rate:.0%} of accepted weak labels goes to moderators"
    )
    first = pending.sort_values(["key", "reported_at", "report_id"]).drop_duplicates("key")
    info = pending.groupby("key").agg(
        post_id=("post_id", join_values),
        n_reports=("report_id", "nunique"),
        source_files=("source_file", join_values),
        first_seen=("reported_at", "min"),
    )
    decided = decided.merge(first[["key", "text"]], on="key").merge(info, on="key")
    accepted = decided[decided["review_reason"] == ""].drop(columns="review_reason")
    review = decided[decided["review_reason"] != ""].rename(columns={"label": "suggested_label"})
    return accepted.reset_index(drop=True), review.assign(source="reports").reset_index(drop=True)


def candidate_pairs(reports: pd.DataFrame, min_shared: int = 3) -> pd.DataFrame:
    """Pairs (``a`` < ``b``) who reported at least ``min_shared`` texts together, with ``shared``, the
    ``expected`` count by chance and the number of ``reporters``: the counting half of the test, which the
    SQL engines do themselves (``data/sql/cohort_pairs.sql``)."""
    cols = ["a", "b", "shared", "expected", "reporters"]
    votes = reports[["reporter_id", "key"]].drop_duplicates()
    if votes.empty:
        return pd.DataFrame(columns=cols)
    per_post = votes.groupby("key").size()
    s1, s2 = float(per_post.sum()), float((per_post * (per_post - 1)).sum())
    active = votes.groupby("reporter_id").size()
    crowded = per_post[per_post > 1].index
    multi = votes[votes["key"].isin(crowded)]
    pairs = multi.merge(multi, on="key", suffixes=("_a", "_b"))
    pairs = pairs[pairs["reporter_id_a"] < pairs["reporter_id_b"]]
    shared = pairs.groupby(["reporter_id_a", "reporter_id_b"]).size().reset_index(name="shared")
    shared = shared[shared["shared"] >= min_shared].rename(
        columns={"reporter_id_a": "a", "reporter_id_b": "b"}
    )
    if shared.empty or s1 == 0:
        return pd.DataFrame(columns=cols)
    expected = active.reindex(shared["a"]).to_numpy() * active.reindex(shared["b"]).to_numpy() * s2 / s1**2
    return shared.assign(expected=expected, reporters=len(active))[cols].reset_index(drop=True)


def significant(candidates: pd.DataFrame, alpha: float = 0.01) -> pd.DataFrame:
    """The candidate pairs whose Poisson tail ``P(X >= shared | expected)`` is below ``alpha`` over the
    number of possible pairs, with ``p`` (``linked_pairs.sql`` in pandas, with scipy.stats' tail)."""
    from scipy.stats import poisson

    cols = ["a", "b", "shared", "expected", "p"]
    if candidates.empty:
        return pd.DataFrame(columns=cols)
    expected = np.maximum(candidates["expected"].to_numpy(dtype=float), 1e-12)
    p = poisson.sf(candidates["shared"].to_numpy(dtype=float) - 1, expected)
    n = float(candidates["reporters"].iloc[0])
    out = candidates.assign(p=p)
    return out[out["p"] < alpha / max(n * (n - 1) / 2, 1.0)][cols].reset_index(drop=True)


def linked_pairs(reports: pd.DataFrame, min_shared: int = 3, alpha: float = 0.01) -> pd.DataFrame:
    """Pairs (``a`` < ``b``) who co-report beyond chance, with ``shared``, ``expected`` and ``p``."""
    return significant(candidate_pairs(reports, min_shared), alpha)


def reporter_cohorts(reports: pd.DataFrame, min_shared: int = 3, alpha: float = 0.01) -> pd.DataFrame:
    """Every reporter in a linked group: its ``cohort`` (the group's smallest id) and ``cohort_size``.

    Reporters linked to nobody are left out (each is its own cohort of one).
    """
    return components(linked_pairs(reports, min_shared, alpha))


def hold_out_recent(
    labelled: pd.DataFrame, train: pd.DataFrame, day: str, days: int, reviewed: Collection[str] = ()
) -> tuple[pd.DataFrame, pd.DataFrame, str | None]:
    """(training snapshot without the recent slice, the recent slice, why it is empty or None): the
    reading of ``data/sql/recent_slice.sql`` (:func:`harmwatch.data.relational.recent_slice`).

    ``labelled``: validated labelled rows in read order (``text`` or its ``key``, ``batch_dt``, ``post_id``,
    ``source_file``); ``train``: the training snapshot; ``reviewed``: the review loop's landing files."""
    empty = pd.DataFrame(columns=RECENT_COLUMNS)
    start = window_start(day, days)
    keys = labelled["key"] if "key" in labelled else text_key(labelled["text"])
    batch = labelled["batch_dt"].astype(str)
    older = set(keys[batch < start])
    if not older:
        return train, empty, f"no labelled batch before {start}: the newest batches are all there is"
    newest = keys[(batch >= start) & (batch <= day)]
    first_seen = labelled.assign(key=keys)[batch.between(start, day)].drop_duplicates("key")
    from_review = set(keys[labelled["source_file"].isin(set(reviewed))]) if len(labelled) else set()
    fresh = set(newest) - older - from_review
    held = train["label_source"].eq("moderator") & train["key"].isin(fresh)
    if not held.any():
        return train, empty, f"no new moderator-labelled text in the batches {start}..{day}"
    recent = train.loc[held, ["key", "text", "label", "post_id"]].merge(
        first_seen[["key", "batch_dt"]], on="key", how="left"
    )
    return train[~held].reset_index(drop=True), recent[RECENT_COLUMNS].reset_index(drop=True), None

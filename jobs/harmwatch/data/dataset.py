"""Dataset assembly, build-dataset's pure core: from validated rows to training, evaluation and review.

Moderator labels win over user reports. Texts are deduplicated by a normalised key (:func:`text_key`);
texts seen under conflicting moderator labels go to the review queue. The evaluation snapshot is drawn
once from moderator labels (:func:`split_eval`) and then frozen, so champion and challenger are always
compared on the same posts, and its texts never enter training. Posts known only from reports get a weak
label under the policy of :mod:`harmwatch.data.weak_labels`, or wait in the review queue. Versions are
content hashes (:func:`content_version`): the same inputs give the same versions.

:func:`assemble` takes plain frames and returns plain frames; the step reads the lake and writes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from harmwatch.data.cohorts import reporter_cohorts
from harmwatch.data.weak_labels import (
    Policy,
    join_values,
    no_weak_labels,
    reporter_reliability,
    review_kind,
    weak_labels,
)

# batch_dt: the day the label arrived (a weak label: its newest report), for train's recency-aware budget.
SNAPSHOT_COLUMNS = ["key", "text", "label", "label_source", "post_id", "batch_dt"]
EVAL_COLUMNS = ["key", "text", "label", "post_id"]


def text_key(texts: pd.Series) -> pd.Series:
    """Dedup key: lowercase, whitespace collapsed, stripped (lake text is already entity/mojibake-fixed).

    ``str.split()`` splits on exactly the characters regex ``\\s`` matches (``str.isspace``), and is
    about 2.5x faster than the regex; every engine keys texts with this one function."""
    return texts.fillna("").astype(str).map(lambda t: " ".join(t.lower().split())).astype(object)


def version_lines(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """The lines :func:`content_version` hashes, one per row (the Spark engine sorts them distributed)."""
    if frame.empty:  # as before: an empty table's version is that of its column names
        return frame[columns].astype(str).agg("\t".join, axis=1)
    text = [frame[c].astype(str) for c in columns]
    if len(text) == 1:
        return text[0]
    return text[0].str.cat(text[1:], sep="\t")  # vectorised; the same lines as joining row by row


def version_of_sorted_lines(lines: Iterable[str]) -> str:
    """Hash of already sorted lines, consumed one at a time (bounded memory for a streamed table)."""
    digest, first = hashlib.sha256(), True
    for line in lines:
        digest.update((line if first else "\n" + line).encode("utf-8"))
        first = False
    return digest.hexdigest()[:16]


def content_version(frame: pd.DataFrame, columns: list[str]) -> str:
    """Deterministic id of a table's content (row order does not matter)."""
    return version_of_sorted_lines(sorted(version_lines(frame, columns)))


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


@dataclass
class Assembly:
    """Everything one build-dataset run produces, before it is written."""

    train: pd.DataFrame  # SNAPSHOT_COLUMNS, one row per text
    eval: pd.DataFrame  # EVAL_COLUMNS: the frozen snapshot (new when ``eval_is_new``)
    eval_version: str
    eval_is_new: bool
    review: pd.DataFrame  # key, text, review_reason, source, ... (docs/lake.md)
    reliability: pd.DataFrame  # one row per reporter, with ``trusted``
    weak_labels: int  # report-derived labels in ``train``
    train_files: list[str]  # landing files that fed ``train``
    eval_files: list[str]  # landing files that fed ``eval`` (only known when it is new)
    # The review queue kept, counted, hashed and written by the engine (snapshot_writer.StagedReview);
    # ``review`` is then empty: the queue grows with the platform's age and never comes to this process.
    staged_review: Any = None

    @property
    def train_version(self) -> str:
        return content_version(self.train, ["key", "label", "label_source"])

    @property
    def review_rows(self) -> int:
        return self.staged_review.rows() if self.staged_review is not None else len(self.review)

    @property
    def review_counts(self) -> dict[str, int]:
        """Review rows from reports by why they wait (:data:`harmwatch.data.weak_labels.REVIEW_KINDS`)."""
        if self.staged_review is not None:
            reasons = self.staged_review.report_reasons()  # distinct reasons and their rows
            kinds = reasons.assign(kind=review_kind(reasons["review_reason"])).groupby("kind")["n"].sum()
            return {str(k): int(v) for k, v in kinds.sort_index().items()}
        rows = self.review[self.review.get("source", pd.Series(dtype=str)) == "reports"]
        return {
            str(k): int(v) for k, v in review_kind(rows["review_reason"]).value_counts().sort_index().items()
        }

    @property
    def review_version(self) -> str:
        if self.staged_review is not None:
            return self.staged_review.version() if self.staged_review.rows() else "empty"
        return content_version(self.review, ["key", "review_reason"]) if len(self.review) else "empty"

    @property
    def reporters_version(self) -> str:
        rel = self.reliability
        return content_version(rel, list(rel.columns)) if len(rel) else "empty"


def keyed_reports(reports: pd.DataFrame) -> pd.DataFrame:
    """Report rows with their text ``key``; reports of blank texts are left out (validate rejects them)."""
    if reports.empty:
        return reports
    reports = reports.assign(key=text_key(reports["text"]))
    return reports[reports["key"] != ""]


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
    train = pd.concat([mod_train[SNAPSHOT_COLUMNS], weak_train[SNAPSHOT_COLUMNS]], ignore_index=True)
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

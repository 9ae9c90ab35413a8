"""Build the training snapshot, the frozen evaluation snapshot and the moderators' review queue.

Moderator labels win over user reports. A post known only from reports gets a *weak* label only under an
explicit policy: at least ``min_reporters`` distinct reporters agree on the reason and their mean
reliability (how often their past reports matched moderator labels, Beta-prior smoothed) reaches
``min_reliability``. Everything else, and every text seen under conflicting moderator labels, goes to the
review queue with a ``review_reason``. The reporter-reliability table behind those decisions is kept as
``reporters/v=<version>/reliability.parquet`` (pseudonymised reporter ids only), so a moderator can see
who is trusted and why, and a brigade's falling reliability is visible. Texts are deduplicated by a
normalised key. The evaluation snapshot is drawn once from moderator labels and then frozen, so champion
and challenger are always compared on the same posts, and its texts never enter training. Versions are
content hashes: the same inputs give the same versions, so a rerun is a no-op.
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from harmwatch.config import BENIGN_CLASS, Settings
from harmwatch.errors import DataError
from harmwatch.storage import Store, open_store

LABELLED, REPORTS = "validated/labelled", "validated/reports"
TRAIN, EVAL, REVIEW, REPORTERS = "datasets/train", "datasets/eval", "review", "reporters"
LATEST = f"{TRAIN}/LATEST.json"  # pointer to the last committed training snapshot


@dataclass(frozen=True)
class Policy:
    """When a report-derived label may enter training."""

    min_reporters: int = 3
    min_reliability: float = 0.8
    prior_agree: float = 1.0  # Beta prior: an unknown reporter starts at 1 / (1 + 1) = 0.5
    prior_disagree: float = 1.0


def text_key(texts: pd.Series) -> pd.Series:
    """Dedup key: lowercase, whitespace collapsed, stripped (lake text is already entity/mojibake-fixed)."""
    return texts.fillna("").astype(str).str.lower().str.replace(r"\s+", " ", regex=True).str.strip()


def content_version(frame: pd.DataFrame, columns: list[str]) -> str:
    """Deterministic id of a table's content (row order does not matter)."""
    lines = sorted(frame[columns].astype(str).agg("\t".join, axis=1))
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:16]


def resolve_moderator_labels(labelled: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per text with a single moderator label, rows of texts with conflicting labels)."""
    df = labelled.assign(key=text_key(labelled["text"]))
    df = df[df["key"] != ""]
    n_labels = df.groupby("key")["label"].nunique()
    conflicted = df["key"].isin(n_labels[n_labels > 1].index)
    clean = df[~conflicted].sort_values(["key", "labelled_at", "post_id"]).drop_duplicates("key")
    return clean.reset_index(drop=True), df[conflicted].reset_index(drop=True)


def reporter_reliability(reports: pd.DataFrame, moderated: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """Per reporter: reports on moderator-labelled posts, agreements, smoothed reliability.

    Only posts a moderator labelled count; a report on a post labelled ``not_cyberbullying`` is a
    disagreement (reports always claim harm). One vote per reporter and post.
    """
    cols = ["reporter_id", "reports_on_labelled", "agreements", "reliability"]
    if reports.empty:
        return pd.DataFrame(columns=cols)
    votes = reports.merge(moderated[["key", "label"]], on="key").drop_duplicates(["reporter_id", "key"])
    votes = votes.assign(agree=(votes["reason"] == votes["label"]) & (votes["label"] != BENIGN_CLASS))
    stats = votes.groupby("reporter_id")["agree"].agg(reports_on_labelled="size", agreements="sum")
    stats["reliability"] = (stats["agreements"] + policy.prior_agree) / (
        stats["reports_on_labelled"] + policy.prior_agree + policy.prior_disagree
    )
    return stats.reset_index()[cols]


def no_weak_labels() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The (accepted, review) pair when no report is pending, with the columns callers select."""
    columns = ["key", "text", "label", "post_id", "n_reporters", "votes", "mean_reliability"]
    accepted = pd.DataFrame(columns=columns)
    return accepted, pd.DataFrame(columns=["key", "review_reason"])


def weak_labels(reports: pd.DataFrame, decided_keys: set[str], reliability: pd.DataFrame,
                policy: Policy) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accepted weak labels, posts for review) from reports of posts no moderator has decided."""
    pending = reports[~reports["key"].isin(decided_keys)]
    if pending.empty:
        return no_weak_labels()
    prior = policy.prior_agree / (policy.prior_agree + policy.prior_disagree)
    rel = reliability.set_index("reporter_id")["reliability"]
    votes = pending.drop_duplicates(["key", "reporter_id", "reason"])
    votes = votes.assign(rel=votes["reporter_id"].map(rel).fillna(prior).astype(float))
    per_reason = (votes.groupby(["key", "reason"]).agg(n=("reporter_id", "nunique"), rel=("rel", "mean"))
                  .reset_index().sort_values(["key", "n", "rel"], ascending=[True, False, False]))
    rows = []
    for key, grp in per_reason.groupby("key", sort=True):
        top = grp.iloc[0]
        tied = len(grp) > 1 and grp.iloc[1]["n"] == top["n"]
        counts = ", ".join(f"{r} {n}" for r, n in zip(grp["reason"], grp["n"], strict=True))
        if tied:
            reason = f"reporters disagree ({counts})"
        elif top["n"] < policy.min_reporters:
            reason = f"{top['n']} distinct reporter(s) agree (policy needs {policy.min_reporters})"
        elif top["rel"] < policy.min_reliability:
            reason = f"mean reporter reliability {top['rel']:.2f} (policy needs {policy.min_reliability:.2f})"
        else:
            reason = ""
        rows.append({"key": key, "label": top["reason"], "n_reporters": int(top["n"]), "votes": counts,
                     "mean_reliability": round(float(top["rel"]), 4), "review_reason": reason})
    decided = pd.DataFrame(rows)
    first = pending.sort_values(["key", "reported_at", "report_id"]).drop_duplicates("key")
    info = pending.groupby("key").agg(post_id=("post_id", _join), n_reports=("report_id", "nunique"),
                                      source_files=("source_file", _join))
    decided = decided.merge(first[["key", "text"]], on="key").merge(info, on="key")
    accepted = decided[decided["review_reason"] == ""].drop(columns="review_reason")
    review = decided[decided["review_reason"] != ""].rename(columns={"label": "suggested_label"})
    return accepted.reset_index(drop=True), review.assign(source="reports").reset_index(drop=True)


def conflict_review(conflicts: pd.DataFrame) -> pd.DataFrame:
    """One review row per text that moderators labelled differently."""
    if conflicts.empty:
        return pd.DataFrame(columns=["key", "review_reason"])
    grp = conflicts.sort_values("labelled_at").groupby("key")
    out = grp.agg(text=("text", "first"), post_id=("post_id", _join), labels_seen=("label", _join),
                  source_files=("source_file", _join)).reset_index()
    out["review_reason"] = "conflicting moderator labels: " + out["labels_seen"]
    return out.assign(source="moderators")


def split_eval(moderated: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """Stratified, order-independent sample: per label, the posts whose seeded hash ranks lowest."""
    rank = moderated["key"].map(lambda k: hashlib.sha256(f"{seed}:{k}".encode()).hexdigest())
    ranked = moderated.assign(_rank=rank).sort_values(["label", "_rank"])
    take = (ranked.groupby("label")["key"].transform("size") * fraction).round().astype(int)
    picked = ranked[ranked.groupby("label").cumcount() < take]
    return picked.drop(columns="_rank").sort_values("key").reset_index(drop=True)


def _join(values: pd.Series) -> str:
    return "|".join(sorted({str(v) for v in values if pd.notna(v) and str(v)}))


def read_table(store: Store, prefix: str) -> tuple[pd.DataFrame, list[str]]:
    """All committed parts under ``prefix`` and the run folders they came from."""
    frames, runs = [], []
    for manifest in store.committed(prefix):
        runs.append(manifest["prefix"])
        frames += [store.read_parquet(f"{manifest['prefix']}/{f['name']}")
                   for f in manifest["files"] if f["name"].endswith(".parquet")]
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), runs


def frozen_eval(store: Store) -> tuple[pd.DataFrame, dict] | None:
    """The evaluation snapshot built by the first run, if any (earliest logical date wins)."""
    manifests = sorted(store.committed(EVAL), key=lambda m: (m.get("date", ""), m.get("version", "")))
    if not manifests:
        return None
    m = manifests[0]
    return store.read_parquet(f"{m['prefix']}/eval.parquet"), m


def _write(store: Store, prefix: str, files: dict[str, pd.DataFrame], meta: dict[str, Any]) -> None:
    for name, frame in files.items():
        if name.endswith(".csv"):
            store.write_text(f"{prefix}/{name}", frame.to_csv(index=False))
        else:
            store.write_parquet(f"{prefix}/{name}", frame)
    store.commit(prefix, files.keys(), meta)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", help="logical date YYYY-MM-DD (default: newest batch_dt in the lake)")
    parser.add_argument("--eval-fraction", type=float, default=0.15, help="share of moderator-labelled "
                        "texts frozen for evaluation on the first run (default 0.15)")
    parser.add_argument("--min-reporters", type=int, default=Policy.min_reporters,
                        help="distinct reporters that must agree for a weak label (default 3)")
    parser.add_argument("--min-reliability", type=float, default=Policy.min_reliability,
                        help="mean reliability those reporters must reach (default 0.8)")


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    store = open_store(settings.lake_uri)
    policy = Policy(min_reporters=args.min_reporters, min_reliability=args.min_reliability)
    labelled, labelled_runs = read_table(store, LABELLED)
    if labelled.empty:
        raise DataError(f"no validated labelled data under {store.url(LABELLED)}; "
                        "run ingest and validate first")
    reports, report_runs = read_table(store, REPORTS)
    if not reports.empty:
        reports = reports.assign(key=text_key(reports["text"]))
        reports = reports[reports["key"] != ""]
    date = args.date or str(labelled["batch_dt"].max())

    moderated, conflicts = resolve_moderator_labels(labelled)
    reliability = reporter_reliability(reports, moderated, policy)
    decided_keys = set(moderated["key"]) | set(conflicts["key"])
    accepted, report_review = weak_labels(reports, decided_keys, reliability, policy) if not reports.empty \
        else no_weak_labels()

    frozen = frozen_eval(store)
    if frozen is None:
        ev = split_eval(moderated, args.eval_fraction, settings.seed)[["key", "text", "label", "post_id"]]
        eval_version = content_version(ev, ["key", "label"])
        eval_files = sorted(set(labelled.loc[text_key(labelled["text"]).isin(ev["key"]), "source_file"]))
        _write(store, f"{EVAL}/v={eval_version}", {"eval.parquet": ev},
               {"version": eval_version, "date": date, "rows": len(ev), "landing_files": eval_files,
                "label_counts": ev["label"].value_counts().sort_index().to_dict(),
                "eval_fraction": args.eval_fraction, "seed": settings.seed})
    else:
        ev, eval_version = frozen[0], frozen[1]["version"]
        eval_files = frozen[1].get("landing_files", [])
    eval_keys = set(ev["key"])

    mod_train = moderated[~moderated["key"].isin(eval_keys)].assign(label_source="moderator")
    weak_train = accepted[~accepted["key"].isin(eval_keys)].assign(label_source="reports")
    train = pd.concat([mod_train[["key", "text", "label", "label_source", "post_id"]],
                       weak_train[["key", "text", "label", "label_source", "post_id"]]], ignore_index=True)
    train = train.sort_values("key").reset_index(drop=True)
    review = pd.concat([conflict_review(conflicts), report_review], ignore_index=True)
    review = review.sort_values("key").reset_index(drop=True)
    train_version = content_version(train, ["key", "label", "label_source"])
    review_version = content_version(review, ["key", "review_reason"]) if len(review) else "empty"
    trusted = reliability["reliability"].astype(float) >= policy.min_reliability
    reliability = reliability.assign(trusted=trusted)
    reporters_version = content_version(reliability, list(reliability.columns)) if len(reliability) \
        else "empty"
    train_files = sorted(set(labelled.loc[text_key(labelled["text"]).isin(mod_train["key"]), "source_file"])
                         | {f for s in weak_train.get("source_files", []) for f in str(s).split("|") if f})
    meta = {"version": train_version, "date": date, "eval_version": eval_version, "rows": len(train),
            "label_counts": train["label"].value_counts().sort_index().to_dict(),
            "weak_labels_accepted": len(weak_train), "landing_files": train_files, "policy": asdict(policy),
            "validated_runs": labelled_runs + report_runs, "review_version": review_version,
            "reporters_version": reporters_version}
    _write(store, f"{REPORTERS}/v={reporters_version}", {"reliability.parquet": reliability},
           {"version": reporters_version, "date": date, "rows": len(reliability), "policy": asdict(policy),
            "trusted": int(reliability["trusted"].sum())})
    _write(store, f"{TRAIN}/v={train_version}", {"train.parquet": train}, meta)
    _write(store, f"{REVIEW}/v={review_version}", {"queue.parquet": review, "queue.csv": review},
           {"version": review_version, "date": date, "rows": len(review)})
    store.write_json(LATEST, {"version": train_version, "date": date})
    return {"train_version": train_version, "eval_version": eval_version, "review_version": review_version,
            "rows_train": len(train), "rows_eval": len(ev), "rows_review": len(review),
            "weak_labels_accepted": len(weak_train), "reporters_scored": len(reliability),
            "reporters_version": reporters_version,
            "eval_reused": frozen is not None, "date": date,
            "landing_files": sorted(set(train_files) | set(eval_files))}

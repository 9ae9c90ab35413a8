"""Review pull: bring finished moderator decisions back from Label Studio as moderator labels.

Reads every task of the review and adjudication projects and decides each one's state
(:func:`harmwatch.review.outcomes.review_decisions`: labelled, skipped with a reason, in adjudication,
or pending).
Texts on which moderators disagreed get an adjudication task with their answers. New labels go to the
landing zone as ``labelled/dt=<day>/review-<id>.csv`` in the landing format, with provenance
(pseudonymised annotators, time spent, outcome), so ingest, validate and build-dataset take them like
any moderator label; the next training snapshot has them. The lake gets the run's new final decisions
and the state of every item (``moderation/pulls/run=<id>/``). A decision is exported once: the committed
pull runs are the ledger, and a rerun on the same state writes the same file under the same name.

Authority comes from records (:mod:`harmwatch.data.authority`): only tasks the lake's push record lists,
with the item, text and post ids review-push sent, and only adjudication tasks a pull created, are read;
any other task (imported or edited by a Label Studio user) is refused with its reason in the run's
manifest. The manifest records the landing file's sha256, which is what makes its labels the review
loop's decisions downstream.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

from harmwatch.config import Settings
from harmwatch.data import catalog
from harmwatch.data.authority import digest
from harmwatch.review import client
from harmwatch.review.outcomes import annotator_id, landing_rows, review_decisions
from harmwatch.review.records import newest_queue, pushed_tasks
from harmwatch.review.tasks import adjudication_data, sent_as_recorded
from harmwatch.storage import Store, open_store

log = logging.getLogger(__name__)
FINAL = ("labelled", "skipped")


def exported_items(lake: Store) -> set[str]:
    """Items whose final decision a committed pull run already exported (the ledger)."""
    out: set[str] = set()
    for m in lake.committed(catalog.REVIEW_PULLS):
        done = lake.read_parquet(f"{m['prefix']}/{catalog.DECISIONS_FILE}")
        out |= set(done.loc[done["status"].isin(FINAL), "item"])
    return out


def adjudication_ledger(lake: Store) -> dict[str, list[int]]:
    """Pull run folder -> ids of the adjudication tasks it created (the only ones whose answer counts)."""
    return {m["prefix"]: list(m.get("adjudication_tasks", [])) for m in lake.committed(catalog.REVIEW_PULLS)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--date", help="logical date YYYY-MM-DD of the landing partition (default: today, UTC)"
    )


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    day = args.date or datetime.now(UTC).date().isoformat()
    lake = open_store(settings.lake_uri, settings)
    landing = open_store(settings.landing_uri, settings)
    key = settings.pseudonym_key.get_secret_value().encode("utf-8")
    pushed = pushed_tasks(lake)
    created = adjudication_ledger(lake)
    with client.calls(settings):
        projects = client.projects(settings)
        review, refused = sent_as_recorded(client.tasks(projects.client, projects.review), pushed)
        adjudications, refused_adj = sent_as_recorded(
            client.tasks(projects.client, projects.adjudication),
            pushed,
            {i for ids in created.values() for i in ids},
        )
        refused += refused_adj
        for r in refused[:3]:
            log.warning("Label Studio task %s (item %s) refused: %s", r["task_id"], r["item"], r["reason"])
        emails = client.annotator_emails(projects.client)
        decisions = review_decisions(
            review, adjudications, lambda uid: annotator_id(emails.get(uid, f"user-{uid}"), key)
        )
        # Disagreements without an adjudication task get one, with the answers that disagreed.
        waiting = {t["data"].get("item") for t in adjudications}
        by_item = {t["data"].get("item"): t for t in review}
        escalate = decisions[(decisions["status"] == "adjudication") & ~decisions["item"].isin(waiting)]
        data = [
            adjudication_data(by_item[d.item]["data"], _answers(d.answers)) for d in escalate.itertuples()
        ]
        new_adjudications = client.create_tasks(projects.client, projects.adjudication, data)
    exported = exported_items(lake)
    new = decisions[decisions["status"].isin(FINAL) & ~decisions["item"].isin(exported)]
    # The run's id comes from the day, every item's state and what it exports: a rerun on the same state
    # lands in the same folder (and the same landing file); a later run, with nothing new, in another.
    signature = sorted(day + ":" + decisions["item"] + ":" + decisions["status"]) + sorted(
        "new:" + new["item"]
    )
    run_id = hashlib.sha256("\n".join(signature).encode()).hexdigest()[:16]
    rows = landing_rows(new[new["status"] == "labelled"], day)
    landing_key = catalog.review_landing(day, run_id) if len(rows) else None
    body = rows.to_csv(index=False, lineterminator="\n").encode("utf-8")
    # Rewriting identical bytes would give the file a new identity and ingest would take it twice.
    if landing_key and not (landing.exists(landing_key) and landing.read_bytes(landing_key) == body):
        landing.write_bytes(landing_key, body)
    prefix = catalog.review_pull(run_id)
    lake.write_parquet(f"{prefix}/{catalog.DECISIONS_FILE}", new.assign(batch_dt=day))
    lake.write_parquet(f"{prefix}/{catalog.STATUS_FILE}", decisions.assign(batch_dt=day))
    counts = decisions["status"].value_counts().to_dict()
    meta = {
        "date": day,
        "status_counts": counts,
        "landing_file": landing_key,
        "landing_rows": len(rows),
        # The ledger: the digest makes the landing file's labels the review loop's (data/authority.py);
        # a rerun into the same folder keeps the adjudication tasks an earlier attempt created.
        "landing_sha256": digest(body) if landing_key else None,
        "adjudication_tasks": sorted({*created.get(prefix, []), *new_adjudications}),
        "refused_tasks": refused,
    }
    lake.commit(prefix, [catalog.DECISIONS_FILE, catalog.STATUS_FILE], meta)
    queue, _version = newest_queue(lake)
    in_label_studio = set(decisions["item"])
    not_pushed = 0 if queue is None else int((~queue["item"].isin(in_label_studio)).sum())
    return {
        "date": day,
        "items_in_label_studio": len(decisions),
        "labelled_new": int((new["status"] == "labelled").sum()),
        "skipped_new": int((new["status"] == "skipped").sum()),
        "status_counts": {
            s: int(counts.get(s, 0)) for s in ("labelled", "skipped", "adjudication", "pending")
        },
        "adjudication_created": len(data),
        "tasks_refused": len(refused),
        "queued_not_pushed": not_pushed,
        "landing_file": landing.url(landing_key) if landing_key else None,
        "landing_rows": len(rows),
        "pull_run": run_id,
    }


def _answers(text: str) -> list[tuple[str, str]]:
    pairs = [part.split(": ", 1) for part in str(text).split("; ") if ": " in part]
    return [(who, label) for who, label in pairs]

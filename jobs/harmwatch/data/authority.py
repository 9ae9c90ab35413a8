"""Which landing files speak for the review loop: the ones the review-pull ledger vouches for.

A label from the review loop has powers an ordinary label lacks: its landing file is spared the class-mix
rejection (the queue's mix is not the platform's), it settles a text that moderators labelled both ways,
and it is never held out for evaluation. Those powers come from a record, never from a file name: a
committed review-pull run lists the landing key it wrote and the sha256 of its bytes, and ingest records
the sha256 of every file it takes. A ``review-*.csv`` that the ledger does not list, or whose bytes differ
from what review-pull wrote, is an ordinary labelled file, and the reason is logged and reported.
Files ingested or pulled before digests were recorded have no digest and are ordinary files too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from harmwatch.data import catalog
from harmwatch.storage import Store


def digest(data: bytes) -> str:
    """The sha256 of a landing file's bytes, as review-pull and ingest record it."""
    return hashlib.sha256(data).hexdigest()


def pull_ledger(lake: Store) -> dict[str, str]:
    """Landing key -> sha256 of every moderator-label file a committed review-pull run wrote."""
    out: dict[str, str] = {}
    for m in lake.committed(catalog.REVIEW_PULLS):
        if m.get("landing_file") and m.get("landing_sha256"):
            out[m["landing_file"]] = m["landing_sha256"]
    return out


def vouch(sources: Iterable[dict], ledger: dict[str, str]) -> tuple[set[str], dict[str, str]]:
    """(landing keys the ledger vouches for, review-named keys it does not -> why).

    ``sources``: the ``sources`` entries of ingest manifests (``key`` and ``sha256``)."""
    vouched: set[str] = set()
    refused: dict[str, str] = {}
    for s in sources:
        key, sha = s.get("key", ""), s.get("sha256")
        if key in ledger and sha == ledger[key]:
            vouched.add(key)
        elif key in ledger:
            refused[key] = "its bytes differ from what review-pull wrote (sha256 mismatch)"
        elif catalog.is_review_name(key):
            refused[key] = "named like a review-pull file but no review-pull run wrote it"
    return vouched - set(refused), refused


def reviewed_files(lake: Store) -> tuple[set[str], dict[str, str]]:
    """:func:`vouch` over every committed labelled ingest run of the lake."""
    sources = [s for m in lake.committed(catalog.ingest_runs("labelled")) for s in m.get("sources", [])]
    return vouch(sources, pull_ledger(lake))


def refusal_lines(refused: dict[str, str]) -> list[str]:
    """One line per refused file, for the log and the summary."""
    return [f"{key}: taken as an ordinary labelled file: {why}" for key, why in sorted(refused.items())]

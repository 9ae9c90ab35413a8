"""A small landing zone whose review queue holds every kind of item, built through the real steps."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from harmwatch.config import CLASSES
from tests.conftest import run_cli

DAY = "2026-01-02"
# Texts moderators labelled both ways (to review), and one post only two users reported (held back).
CONFLICTS = {
    "you people never learn, go back to school": ("not_cyberbullying", "other_cyberbullying"),
    "that match last night was a total joke": ("not_cyberbullying", "other_cyberbullying"),
    "nobody asked for your opinion on this": ("gender", "other_cyberbullying"),
}
REPORTED = "typical of that whole religion to whine about it"


def write_landing(landing: Path) -> None:
    rows = []
    for c in CLASSES:
        rows += [(f"{c}-{i}", f"a clear {c} example number {i} {'x' * i}", c) for i in range(8)]
    for n, (text, labels) in enumerate(CONFLICTS.items()):
        rows += [(f"conflict-{n}-{j}", text, label) for j, label in enumerate(labels)]
    frame = pd.DataFrame(rows, columns=["post_id", "text", "label"])
    frame["labelled_at"] = "2026-01-01T10:00:00Z"
    frame["labeller_id"] = "mod-01"
    bulk = landing / "labelled" / "dt=2026-01-01" / "bulk.csv"
    bulk.parent.mkdir(parents=True)
    frame.to_csv(bulk, index=False)
    reports = landing / "reports" / f"dt={DAY}" / "reports.jsonl"
    reports.parent.mkdir(parents=True)
    lines = [
        {
            "report_id": f"r{i}",
            "post_id": "reported-1",
            "text": REPORTED,
            "reporter_id": f"user-{i}",
            "reason": "religion",
            "reported_at": f"{DAY}T0{i}:00:00Z",
        }
        for i in range(2)
    ]
    reports.write_text("\n".join(json.dumps(r) for r in lines) + "\n")


def build(env: dict[str, str], day: str = DAY) -> dict:
    """ingest, validate, build-dataset as the retrain DAG runs them; the build-dataset summary."""
    summary = {}
    for step in ("ingest", "validate", "build-dataset"):
        proc = run_cli(step, f"--date={day}", env=env)
        assert proc.returncode == 0, f"{step}: {proc.stderr[-2000:]}"
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
    return summary

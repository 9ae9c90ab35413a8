"""`make demo`: seed a landing zone from the real dataset and run the pipeline on it.

Runs each step as the `harmwatch` command (as the DAG's local runner does), day by day, and prints
a short summary. State lives under HARMWATCH_HOME (default .harmwatch/); the demo starts from a
clean slate each time so its figures are reproducible.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
START, DAYS = "2026-01-01", ["2026-01-01", "2026-01-02"]


def step(*args: str) -> dict:
    print(f"$ harmwatch {' '.join(args)}", flush=True)
    proc = subprocess.run([str(BIN / "harmwatch"), *args], stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.exit(f"demo: `harmwatch {' '.join(args)}` failed (exit {proc.returncode}); see the line above")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    home = Path(os.environ.setdefault("HARMWATCH_HOME", ".harmwatch")).resolve()
    for sub in ("landing", "lake", "reports"):
        shutil.rmtree(home / sub, ignore_errors=True)
    sim = step("simulate", "--start", START, "--days", "7")
    print(f"  landing zone: {sim['files']} files, {sim['labelled_rows']} labelled rows, "
          f"{sim['report_rows']} reports")
    for day in DAYS:
        ing = step("ingest", "--date", day)
        val = step("validate", "--date", day)
        print(f"  {day}: ingested {ing['files']} files, {val['rows_in']} rows in, {val['rows_valid']} valid, "
              f"{val['rows_quarantined']} quarantined, {val['conflicting_label_rows']} rows with "
              f"conflicting labels")
        for page in val["report_html"]:
            print(f"    validation report: {page}")
    print("demo: done")


if __name__ == "__main__":
    main()

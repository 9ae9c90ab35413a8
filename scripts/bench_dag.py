"""DAG benchmark: harmful_content_retrain end to end next to the sum of its steps' own times.

    python scripts/bench_dag.py [--mode dags-test|scheduler|both] [--day 2026-01-01] [--json OUT]

Each mode starts from a fresh HARMWATCH_HOME seeded from the full dataset (``harmwatch simulate``)
and runs one DAG run for ``--day`` (default the bulk day) with the local runner:

- ``dags-test``: ``airflow dags test`` (what ``make demo`` does);
- ``scheduler``: ``scripts/up.sh`` (API server, scheduler, DAG processor, LocalExecutor), a run
  triggered through the REST API, ``scripts/down.sh`` (what ``make up`` and the browser test do).

Figures per mode: ``end_to_end_s`` (dags-test: the whole command; scheduler: run start to end as
recorded by Airflow), ``tasks_s`` (sum of the task instances' durations), ``steps_s`` (sum of the
``harmwatch`` processes' own wall times, pushed by the task helper as XCom ``step_seconds``),
``overhead_s = end_to_end_s - steps_s`` and ``overhead_pct = overhead_s / end_to_end_s``. Targets:
end to end <= 90 s on the full dataset, orchestration overhead <= 20 %.

From Python: ``bench(mode, day) -> dict`` (bench/run.py can import this file by path).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import airflow_env as af

DAG_ID = "harmful_content_retrain"
REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _seed(env: dict[str, str], day: str) -> None:
    proc = subprocess.run(
        [env["HARMWATCH_BIN"], "simulate", "--start", day, "--days", "1"],
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"harmwatch simulate failed: {proc.stderr.strip().splitlines()[-1:]}")


def _figures(mode: str, run: af.DagRun, end_to_end: float) -> dict[str, Any]:
    steps = run.step_own_seconds
    return {
        "mode": mode,
        "state": run.state,
        "end_to_end_s": round(end_to_end, 2),
        "tasks_s": round(run.steps_seconds, 2),
        "steps_s": round(steps, 2),
        "overhead_s": round(end_to_end - steps, 2),
        "overhead_pct": round(100 * (end_to_end - steps) / end_to_end, 1) if end_to_end else None,
        "per_task": {
            t.task_id: {"state": t.state, "task_s": t.duration, "step_s": t.step_seconds}
            for t in run.tasks.values()
        },
    }


def bench(mode: str = "dags-test", day: str = "2026-01-01", keep: Path | None = None) -> dict[str, Any]:
    """One DAG run on a fresh home; returns the figures (see the module docstring)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"harmwatch-bench-{mode}-"))
    home = keep or tmp / "hw"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HARMWATCH_", "AIRFLOW"))}
    base["HARMWATCH_HOME"] = str(home)
    if os.environ.get("HARMWATCH_SOURCE_CSV"):
        base["HARMWATCH_SOURCE_CSV"] = os.environ["HARMWATCH_SOURCE_CSV"]
    else:
        base["HARMWATCH_SOURCE_CSV"] = str(REPO.parent / "shared" / "data" / "cyberbullying_tweets.csv")
    try:
        if mode == "dags-test":
            env = af.airflow_env(base)
            _seed(env, day)
            af.migrate(env, log=tmp / "migrate.log")
            run = af.dags_test(env, DAG_ID, day, log=tmp / "dags-test.log")
            return _figures(mode, run, run.wall_seconds or 0.0)
        if mode == "scheduler":
            base["HARMWATCH_AIRFLOW_PORT"] = str(_free_port())
            base["HARMWATCH_MLFLOW_PORT"] = str(_free_port())
            env = af.airflow_env(base, api_port=int(base["HARMWATCH_AIRFLOW_PORT"]))
            _seed(env, day)
            subprocess.run([str(REPO / "scripts" / "up.sh")], env=base, check=True, capture_output=True)
            try:
                password = (home / "run" / "airflow-admin-password.txt").read_text().strip()
                api = af.AirflowAPI(f"http://127.0.0.1:{base['HARMWATCH_AIRFLOW_PORT']}", password)
                run_id = api.trigger(DAG_ID, day)
                info = api.wait(DAG_ID, run_id)
                run = af.dag_run(env, DAG_ID, run_id)
                start = datetime.fromisoformat(info["start_date"].replace("Z", "+00:00"))
                end = datetime.fromisoformat(info["end_date"].replace("Z", "+00:00"))
                return _figures(mode, run, (end - start).total_seconds())
            finally:
                subprocess.run([str(REPO / "scripts" / "down.sh")], env=base, capture_output=True)
        raise ValueError(f"unknown mode {mode!r}")
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["dags-test", "scheduler", "both"], default="both")
    parser.add_argument("--day", default="2026-01-01")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    modes = ["dags-test", "scheduler"] if args.mode == "both" else [args.mode]
    results = []
    for mode in modes:
        r = bench(mode, args.day)
        results.append(r)
        print(
            f"{mode:<10} {r['state']:<8} end-to-end {r['end_to_end_s']:6.1f}s  tasks {r['tasks_s']:6.1f}s  "
            f"steps {r['steps_s']:6.1f}s  overhead {r['overhead_s']:5.1f}s ({r['overhead_pct']}%)"
        )
        for task, f in r["per_task"].items():
            state, task_s, step_s = f["state"] or "-", f["task_s"] or 0, f["step_s"] or 0
            print(f"    {task:<14} {state:<10} task {task_s:6.1f}s  step {step_s:6.1f}s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if all(r["state"] == "success" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Section ``dag``: the retrain DAG through Airflow end to end, next to the sum of its steps' own times.

Each run starts from a fresh HARMWATCH_HOME seeded from the full dataset (``harmwatch simulate``) and runs
one DAG run for the bulk day with the local runner, in one of two modes:

- ``dags-test``: ``airflow dags test`` (what ``make demo`` does);
- ``scheduler``: ``scripts/up.sh`` (API server, scheduler, DAG processor, LocalExecutor, on free ports),
  a run triggered through the REST API, ``scripts/down.sh`` (what ``make up`` and the browser test do).

Figures per run: ``end_to_end_s`` (dags-test: the whole command; scheduler: run start to end as recorded
by Airflow), ``tasks_s`` (sum of the task instances' durations), ``steps_s`` (sum of the ``harmwatch``
processes' own wall times, pushed by the task helper as XCom ``step_seconds``), ``overhead_s =
end_to_end_s - steps_s`` and ``overhead_pct = overhead_s / end_to_end_s``: what orchestration costs
beyond the work itself. The first mode is the headline; the others are reported beside it.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.core import BULK, ROOT, Options, free_port, load1, step_env
from devstack import airflow as af

DAG_ID = "harmful_content_retrain"
MODES = ("dags-test", "scheduler")
FIGURES = ("end_to_end_s", "tasks_s", "steps_s", "overhead_s", "overhead_pct", "load1")


def figures(mode: str, run: af.DagRun, end_to_end: float) -> dict[str, Any]:
    """The run's figures (see the module docstring), per task too."""
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


def _scheduler(base: dict[str, str], env: dict[str, str], home: Path, day: str) -> dict[str, Any]:
    """One run through make up's stack; the stack is stopped whatever happens."""
    subprocess.run([str(ROOT / "scripts" / "up.sh")], env=base, check=True, capture_output=True)
    try:
        password = (home / "run" / "airflow-admin-password.txt").read_text().strip()
        api = af.AirflowAPI(f"http://127.0.0.1:{base['HARMWATCH_AIRFLOW_PORT']}", password)
        run_id = api.trigger(DAG_ID, day)
        info = api.wait(DAG_ID, run_id)
        run = af.dag_run(env, DAG_ID, run_id)
        start = datetime.fromisoformat(info["start_date"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(info["end_date"].replace("Z", "+00:00"))
        return figures("scheduler", run, (end - start).total_seconds())
    finally:
        subprocess.run([str(ROOT / "scripts" / "down.sh")], env=base, capture_output=True)


def dag_once(mode: str, source: Path, day: str = BULK) -> dict[str, Any]:
    """One DAG run on a fresh home; returns its figures."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    tmp = Path(tempfile.mkdtemp(prefix=f"hw-bench-{mode}-"))
    home = tmp / "hw"
    base = step_env(home, source, log_level=None)
    try:
        if mode == "dags-test":
            env = af.airflow_env(base)
            af.simulate(env, day)
            af.migrate(env, log=tmp / "migrate.log")
            run = af.dags_test(env, DAG_ID, day, log=tmp / "dags-test.log")
            return figures(mode, run, run.wall_seconds or 0.0)
        base.update(
            HARMWATCH_AIRFLOW_PORT=str(free_port()),
            HARMWATCH_MLFLOW_PORT=str(free_port()),
            HARMWATCH_LABEL_STUDIO_PORT=str(free_port()),
        )
        env = af.airflow_env(base)
        af.simulate(env, day)
        return _scheduler(base, env, home, day)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def summarise(mode: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the successful runs of one mode, overall and per task."""
    ok = [r for r in results if r["state"] == "success"]
    if not ok:
        return {"mode": mode, "runs": len(results), "all": results, "median": {}, "per_task": {}}
    med = {k: round(statistics.median(r[k] for r in ok), 2) for k in FIGURES}
    per_task = {
        task: {
            "median_task_s": round(statistics.median(r["per_task"][task]["task_s"] or 0 for r in ok), 2),
            "median_step_s": round(statistics.median(r["per_task"][task]["step_s"] or 0 for r in ok), 2),
        }
        for task in ok[0]["per_task"]
    }
    return {"mode": mode, "runs": len(ok), "median": med, "per_task": per_task, "all": results}


def run(opts: Options) -> dict[str, Any]:
    """``opts.dag_repeats`` runs per mode; a failed run is recorded and the others go on."""
    out: dict[str, Any] = {}
    for mode in opts.dag_modes:
        results = []
        for i in range(opts.dag_repeats):
            load = load1()
            try:
                r = dag_once(mode, opts.source)
            except Exception as exc:  # recorded, the other runs go on
                print(f"dag: {mode} run {i + 1}/{opts.dag_repeats} failed: {exc}", flush=True)
                results.append({"state": "error", "error": str(exc)[:500], "load1": load})
                continue
            results.append({**r, "load1": load})
            print(
                f"dag: {mode} run {i + 1}/{opts.dag_repeats} {r['state']} end-to-end {r['end_to_end_s']} s, "
                f"steps {r['steps_s']} s, overhead {r['overhead_pct']} % (load {load})",
                flush=True,
            )
        out[mode] = summarise(mode, results)
    head = opts.dag_modes[0]
    return {
        **out[head],
        "errors": [r["error"] for m in out.values() for r in m["all"] if "error" in r],
        "modes": {m: v for m, v in out.items() if m != head},
    }

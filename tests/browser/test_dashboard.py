"""The platform over time in a browser: the dashboard ``make up`` serves shows both days of a demo-like run.

A HARMWATCH_HOME holds what two days of the pipeline leave behind, each written by the code that writes
it in the pipeline: the moderation metrics of both batches (:mod:`harmwatch.monitoring.moderation` on
real posts, with a co-reporting cohort on day 2 that raises the brigade alarm), a drift record per day
(:mod:`harmwatch.monitoring.drift_decision` on real posts), build-dataset's review queues, and in an
MLflow registry two versions whose runs carry ``evaluation/decision.json`` (the second promoted on day 2).
Then ``python -m devstack.dashboard build`` and ``serve`` run as scripts/up.sh runs them, on a free
port; Chromium opens the project, and the screenshot goes to ``test-artifacts/browser/dashboard.png``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from devstack.dashboard import PROJECT_ID
from harmwatch.config import load_settings
from harmwatch.data import catalog
from harmwatch.storage import open_store
from tests.conftest import REPO, free_port, wait_http

pytestmark = [pytest.mark.browser, pytest.mark.server]

DAYS = ("2026-01-01", "2026-01-02")
SHOTS = REPO / "test-artifacts" / "browser"


def posts(source_csv: Path, start: int, n: int) -> pd.DataFrame:
    """Rows ``start`` to ``start + n`` of the real dataset, shuffled once (the file is sorted by class)."""
    frame = pd.read_csv(source_csv).sample(frac=1.0, random_state=7).iloc[start : start + n]
    return frame.rename(columns={"tweet_text": "text", "cyberbullying_type": "label"}).reset_index(drop=True)


def write_moderation(reports, source_csv: Path) -> None:
    """moderation.json of day 2 (both batches), as `harmwatch metrics` writes it."""
    from harmwatch.monitoring.moderation import alarms, batch_metrics, brigade_signals

    labelled, reports_rows = [], []
    for i, day in enumerate(DAYS):
        day_posts = posts(source_csv, i * 300, 300).assign(
            post_id=lambda f, i=i: [f"p{i}-{k}" for k in range(len(f))],
            labelled_at=f"{day}T12:00:00Z",
            batch_dt=day,
        )
        labelled.append(day_posts[["post_id", "text", "label", "labelled_at", "batch_dt"]])
        # one honest report each on posts 30.. (40 on day 1, 200 on day 2); on day 2, eight accounts
        # report the same thirty posts 0..29 together: a co-reporting cohort
        pairs = [(f"h{i}-{k}", k) for k in range(30, 70 if i == 0 else 230)]
        pairs += [(f"b{b}", k) for b in range(8) for k in range(30)] if i else []
        for reporter, k in pairs:
            post = day_posts.iloc[k]
            reports_rows.append(
                {
                    "report_id": f"{reporter}-{post.post_id}",
                    "post_id": post.post_id,
                    "text": post.text,
                    "reporter_id": reporter,
                    "reason": "religion",
                    "reported_at": f"{day}T10:00:00Z",
                    "batch_dt": day,
                }
            )
    lab, rep = pd.concat(labelled, ignore_index=True), pd.DataFrame(reports_rows)
    rows = []
    for day in DAYS:
        m = batch_metrics(day, lab, rep, None, 3)
        m.update(brigade_signals(day, rep[rep["batch_dt"] <= day], 14))
        rows.append({**m, "alarms": alarms(m, 0.02)})
    assert rows[-1]["alarms"], "day 2's cohort raises the brigade alarm"
    reports.write_json(
        f"{catalog.metrics_day(DAYS[-1])}/moderation.json", {"champion_version": "2", "batches": rows}
    )


def write_drift(reports, source_csv: Path) -> None:
    from harmwatch.monitoring.drift_decision import assess, results
    from harmwatch.monitoring.drift_inputs import prepare

    reference = prepare(posts(source_csv, 0, 200))
    for i, day in enumerate(DAYS):
        verdict, snapshot = assess(reference, prepare(posts(source_csv, 5000 + 3000 * i, 200)))
        record = results(verdict, snapshot, {"day": day})
        reports.write_text(f"{catalog.drift_report(day)}/drift.json", json.dumps(record, default=str))


def write_queues(lake, source_csv: Path) -> None:
    for i, day in enumerate(DAYS):
        prefix = catalog.review_queue(f"q{i}")
        queue = posts(source_csv, 100 * i, 30 + 20 * i).assign(
            source=["reports", "moderators"] * (15 + 10 * i), first_seen=f"{DAYS[0]}T08:00:00Z"
        )
        lake.write_parquet(f"{prefix}/{catalog.REVIEW_FILE}", queue)
        lake.commit(prefix, [catalog.REVIEW_FILE], {"date": day, "rows": len(queue)})


def write_registry(settings, tmp: Path) -> None:
    """Two versions of the model, each run with its decision.json; v2 promoted on day 2."""
    from harmwatch import registry

    client = registry.configure_mlflow(settings)
    client.create_registered_model(settings.model_name)
    experiment = client.get_experiment_by_name("harmwatch").experiment_id
    for version, (day, macro_f1) in enumerate(zip(DAYS, (0.87, 0.88), strict=True), start=1):
        run = client.create_run(experiment)
        decision = {
            "date": day,
            "decision": "promote",
            "thresholds": {"min_macro_f1": 0.85},
            "challenger": {"version": version, "metrics": {"macro_f1": macro_f1}},
            "gates": {"golden": {"value": {"overall": 0.7, "must_flag": 0.8, "benign": 0.7}}},
        }
        path = tmp / f"v{version}" / "decision.json"
        path.parent.mkdir()
        path.write_text(json.dumps(decision))
        client.log_artifact(run.info.run_id, str(path), "evaluation")
        client.create_model_version(settings.model_name, f"runs:/{run.info.run_id}/model", run.info.run_id)
        client.set_model_version_tag(settings.model_name, str(version), "harmwatch.promoted_on", day)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, source_csv: Path) -> Path:
    home = tmp_path_factory.mktemp("dashboard") / "hw"
    settings = load_settings(home=home)
    write_moderation(open_store(settings.reports_uri, settings), source_csv)
    write_drift(open_store(settings.reports_uri, settings), source_csv)
    write_queues(open_store(settings.lake_uri, settings), source_csv)
    write_registry(settings, tmp_path_factory.mktemp("decisions"))
    return home


@pytest.fixture(scope="module")
def dashboard(home: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARMWATCH_", "MLFLOW_TRACKING_"))}
    env.update(HARMWATCH_HOME=str(home), PYTHONPATH=os.pathsep.join(sys.path))
    build = subprocess.run(
        [sys.executable, "-m", "devstack.dashboard", "build"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    assert json.loads(build.stdout.strip().splitlines()[-1])["days"] == list(DAYS)
    serve = subprocess.Popen(
        [sys.executable, "-m", "devstack.dashboard", "serve", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/api/projects", timeout=180, proc=serve)
        yield url
    finally:
        os.killpg(serve.pid, signal.SIGTERM)  # the process group it leads, by its PID
        try:
            serve.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait(timeout=10)


def test_the_project_holds_one_snapshot_per_day(dashboard: str) -> None:
    with urllib.request.urlopen(f"{dashboard}/api/projects/{PROJECT_ID}/snapshots", timeout=30) as resp:
        snapshots = json.loads(resp.read())
    assert sorted(s["timestamp"][:10] for s in snapshots) == list(DAYS)


def test_the_dashboard_shows_both_days_in_a_browser(dashboard: str, browser) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{dashboard}/projects/{PROJECT_ID}", timeout=60_000)
        page.get_by_text("Prevalence among reviewed posts").wait_for(timeout=60_000)
        page.get_by_text("Column drift scores").wait_for(timeout=60_000)
        page.wait_for_load_state("networkidle", timeout=60_000)
        page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)
        text = page.inner_text("body")
    finally:
        page.close()
    for title in (
        "harmwatch: the platform over time",
        "Brigade alarms raised",
        "Drift verdict",
        "Review queue by source",
        "Macro-F1 on the frozen evaluation snapshot",
    ):
        assert title in text, title
    assert f"({DAYS[0]} to {DAYS[1]}, 2 day(s))" in text
    for day in DAYS:  # the day axis of the plots
        assert text.count(day) >= 5, f"{day} is on too few plots"
    assert "No figures yet" in text  # the Label Studio loop did not run: its panel says what feeds it

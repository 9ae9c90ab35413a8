"""``harmwatch drift`` as the DAG and a user run it: file mode, pipeline mode, errors, S3 output."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date

import boto3
import numpy as np
import pandas as pd
import pytest

from harmwatch.config import load_settings
from harmwatch.steps import drift
from harmwatch.storage import open_store
from tests.conftest import VENV_BIN, run_cli
from tests.drift.helpers import register_champion, run_step, write_validated
from tests.factories import labelled_rows

pytestmark = pytest.mark.model

DAYS = [f"2026-01-0{d}" for d in range(1, 9)]


def summary_of(result) -> dict:
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


ALL_SIGNALS = {"text_descriptors", "text_content", "prediction", "label", "emerging_terms", "class_mix"}


def test_file_mode_same_distribution_no_drift_with_file_predictions(tmp_path, hw_env, posts):
    cyber = posts["cyber"].sample(frac=1.0, random_state=11)
    cols = ["post_id", "text", "label", "pred_label", "harmful_score"]
    cyber.iloc[:3000][cols].to_csv(tmp_path / "ref.csv", index=False)
    cyber.iloc[3000:3800][cols].to_parquet(tmp_path / "cur.parquet")
    out = tmp_path / "out"
    s = summary_of(
        run_cli(
            "drift",
            "--reference",
            str(tmp_path / "ref.csv"),
            "--current",
            str(tmp_path / "cur.parquet"),
            "--out",
            str(out),
        )
    )
    assert s["drift_detected"] is False and s["drift_score"] == 0.0
    assert s["report_html"] == str(out / "drift.html") and (out / "drift.html").is_file()
    assert set(s["signals"]) == ALL_SIGNALS
    assert s["prediction_source"] == "input files" and s["mlflow_run_id"] is None
    results = json.loads((out / "drift.json").read_text())
    assert results["drift_score"] == s["drift_score"] and results["evidently"]["metrics"]


@pytest.mark.server
def test_file_mode_tweeteval_drift_written_to_s3(tmp_path, hw_env, posts, moto_server):
    moto_server.create_bucket("hw-reports")
    posts["cyber"].iloc[:3000][["text", "label"]].to_csv(tmp_path / "ref.csv", index=False)
    posts["tweeteval"].iloc[:800][["text"]].to_csv(tmp_path / "cur.csv", index=False)
    s = summary_of(
        run_cli(
            "drift",
            "--reference",
            str(tmp_path / "ref.csv"),
            "--current",
            str(tmp_path / "cur.csv"),
            "--out",
            "s3://hw-reports/adhoc",
        )
    )
    assert s["drift_detected"] is True and s["drift_score"] > 0.5
    assert (
        s["signals"]["text_content"]["drift_detected"] and s["signals"]["text_descriptors"]["drift_detected"]
    )
    assert "label" not in s["signals"]  # the current file has no labels
    assert "no --model-uri and no champion" in s["prediction_skipped"]
    assert s["report_html"] == "s3://hw-reports/adhoc/drift.html"
    s3 = boto3.client("s3", endpoint_url=moto_server.endpoint, region_name="us-east-1")
    page = s3.get_object(Bucket="hw-reports", Key="adhoc/drift.html")["Body"].read().decode()
    assert "DRIFT DETECTED" in page and "<script src=" not in page  # self-contained, no CDN


def test_runs_without_any_network(tmp_path, hw_env, posts):
    """No NLTK corpus, CDN or telemetry fetch at run time: the step runs in an empty network namespace."""
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-n", "true"], capture_output=True).returncode != 0:
        pytest.fail(
            "network namespaces unavailable (unshare -n needs CAP_SYS_ADMIN): the no-network check cannot run"
        )
    posts["cyber"].iloc[:600][["text", "label"]].to_csv(tmp_path / "ref.csv", index=False)
    posts["tweeteval"].iloc[:200][["text"]].to_csv(tmp_path / "cur.csv", index=False)
    harmwatch = str(VENV_BIN / "harmwatch")
    argv = [
        harmwatch,
        "drift",
        "--reference",
        str(tmp_path / "ref.csv"),
        "--current",
        str(tmp_path / "cur.csv"),
    ]
    r = subprocess.run([unshare, "-n", *argv, "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert summary_of(r)["drift_detected"] is True


@pytest.mark.parametrize(
    "content, message",
    [("tweet,label\nhello,age\n", "no 'text' column"), (None, "cannot read")],
)
def test_bad_input_is_one_clear_line(tmp_path, hw_env, content, message):
    ref = tmp_path / "ref.csv"
    if content is not None:
        ref.write_text(content)
    r = run_cli("drift", "--reference", str(ref), "--current", str(ref))
    assert r.returncode == 3 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert message in lines[-1] and str(ref) in lines[-1] and lines[-1].startswith("harmwatch drift: error:")


def test_pipeline_mode_with_nothing_to_compare_skips_and_says_why(tmp_path, hw_env, posts):
    s = summary_of(run_cli("drift"))  # a fresh install: no champion yet
    assert s["drift_detected"] is None and s["report_html"] is None and "no champion" in s["skipped"]
    posts["cyber"].iloc[:500][["text"]].to_csv(tmp_path / "ref.csv", index=False)
    s = summary_of(run_cli("drift", "--reference", str(tmp_path / "ref.csv")))  # an empty lake
    assert s["drift_detected"] is None and "no validated batches" in s["skipped"]
    settings = load_settings()
    day = posts["cyber"].iloc[500:510].assign(batch_dt=DAYS[0])
    write_validated(open_store(settings.lake_uri), "labelled", "quiet", labelled_rows(day, DAYS[0]))
    s = summary_of(run_cli("drift", "--reference", str(tmp_path / "ref.csv")))  # a quiet day
    assert s["drift_detected"] is None and s["rows_current"] == 10 and "only 10 posts" in s["skipped"]


def build_lake(settings, cyber: pd.DataFrame, reference: pd.DataFrame) -> None:
    """Eight daily batches of 200 labelled posts; reports on them, a spike of reports on the last day.

    The last day also relabels 50 posts that are in the reference sample: drift must not compare a
    post with itself."""
    lake = open_store(settings.lake_uri)
    rng = np.random.default_rng(5)
    rest = cyber[~cyber["post_id"].isin(reference["post_id"])].reset_index(drop=True)
    for i, day in enumerate(DAYS):
        batch = rest.iloc[i * 200 : (i + 1) * 200]
        if day == DAYS[-1]:
            batch = pd.concat([batch.iloc[:150], reference.iloc[:50]])
        write_validated(lake, "labelled", f"lab{i}", labelled_rows(batch, day))
        n = 400 if day == DAYS[-1] else 40 + i % 3
        picks = batch.iloc[rng.integers(0, len(batch), n)]
        reports = pd.DataFrame(
            {
                "report_id": [f"{day}-{k}" for k in range(n)],
                "post_id": picks["post_id"].to_numpy(),
                "text": picks["text"].to_numpy(),
                "reporter_id": [f"r_{k % 20:02d}" for k in range(n)],
                "reason": "age",
                "reported_at": f"{day}T09:00:00Z",
                "batch_dt": day,
            }
        )
        write_validated(lake, "reports", f"rep{i}", reports)


def test_pipeline_mode_champion_reference_newest_batch_and_mlflow_lineage(hw_env, posts):
    from mlflow import MlflowClient

    settings = load_settings()
    cyber = posts["cyber"].sample(frac=1.0, random_state=3).reset_index(drop=True)
    reference = cyber.iloc[:3000][["post_id", "text", "label", "pred_label", "harmful_score"]]
    run_id, version = register_champion(settings, posts["model"], reference)
    build_lake(settings, cyber.iloc[3000:], reference)

    s = summary_of(run_cli("drift"))  # the DAG's call on settings defaults
    assert s["day"] == DAYS[-1] and s["champion_version"] == version
    assert s["report_html"] == f"{settings.reports_uri}/drift/dt={DAYS[-1]}/drift.html"
    assert s["rows_current"] == 200 and s["rows_reference"] == 2950  # the 50 relabelled posts left out
    assert s["prediction_source"] == "champion"
    assert set(s["signals"]) == ALL_SIGNALS
    assert s["drift_detected"] is False, s["signals"]
    assert s["volume_anomaly"] is True and s["report_volume"]["reports"] == 400
    assert s["mlflow_run_id"] == run_id
    client = MlflowClient(settings.mlflow_tracking_uri, settings.mlflow_registry_uri)
    logged = {f.path for f in client.list_artifacts(run_id, f"drift/dt={DAYS[-1]}")}
    assert logged == {f"drift/dt={DAYS[-1]}/drift.html", f"drift/dt={DAYS[-1]}/drift.json"}
    [point] = client.get_metric_history(run_id, "drift_score")
    assert point.step == (date.fromisoformat(DAYS[-1]) - date(1970, 1, 1)).days

    s = run_step(drift, "--date", DAYS[4], "--window-days", "2")  # backfill of a past date
    assert s["day"] == DAYS[4] and s["rows_current"] == 400 and s["volume_anomaly"] is False
    assert s["report_html"].endswith(f"/drift/dt={DAYS[4]}/drift.html")
    assert len(client.get_metric_history(run_id, "drift_score")) == 2

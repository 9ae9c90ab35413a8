"""The S3-compatible server goes away in the middle of a run: one clear line, nothing lost, and a
rerun after recovery gives the same result as a run without the outage.

moto (server mode, 127.0.0.1) sits behind a proxy that the test cuts and restores; the server keeps
its state, so the recovery is real.
"""

from __future__ import annotations

import json

import pytest

from harmwatch.storage import open_store
from tests.conftest import run_cli, start_moto, stop_process
from tests.factories import landing_csv
from tests.reliability.proxy import TcpProxy

pytestmark = pytest.mark.server


@pytest.fixture
def s3(hw_env, monkeypatch):
    server = start_moto()
    proxy = TcpProxy(server.port)
    server.create_bucket("hw-lake")
    env = {
        **server.env(),
        "AWS_ENDPOINT_URL": proxy.endpoint,
        "HARMWATCH_S3_MAX_ATTEMPTS": "2",
        "HARMWATCH_LANDING_URI": "s3://hw-lake/landing",
        "HARMWATCH_LAKE_URI": "s3://hw-lake/lake",
        "HARMWATCH_REPORTS_URI": "s3://hw-lake/reports",
        "HARMWATCH_PSEUDONYM_KEY": "s3-outage-test-key-of-at-least-32-bytes",  # S3 refuses the dev key
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    landing = open_store("s3://hw-lake/landing")
    for day in range(1, 6):
        rows = [(f"p{day}-{i}", f"post {i} of day {day}", "age") for i in range(50)]
        landing.write_text(
            f"labelled/dt=2026-01-0{day}/batch.csv", landing_csv(rows, at=f"2026-01-0{day}T10:00:00Z")
        )
    try:
        yield proxy, env
    finally:
        proxy.cut()
        stop_process(server.proc)


def one_error_line(proc) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("harmwatch ")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_outage_mid_ingest_then_recovery(s3):
    proxy, env = s3
    proxy.cut_at(b"PUT", 2)  # S3 vanishes after ingest's first write, as it sends the second
    line = one_error_line(run_cli("ingest", env=env))
    assert "s3://hw-lake/" in line and "cannot" in line
    proxy.restore()
    lake = open_store("s3://hw-lake/lake")
    assert len(lake.list("ingest/labelled")) == 1  # the first write landed...
    assert lake.committed("ingest/labelled") == []  # ...but the half-written run is invisible
    summary = json.loads(run_cli("ingest", env=env).stdout.splitlines()[-1])
    assert summary["rows_in"] == 250
    val = json.loads(run_cli("validate", env=env).stdout.splitlines()[-1])
    assert (val["rows_in"], val["rows_valid"]) == (250, 250)


def test_outage_between_steps_then_recovery(s3):
    proxy, env = s3
    assert run_cli("ingest", env=env).returncode == 0
    proxy.cut()
    line = one_error_line(run_cli("validate", env=env))
    assert line.startswith("harmwatch validate: error: s3://hw-lake/lake")
    proxy.restore()
    val = json.loads(run_cli("validate", env=env).stdout.splitlines()[-1])
    assert val["rows_in"] == val["rows_valid"] == 250

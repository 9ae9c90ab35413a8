"""Ingest takes each landing file exactly once, by identity, locally and on S3."""

from __future__ import annotations

import json

import pytest

from harmwatch.data.landing import pseudonymise
from harmwatch.data.parsing import normalise_text
from harmwatch.storage import open_store
from tests.conftest import run_cli
from tests.factories import land, landing_csv


def land_posts(root, key: str, n: int, start: int = 0) -> None:
    land(root, key, landing_csv((f"p{i}", f"post {i}", "age") for i in range(start, start + n)))


def summary(proc) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_rerun_adds_nothing_and_new_file_adds_exactly_its_rows(hw_env):
    land_posts(hw_env / "landing", "labelled/dt=2026-01-01/a.csv", 5)
    land_posts(hw_env / "landing", "labelled/dt=2026-01-01/b.csv", 3, start=100)
    first = summary(run_cli("ingest"))
    assert (first["files"], first["rows_in"]) == (2, 8)
    again = summary(run_cli("ingest"))
    assert (again["files"], again["rows_in"]) == (0, 0)
    land_posts(hw_env / "landing", "labelled/dt=2026-01-02/c.csv", 4, start=200)
    third = summary(run_cli("ingest"))
    assert (third["files"], third["rows_in"]) == (1, 4)
    lake = open_store(str(hw_env / "lake"))
    total = sum(m["rows"] for m in lake.committed("ingest/labelled"))
    assert total == 12


def test_date_filter_leaves_later_partitions_for_later(hw_env):
    land_posts(hw_env / "landing", "labelled/dt=2026-01-01/a.csv", 2)
    land_posts(hw_env / "landing", "labelled/dt=2026-01-03/a.csv", 2, start=10)
    assert summary(run_cli("ingest", "--date", "2026-01-02"))["rows_in"] == 2
    assert summary(run_cli("ingest", "--date", "2026-01-03"))["rows_in"] == 2


def test_uncommitted_run_is_redone_not_duplicated(hw_env):
    """A run killed before its manifest leaves files that no reader sees; the rerun replaces them."""
    land_posts(hw_env / "landing", "labelled/dt=2026-01-01/a.csv", 3)
    first = summary(run_cli("ingest"))
    lake = open_store(str(hw_env / "lake"))
    run_id = first["kinds"]["labelled"]["run_id"]
    lake.delete(f"ingest/labelled/run={run_id}/_MANIFEST.json")  # as if killed just before committing
    second = summary(run_cli("ingest"))
    assert second["kinds"]["labelled"]["run_id"] == run_id and second["rows_in"] == 3
    assert sum(m["rows"] for m in lake.committed("ingest/labelled")) == 3


def test_ignored_files_are_reported(hw_env):
    path = hw_env / "landing" / "labelled" / "dt=2026-01-01" / "notes.txt"
    path.parent.mkdir(parents=True)
    path.write_text("hello")
    out = summary(run_cli("ingest"))
    assert out["kinds"]["labelled"]["ignored"][0]["key"].endswith("notes.txt")


def test_reporter_ids_are_pseudonymised(hw_env):
    path = hw_env / "landing" / "reports" / "dt=2026-01-01" / "r.jsonl"
    path.parent.mkdir(parents=True)
    rec = {
        "report_id": "r1",
        "post_id": "p1",
        "text": "t",
        "reporter_id": "alice@example.com",
        "reason": "age",
        "reported_at": "2026-01-01T00:00:00Z",
    }
    path.write_text(json.dumps(rec) + "\n")
    summary(run_cli("ingest", env={"HARMWATCH_PSEUDONYM_KEY": "k1"}))
    lake = open_store(str(hw_env / "lake"))
    m = lake.committed("ingest/reports")[0]
    rows = lake.read_parquet(f"{m['prefix']}/part-0000.parquet")
    assert rows.loc[0, "reporter_id"] == pseudonymise("alice@example.com", b"k1")
    assert rows.loc[0, "reporter_id"] != pseudonymise("alice@example.com", b"k2")
    for parquet in (hw_env / "lake").rglob("*.parquet"):
        assert b"alice@example.com" not in parquet.read_bytes()


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("I &amp; you &lt;3", "I & you <3"),
        ("multi\r\nline\n  text ", "multi line text"),
        ("ðŸ˜‚ lol", "😂 lol"),
        ("plain ascii stays", "plain ascii stays"),
    ],
)
def test_normalise_text(raw, clean):
    assert normalise_text(raw) == clean


@pytest.mark.server
def test_ingest_and_validate_on_s3(moto_server, hw_env):
    """Landing zone and lake on a real S3-compatible server (moto server mode on 127.0.0.1)."""
    moto_server.create_bucket("landing")
    moto_server.create_bucket("lake")
    landing = open_store("s3://landing/zone")
    landing.write_text("labelled/dt=2026-01-01/a.csv", landing_csv([("p1", "hi &amp; bye", "age")]))
    env = {
        "HARMWATCH_LANDING_URI": "s3://landing/zone",
        "HARMWATCH_LAKE_URI": "s3://lake/data",
        "HARMWATCH_REPORTS_URI": "s3://lake/reports",
        "HARMWATCH_PSEUDONYM_KEY": "s3-lake-test-key-of-at-least-32-bytes",  # S3 refuses the dev key
    }
    assert summary(run_cli("ingest", env=env))["rows_in"] == 1
    assert summary(run_cli("ingest", env=env))["rows_in"] == 0
    val = summary(run_cli("validate", env=env))
    assert (val["rows_in"], val["rows_valid"]) == (1, 1)
    lake = open_store("s3://lake/data")
    m = lake.committed("validated/labelled")[0]
    assert lake.read_parquet(f"{m['prefix']}/part-0000.parquet").loc[0, "text"] == "hi & bye"
    assert open_store("s3://lake/reports").exists(val["report_html"][0].split("s3://lake/reports/")[1])


@pytest.mark.slow
def test_no_raw_reporter_id_reaches_the_lake(hw_env):
    """Good, broken and hostile report lines through ingest and validate: every file the lake holds
    (Parquet tables, manifests, quarantines) is searched for the raw ids, and none is there."""
    ids = ["alice@example.com", "bob-secret-77", "carol-cut-off-id", "dave-nested-id", "4815162342"]
    good = {"report_id": "r1", "post_id": "p1", "text": "you are old", "reason": "age"}
    lines = [
        json.dumps({**good, "reporter_id": ids[0], "reported_at": "2026-01-01T10:00:00Z"}),
        json.dumps({**good, "report_id": "r2", "reporter_id": ids[1], "reported_at": "not a date"}),
        '{"report_id": "r3", "reporter_id": "' + ids[2],
        json.dumps({**good, "report_id": "r4", "reporter_id": "x1", "meta": {"reporter_id": ids[3]}}),
        '{"report_id": "r5", "reporter_id": ' + ids[4] + ', "text": }',
    ]
    path = hw_env / "landing" / "reports" / "dt=2026-01-01" / "hostile.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n")
    ingested = summary(run_cli("ingest", "--date", "2026-01-01"))
    validated = summary(run_cli("validate", "--date", "2026-01-01"))
    assert ingested["rows_in"] == 5 and validated["rows_quarantined"] >= 3, (ingested, validated)
    files = [p for p in (hw_env / "lake").rglob("*") if p.is_file()]
    assert any("quarantine" in str(p) for p in files)
    for rid in ids:
        holders = [str(p) for p in files if rid.encode() in p.read_bytes()]
        assert not holders, f"{rid} found in {holders}"

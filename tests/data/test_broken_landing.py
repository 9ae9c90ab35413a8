"""Nothing is lost and nothing crashes: every broken landing file gives a clear outcome.

Each case of tests/fixtures/broken_landing.py is landed alone, then ingested and validated through
the real CLI entry point. Every record must end in the lake or in the quarantine with a reason, and
no output may contain a traceback.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from harmwatch.cli import main
from harmwatch.config import load_settings
from harmwatch.storage import open_store
from tests.conftest import run_cli
from tests.fixtures.broken_landing import CASES, Case, write_case


def cli(capsys, *args: str) -> tuple[int, dict | None, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    summary = json.loads(out.strip().splitlines()[-1]) if code == 0 else None
    return code, summary, err


def lake_rows(lake_uri: str, prefix: str) -> pd.DataFrame:
    store = open_store(lake_uri)
    frames = [
        store.read_parquet(f"{m['prefix']}/{f['name']}") for m in store.committed(prefix) for f in m["files"]
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_broken_file_is_accounted_for(case: Case, hw_env, capsys):
    settings = load_settings()
    write_case(hw_env / "landing", case)
    code, ingested, err = cli(capsys, "ingest", "--date", "2026-01-01")
    assert code == 0, err
    code, validated, err = cli(capsys, "validate", "--date", "2026-01-01")
    assert code == 0, err
    if case.rows_in >= 0:
        assert ingested["rows_in"] == case.rows_in
    if ingested["rows_in"]:
        assert validated["rows_in"] == ingested["rows_in"]
    assert validated["rows_in"] == validated["rows_valid"] + validated["rows_quarantined"]
    assert validated["rows_valid"] == case.rows_valid
    parts = [lake_rows(settings.lake_uri, f"quarantine/{stage}") for stage in ("ingest", "validate")]
    quarantine = pd.concat(
        [p for p in parts if len(p)] or [pd.DataFrame(columns=["reason"])], ignore_index=True
    )
    assert len(quarantine) == validated["rows_quarantined"]
    if len(quarantine):
        assert quarantine["reason"].str.len().min() > 0, "every quarantined row has a reason"
        assert set(quarantine["source_file"]) == {case.key}
        assert quarantine["source_line"].min() >= 1
    for reason in case.reasons:
        assert quarantine["reason"].str.contains(reason, regex=False).any(), (
            reason,
            list(quarantine["reason"]),
        )


@pytest.mark.slow
def test_whole_corpus_through_real_cli(hw_env):
    """All broken files at once, as separate processes: exit 0, one JSON line, totals add up."""
    for case in CASES:
        write_case(hw_env / "landing", case)
    ing = run_cli("ingest")
    assert ing.returncode == 0 and "Traceback" not in ing.stderr, ing.stderr
    val = run_cli("validate", "--date", "2026-01-01")
    assert val.returncode == 0 and "Traceback" not in val.stderr, val.stderr
    summary = json.loads(val.stdout.strip().splitlines()[-1])
    assert summary["rows_in"] == json.loads(ing.stdout.splitlines()[-1])["rows_in"]
    assert summary["rows_in"] == summary["rows_valid"] + summary["rows_quarantined"]
    assert summary["rows_valid"] == sum(c.rows_valid for c in CASES)
    assert len(CASES) >= 15


def test_lineage_and_normalisation_kept(hw_env, capsys):
    case = next(c for c in CASES if c.name == "bom_crlf_quoted_newlines")
    write_case(hw_env / "landing", case)
    cli(capsys, "ingest")
    rows = lake_rows(load_settings().lake_uri, "ingest/labelled").sort_values("source_line")
    assert list(rows["source_line"]) == [2, 4]  # c1 spans lines 2-3
    assert rows.iloc[0]["text_raw"] == "line one\r\nline two" and rows.iloc[0]["text"] == "line one line two"
    assert "&amp;" in rows.iloc[1]["text_raw"] and rows.iloc[1]["text"].startswith("I & you")
    assert set(rows["source_file"]) == {case.key} and rows["ingest_run"].nunique() == 1


@pytest.mark.slow
def test_batch_level_failure_exits_non_zero_with_one_line(hw_env):
    """A big batch with a broken class mix is quarantined whole and fails the command."""
    lines = [f'p{i},"post number {i}",age,2026-01-01T10:00:00Z,m\n'.encode() for i in range(300)]
    path = hw_env / "landing" / "labelled" / "dt=2026-01-01" / "all_age.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"post_id,text,label,labelled_at,labeller_id\n" + b"".join(lines))
    assert run_cli("ingest").returncode == 0
    val = run_cli("validate", "--date", "2026-01-01")
    assert val.returncode == 3
    err_lines = [ln for ln in val.stderr.splitlines() if ln.startswith("harmwatch validate:")]
    assert len(err_lines) == 1 and "all_age.csv rejected" in err_lines[0] and "share_age" in err_lines[0]
    assert "Traceback" not in val.stderr
    quarantine = lake_rows(load_settings().lake_uri, "quarantine/validate")
    assert len(quarantine) == 300 and quarantine["reason"].str.startswith("batch rejected").all()
    again = run_cli("validate", "--date", "2026-01-01")  # an Airflow retry must not turn it green
    assert again.returncode == 3


@pytest.mark.slow
def test_high_invalid_share_rejects_batch(hw_env):
    classes = ["age", "gender", "religion", "ethnicity", "other_cyberbullying", "not_cyberbullying"]
    good = [f'g{i},"post {i}",{classes[i % 6]},2026-01-01T10:00:00Z,m\n'.encode() for i in range(200)]
    bad = [f'b{i},"post {i}",spam,2026-01-01T10:00:00Z,m\n'.encode() for i in range(100)]
    path = hw_env / "landing" / "labelled" / "dt=2026-01-01" / "spammy.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"post_id,text,label,labelled_at,labeller_id\n" + b"".join(good + bad))
    assert run_cli("ingest").returncode == 0
    val = run_cli("validate")
    assert val.returncode == 3 and "invalid_share" in val.stderr

"""One poisoned line, folder or file never stops ingest: it is quarantined or ignored with its reason, and
the rest of the run commits.

Each input here once made ``harmwatch ingest`` exit non-zero and commit nothing, the same way on every
retry, so every later day was blocked too. The inputs are built in the test; the command runs in-process.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harmwatch.cli import main
from harmwatch.data.suites import id_copies, ts_epoch
from harmwatch.data.validation_report import SAMPLE_CELL_CHARS, SAMPLE_TOTAL_CHARS, cap_sample
from harmwatch.htmlreport import render_validation_html
from harmwatch.storage import LocalStore, open_store
from tests.factories import LANDING_HEADER, report_line

T = "2026-01-01T10:00:00Z"
H = LANDING_HEADER.encode()


def put(home: Path, key: str, data: bytes) -> Path:
    path = home / "landing" / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def ingest(capsys, *args: str) -> dict:
    capsys.readouterr()
    code = main(["ingest", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in out + err
    return json.loads(out.strip().splitlines()[-1])


def quarantine(home: Path, kind: str) -> pd.DataFrame:
    lake = open_store(str(home / "lake"))
    keys = [o.key for o in lake.list(f"quarantine/ingest/{kind}") if o.key.endswith(".parquet")]
    return pd.concat([lake.read_parquet(k) for k in keys], ignore_index=True)


def test_integer_past_the_digit_limit_is_quarantined_not_fatal(hw_env, capsys):
    big = "{" + '"report_id": "r2", "n": ' + "9" * 5000 + "}"
    put(
        hw_env, "reports/dt=2026-01-01/a.jsonl", f"{report_line('r1')}\n{big}\n{report_line('r3')}\n".encode()
    )
    out = ingest(capsys)["kinds"]["reports"]
    assert (out["rows_in"], out["rows_parsed"], out["rows_quarantined"]) == (3, 2, 1)
    reasons = quarantine(hw_env, "reports")["reason"].tolist()
    assert reasons == [
        "invalid JSON (number too long: Exceeds the limit (4300 digits) for integer string conversion)"
    ]


def test_lone_surrogate_in_reporter_id_or_text_is_quarantined(hw_env, capsys):
    lines = [
        report_line("r1"),
        report_line("r2", reporter_id="\ud800"),
        report_line("r3", text="hi \udfff there"),
    ]
    body = "\n".join(lines).encode("ascii")  # json.dumps escapes the surrogates as \ud800 text
    assert b"\\ud800" in body
    put(hw_env, "reports/dt=2026-01-01/a.jsonl", body)
    out = ingest(capsys)["kinds"]["reports"]
    assert (out["rows_in"], out["rows_parsed"], out["rows_quarantined"]) == (3, 1, 2)
    q = quarantine(hw_env, "reports")
    assert q["reason"].str.contains("lone surrogate").all()
    assert q["source_line"].tolist() == [2, 3]


def test_invalid_partition_is_ignored_and_the_valid_ones_commit(hw_env, capsys):
    put(hw_env, "labelled/dt=2026-13-45/a.csv", H + f"p1,hello,age,{T},m\n".encode())
    put(hw_env, "labelled/dt=2026-01-01/a.csv", H + f"p2,hello,age,{T},m\n".encode())
    for args in ((), ("--date", "2026-01-02")):
        shutil.rmtree(hw_env / "lake", ignore_errors=True)
        out = ingest(capsys, *args)["kinds"]["labelled"]
        assert (out["files"], out["rows_parsed"]) == (1, 1)
        assert out["ignored"] == [
            {
                "key": "labelled/dt=2026-13-45/a.csv",
                "reason": "partition 'dt=2026-13-45' is not a YYYY-MM-DD date: not read",
            }
        ]
    manifest = open_store(str(hw_env / "lake")).committed("ingest/labelled")[0]
    assert manifest["ignored"] == out["ignored"]


def test_symlinks_and_fifos_in_a_local_landing_zone_are_ignored(hw_env, capsys, tmp_path):
    outside = tmp_path / "outside.csv"
    outside.write_bytes(H + f"x1,secret,age,{T},m\n".encode())
    day = hw_env / "landing/labelled/dt=2026-01-01"
    put(hw_env, "labelled/dt=2026-01-01/good.csv", H + f"p1,hello,age,{T},m\n".encode())
    (day / "link.csv").symlink_to(outside)
    (day / "dangling.csv").symlink_to(tmp_path / "gone.csv")
    os.mkfifo(day / "pipe.csv")
    (day / "linked-dir").symlink_to(tmp_path)
    out = ingest(capsys)["kinds"]["labelled"]
    assert (out["files"], out["rows_parsed"]) == (1, 1)
    reasons = {i["key"].rsplit("/", 1)[-1]: i["reason"] for i in out["ignored"]}
    assert reasons == {
        "dangling.csv": "dangling symbolic link, not a regular file: not read",
        "link.csv": "symbolic link, not a regular file: not read",
        "linked-dir": "symbolic link, not a regular file: not read",
        "pipe.csv": "FIFO, not a regular file: not read",
    }


def test_oversize_file_is_quarantined_whole_and_never_read(hw_env, capsys, monkeypatch):
    monkeypatch.setenv("HARMWATCH_LANDING_MAX_BYTES", "1000")
    put(hw_env, "labelled/dt=2026-01-01/small.csv", H + f"p1,hello,age,{T},m\n".encode())
    put(hw_env, "labelled/dt=2026-01-01/big.csv", H + f"p2,{'x' * 2000},age,{T},m\n".encode())
    for name in ("read_bytes", "open_read"):  # whole or streamed
        real = getattr(LocalStore, name)

        def guarded(self, key, real=real):
            assert not key.endswith("big.csv"), "the oversize file was read"
            return real(self, key)

        monkeypatch.setattr(LocalStore, name, guarded)
    out = ingest(capsys)["kinds"]["labelled"]
    assert (out["files"], out["rows_in"], out["rows_parsed"], out["rows_quarantined"]) == (2, 2, 1, 1)
    q = quarantine(hw_env, "labelled")
    assert q["source_file"].tolist() == ["labelled/dt=2026-01-01/big.csv"]
    assert "larger than the landing limit of 1000 bytes" in q["reason"].iloc[0]
    # Taken once: the operator splits the file; a rerun does not quarantine it again.
    assert ingest(capsys)["files"] == 0


# -- fuzz: a landing zone of hostile lines, folders and files ---------------------------------------
HOSTILE_LINES = [
    report_line("ok"),
    '{"report_id": "n", "n": ' + "1" * 4500 + "}",
    '{"report_id": "n", "n": -' + "7" * 6000 + ".5e3}",
    report_line("s", reporter_id="\ud800"),
    report_line("s", text="\udc00 tail"),
    '{"\\udbff": 1}',
    "[" * 5000 + "]" * 5000,
    '{"a": ' + "[" * 3000 + "]" * 3000 + "}",
    '{"report_id": "x"' + ', "k": {"k": ' * 2000 + "1" + "}" * 2001,
    "not json at all",
    "\x00",
]


@st.composite
def landing_zones(draw) -> list[tuple[str, str, bytes]]:
    """(how, key, bytes): files, symlinks, FIFOs under valid and invalid partitions."""
    out = []
    for i in range(draw(st.integers(1, 5))):
        day = draw(st.sampled_from(["2026-01-01", "2026-01-02", "2026-13-45", "2026-02-30", "x"]))
        how = draw(st.sampled_from(["file", "file", "file", "symlink", "dangling", "fifo", "oversize"]))
        lines = draw(st.lists(st.one_of(st.sampled_from(HOSTILE_LINES), st.text(max_size=30)), max_size=6))
        data = "\n".join(lines).encode("utf-8", "surrogatepass")
        out.append((how, f"reports/dt={day}/f{i}.jsonl", data))
    return out


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(zone=landing_zones())
def test_fuzzed_landing_zone_always_commits_and_accounts_for_every_row(zone, monkeypatch, capsys):
    home = Path(tempfile.mkdtemp(prefix="hw-poison-"))
    try:
        monkeypatch.setenv("HARMWATCH_HOME", str(home))
        monkeypatch.setenv("HARMWATCH_LANDING_MAX_BYTES", "20000")
        for how, key, data in zone:
            path = home / "landing" / key
            path.parent.mkdir(parents=True, exist_ok=True)
            if how == "symlink":
                (home / "target").write_bytes(data)
                path.symlink_to(home / "target")
            elif how == "dangling":
                path.symlink_to(home / "nowhere")
            elif how == "fifo":
                os.mkfifo(path)
            else:
                path.write_bytes(data + (b"x" * 20001 if how == "oversize" else b""))
        out = ingest(capsys)
        assert out["rows_in"] == out["rows_parsed"] + out["rows_quarantined"]
        reports = out["kinds"]["reports"]
        for item in reports["ignored"]:
            assert item["reason"]
        expected_files = sum(
            1 for how, key, _ in zone if how in ("file", "oversize") and ("dt=2026-01-0" in key)
        )
        assert reports["files"] == expected_files
    finally:
        shutil.rmtree(home, ignore_errors=True)


# -- validate: duplicated ids, and the report's size (the CLI runs are slow: they run GX) ------------
def validate(capsys) -> dict:
    capsys.readouterr()
    code = main(["validate"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_id_copies_keep_the_latest_then_the_last_landed():
    frame = pd.DataFrame(
        {
            "post_id": ["p1", "p2", "p1", "p3", "p3", None, None],
            "labelled_at": ["2026-01-01T10:00:00Z", T, "2026-01-01T11:00:00Z", T, T, T, T],
            "source_file": ["a.csv", "a.csv", "a.csv", "b.csv", "c.csv", "a.csv", "a.csv"],
            "source_line": [2, 3, 4, 2, 2, 5, 6],
        },
        index=range(10, 17),
    )
    copies = id_copies(frame, "post_id", ts_epoch(frame["labelled_at"]))
    # p1: the newer decision (line 4) is kept; p3: a tie, the last landed (c.csv) is kept; no id: not a copy.
    assert copies.tolist() == [1, 0, 0, 1, 0, 0, 0] and list(copies.index) == list(frame.index)


def test_the_report_sample_is_capped_per_cell_and_in_total():
    sample = [
        {"source_file": "big.csv", "source_line": i, "reason": "r", "text": "x" * 40_000} for i in range(200)
    ]
    capped = cap_sample(sample)
    assert capped[0]["text"] == "x" * SAMPLE_CELL_CHARS + "... [40000 chars]"
    assert sum(len(str(v)) for row in capped for v in row.values()) <= SAMPLE_TOTAL_CHARS
    page = render_validation_html({"kind": "labelled", "run_id": "r"}, [], [], capped)
    assert len(page) < 1_000_000 and "big.csv" in page


@pytest.mark.slow
def test_a_duplicated_post_id_keeps_one_copy_by_the_stated_rule(hw_env, capsys):
    rows = (
        "p1,the first decision,age,2026-01-01T10:00:00Z,m\n"
        "p2,another post,religion,2026-01-01T10:30:00Z,m\n"
        "p1,the first decision,gender,2026-01-01T11:00:00Z,m\n"  # the moderator's newer decision
    )
    put(hw_env, "labelled/dt=2026-01-01/a.csv", H + rows.encode())
    put(hw_env, "labelled/dt=2026-01-01/b.csv", H + b"p3,same time twice,age,2026-01-01T09:00:00Z,m\n")
    put(hw_env, "labelled/dt=2026-01-01/c.csv", H + b"p3,same time twice,age,2026-01-01T09:00:00Z,m\n")
    ingest(capsys)
    out = validate(capsys)
    assert (out["rows_in"], out["rows_valid"], out["rows_quarantined"]) == (5, 3, 2)
    lake = open_store(str(hw_env / "lake"))
    valid = pd.concat(
        [lake.read_parquet(o.key) for o in lake.list("validated/labelled") if o.key.endswith(".parquet")]
    )
    kept = valid.set_index("post_id")
    assert kept.loc["p1", "label"] == "gender"  # the latest labelled_at wins
    assert kept.loc["p3", "source_file"] == "labelled/dt=2026-01-01/c.csv"  # a tie: the last landed wins
    q = pd.concat(
        [lake.read_parquet(o.key) for o in lake.list("quarantine/validate") if o.key.endswith(".parquet")]
    )
    assert sorted(q["post_id"]) == ["p1", "p3"]
    assert q["reason"].str.contains("post_id duplicated within the batch: the copy with the latest").all()


@pytest.mark.slow
def test_the_validate_report_caps_its_quarantine_sample(hw_env, capsys):
    rows = "".join(f"q{i},{'long post ' * 4000}{i},not-a-class,{T},m\n" for i in range(200))
    put(hw_env, "labelled/dt=2026-01-01/big.csv", H + rows.encode())
    assert (hw_env / "landing/labelled/dt=2026-01-01/big.csv").stat().st_size > 7_000_000
    ingest(capsys)
    assert main(["validate"]) == 3  # a file of nothing but invalid rows is rejected as a batch
    assert "big.csv rejected" in capsys.readouterr().err
    pages = list((hw_env / "reports").rglob("report.html"))
    assert len(pages) == 1 and pages[0].stat().st_size < 1_000_000
    page = pages[0].read_text()
    assert "big.csv" in page and "... [40003 chars]" in page  # the sample is there, each text cut
    results = list((hw_env / "reports").rglob("result.json"))
    assert results[0].stat().st_size < 1_000_000

"""No raw identifier at rest: whatever a landing line is called or shaped, the ids it carries never reach
the lake's tables, the quarantine included.

Each landing line below once kept a raw id in the quarantine's ``raw`` column or the ingest table's
``extra`` column (only the literal key ``reporter_id`` was recognised), and ``labeller_id`` was stored as
it landed. The test ingests them and reads every byte the lake holds for the ids.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harmwatch.cli import main
from harmwatch.data.landing import labeller_pseudonym, pseudonymise
from harmwatch.storage import open_store

T = "2026-01-01T10:00:00Z"
KEY = "identifiers-test-key-of-32-bytes-at-least"


def report(rid: str, **fields: object) -> dict:
    rec = {"report_id": rid, "post_id": "p1", "text": "so old", "reason": "age", "reported_at": T}
    return {**rec, **fields}


# (landing line of a reports file, the raw id it carries)
REPORT_LINES = [
    ('{"report_id": "e1", "reporter\\u005fid": "alice-escaped@example.com", "text": "cut', "alice-escaped"),
    (json.dumps(report("z1", **{"reporter\u200bid": "bob-zero-width"})), "bob-zero-width"),
    ("report_id,reporter_id,text\n", ""),  # a CSV file landed as .jsonl: its header, then a row
    ("c1,carol-in-a-csv-line,hello there", "carol-in-a-csv-line"),
    ("report_id=k1 reporter_id=dave-key-value text=hi", "dave-key-value"),
    (
        json.dumps(report("n1", reporter_id="u-ok", context={"who": {"id": "erin-nested-deep"}})),
        "erin-nested",
    ),
    (json.dumps(report("x1", reporter_id="u-ok", phone=4915112345678)), "4915112345678"),
]


def ingest(home: Path, capsys, files: dict[str, str]) -> None:
    for key, text in files.items():
        path = home / "landing" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    capsys.readouterr()
    assert main(["ingest"]) == 0, capsys.readouterr().err


def lake_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (home / "lake").rglob("*") if p.is_file())


def table(home: Path, prefix: str) -> pd.DataFrame:
    lake = open_store(str(home / "lake"))
    keys = [o.key for o in lake.list(prefix) if o.key.endswith(".parquet")]
    return pd.concat([lake.read_parquet(k) for k in keys], ignore_index=True)


@pytest.fixture
def keyed(hw_env, monkeypatch) -> Path:
    monkeypatch.setenv("HARMWATCH_PSEUDONYM_KEY", KEY)
    return hw_env


@pytest.mark.parametrize(
    ("line", "rid"), [c for c in REPORT_LINES if c[1]], ids=[c[1] for c in REPORT_LINES if c[1]]
)
def test_no_raw_reporter_id_reaches_the_lake_whatever_the_line_looks_like(keyed, capsys, line, rid):
    ingest(keyed, capsys, {"reports/dt=2026-01-01/r.jsonl": line + "\n"})
    assert rid.encode() not in lake_bytes(keyed)


def test_a_quarantined_line_keeps_a_digest_its_reason_and_a_scrubbed_shape(keyed, capsys):
    body = "".join(line + "\n" for line, _rid in REPORT_LINES)
    ingest(keyed, capsys, {"reports/dt=2026-01-01/r.jsonl": body})
    everything = lake_bytes(keyed)
    for _line, rid in REPORT_LINES:
        assert not rid or rid.encode() not in everything, rid
    q = table(keyed, "quarantine/ingest/reports")
    assert len(q) == 4 and q["reason"].str.len().gt(0).all()
    assert q["raw"].str.match(r"^\[hmac [0-9a-f]{16}\] ").all()
    kv = q.loc[q["source_line"] == 6, "raw"].iloc[0]  # line 4 is the blank after the CSV header
    assert kv.endswith("report_id=** reporter_id=****-***-***** text=**")  # structure kept, words masked
    # The well-formed id of a broken line still gets the lake's hash, so it ties to the reporter.
    broken = '{"report_id": "b1", "reporter_id": "frank", "text": "cut'
    ingest(keyed, capsys, {"reports/dt=2026-01-02/b.jsonl": broken + "\n"})
    assert pseudonymise("frank", KEY.encode()) in "".join(table(keyed, "quarantine/ingest/reports")["raw"])


def test_unknown_fields_are_pseudonymised_field_by_field(keyed, capsys):
    ingest(
        keyed,
        capsys,
        {"reports/dt=2026-01-01/r.jsonl": REPORT_LINES[1][0] + "\n" + REPORT_LINES[5][0] + "\n"},
    )
    extras = [json.loads(e) for e in table(keyed, "ingest/reports")["extra"]]
    k = KEY.encode()
    assert pseudonymise("bob-zero-width", k) in extras[0].values()
    assert all(name.startswith("k_") for name in extras[0])  # the name with a zero-width space is hashed
    assert extras[1] == {"context": {"who": {"id": pseudonymise("erin-nested-deep", k)}}}


def test_labeller_ids_are_pseudonymised_and_review_provenance_is_kept(keyed, capsys):
    head = "post_id,text,label,labelled_at,labeller_id,review_task,annotators,note\n"
    m = labeller_pseudonym("moderator-in-review", KEY.encode())
    rows = f"p1,hello,age,{T},grace-moderator,17,{m},henry-in-a-note\np2,bye,age,{T},{m},18,{m},\n"
    ingest(keyed, capsys, {"labelled/dt=2026-01-01/a.csv": head + rows})
    lake = table(keyed, "ingest/labelled")
    assert lake["labeller_id"].tolist() == [labeller_pseudonym("grace-moderator", KEY.encode()), m]
    assert lake["labeller_id"].str.match(r"^m_[0-9a-f]{16}$").all()
    extra = json.loads(lake.loc[0, "extra"])
    assert extra["review_task"] == "17" and extra["annotators"] == m  # declared forms are kept as they are
    everything = lake_bytes(keyed)
    assert b"grace-moderator" not in everything and b"henry-in-a-note" not in everything

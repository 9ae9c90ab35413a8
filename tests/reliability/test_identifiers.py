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
from harmwatch.config import key_id, load_settings
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


# -- the key id, and a key change only as a declared rotation -------------------------------------------
OTHER_KEY = "the-next-pseudonym-key-of-32-bytes-or-more"


def test_every_manifest_records_the_key_id_and_a_changed_key_is_refused(keyed, capsys, monkeypatch):
    ingest(
        keyed, capsys, {"reports/dt=2026-01-01/r.jsonl": json.dumps(report("a", reporter_id="ann")) + "\n"}
    )
    manifests = list((keyed / "lake").rglob("_MANIFEST.json"))
    assert len(manifests) == 2
    assert {json.loads(m.read_text())["key_id"] for m in manifests} == {key_id(KEY)}
    monkeypatch.setenv("HARMWATCH_PSEUDONYM_KEY", OTHER_KEY)
    (keyed / "landing/reports/dt=2026-01-02").mkdir(parents=True)
    (keyed / "landing/reports/dt=2026-01-02/r.jsonl").write_text(json.dumps(report("b", reporter_id="ann")))
    assert main(["ingest"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"made with {key_id(KEY)}" in err and "rotate-key" in err
    assert len(list((keyed / "lake").rglob("_MANIFEST.json"))) == 2, "nothing written under the new key"


def rotate(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["rotate-key", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_rotate_key_rekeys_the_lake_and_the_reliability_tables(keyed, capsys, monkeypatch):
    old, new = KEY.encode(), OTHER_KEY.encode()
    lines = [report("a", reporter_id="ann"), report("b", reporter_id="bo")]
    ingest(
        keyed,
        capsys,
        {
            "reports/dt=2026-01-01/r.jsonl": "".join(json.dumps(r) + "\n" for r in lines),
            "labelled/dt=2026-01-01/l.csv": f"post_id,text,label,labelled_at,labeller_id\np1,hi,age,{T},mo\n",
        },
    )
    lake = open_store(str(keyed / "lake"), load_settings())
    gone = pseudonymise("reporter-whose-landing-file-was-deleted", old)
    reliability = pd.DataFrame(
        {
            "reporter_id": [pseudonymise("ann", old), gone],
            "reports_on_labelled": [3, 1],
            "reliability": [0.9, 0.5],
        }
    )
    lake.write_parquet("reporters/v=1/reliability.parquet", reliability)
    lake.commit("reporters/v=1", ["reliability.parquet"], {"version": "1"})

    monkeypatch.setenv("HARMWATCH_PSEUDONYM_KEY", OTHER_KEY)
    code, _, err = rotate(capsys, "--previous-key-id", key_id(KEY))
    assert code == 2 and "HARMWATCH_PREVIOUS_PSEUDONYM_KEY is not set" in err  # the old key is needed
    monkeypatch.setenv("HARMWATCH_PREVIOUS_PSEUDONYM_KEY", KEY)
    code, _, err = rotate(capsys, "--previous-key-id", "k_000000000000")
    assert code == 2 and "not the declared k_000000000000" in err and err.count("\n") == 1
    code, out, err = rotate(capsys, "--previous-key-id", key_id(KEY))
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert (summary["key_id"], summary["previous_key_id"]) == (key_id(OTHER_KEY), key_id(KEY))
    assert (summary["ids_mapped"], summary["ids_without_raw_id"]) == (4, 1)  # ann twice, bo, mo; the gone one

    table_after = lake.read_parquet("reporters/v=1/reliability.parquet")
    assert table_after["reporter_id"].iloc[0] == pseudonymise("ann", new)
    assert table_after["reporter_id"].iloc[1] not in (gone, pseudonymise("ann", new))
    assert table_after["reliability"].tolist() == [0.9, 0.5]
    rows = table(keyed, "ingest/reports")
    assert sorted(rows["reporter_id"]) == sorted([pseudonymise("ann", new), pseudonymise("bo", new)])
    assert table(keyed, "ingest/labelled")["labeller_id"].tolist() == [labeller_pseudonym("mo", new)]
    manifests = [json.loads(m.read_text()) for m in (keyed / "lake").rglob("_MANIFEST.json")]
    assert {m["key_id"] for m in manifests} == {key_id(OTHER_KEY)}
    # The new key is now the lake's: ingest runs and ties new reports to the re-keyed reporters.
    (keyed / "landing/reports/dt=2026-01-02").mkdir(parents=True)
    (keyed / "landing/reports/dt=2026-01-02/r.jsonl").write_text(json.dumps(report("c", reporter_id="ann")))
    capsys.readouterr()
    assert main(["ingest"]) == 0
    assert (table(keyed, "ingest/reports")["reporter_id"] == pseudonymise("ann", new)).sum() == 2
    # A second rotation with the same declaration finds nothing left on the old key.
    code, out, err = rotate(capsys, "--previous-key-id", key_id(KEY))
    assert code == 0 and json.loads(out.strip().splitlines()[-1])["folders"] == 0, err

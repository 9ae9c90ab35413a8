"""validate in one process reads an ingest run through the files its manifest lists.

A run ingested on Spark holds ``part-*.parquet`` files; with ``engine=auto`` a big landing day is ingested
on Spark and its Parquet, smaller than the landing, may be validated in one process. The run here is
ingested in one process, then rewritten as Spark lays a run out (two part files, the manifest listing
both), and validated: the same validated rows, quarantine and summary as the run in one file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from harmwatch.cli import main
from harmwatch.config import CLASSES
from harmwatch.data import catalog
from harmwatch.storage import open_store
from tests.factories import land, landing_csv
from tests.spark.conftest import folder_rows

SPARK_NAMES = ("part-00000-3f1c.c000.snappy.parquet", "part-00001-3f1c.c000.snappy.parquet")


def cli(capsys, home: Path, monkeypatch, *args: str) -> tuple[int, dict | None, str]:
    monkeypatch.setenv("HARMWATCH_HOME", str(home))
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, (json.loads(out.strip().splitlines()[-1]) if code == 0 else None), err


def as_spark_parts(home: Path, split_at: int) -> str:
    """Rewrite the home's one labelled ingest run as two part files; the prefix of the run."""
    lake = open_store(str(home / "lake"))
    (manifest,) = lake.committed(catalog.ingest_runs("labelled"))
    prefix = manifest["prefix"]
    one = home / "lake" / prefix / catalog.PART
    table = pq.read_table(one)
    assert 0 < split_at < table.num_rows
    pq.write_table(table.slice(0, split_at), one.parent / SPARK_NAMES[0])
    pq.write_table(table.slice(split_at), one.parent / SPARK_NAMES[1])
    one.unlink()
    meta = {k: v for k, v in manifest.items() if k not in ("prefix", "files")}
    lake.commit(prefix, list(SPARK_NAMES), meta)
    return prefix


@pytest.fixture
def ingested(tmp_path, capsys, monkeypatch, hw_env) -> Path:
    """A home with one labelled ingest run: two landing files, failing rows in both (one at the seam)."""
    a = [(f"a{i}", f"post number {i}", CLASSES[i % 6]) for i in range(8)]
    a[3] = ("a3", "post number 3", "spam")
    b = [(f"b{i}", f"another post {i}", CLASSES[i % 6]) for i in range(6)]
    b[0] = ("b0", "another post 0", "not_a_class")
    land(hw_env / "landing", "labelled/dt=2026-01-01/a.csv", landing_csv(a))
    land(hw_env / "landing", "labelled/dt=2026-01-01/b.csv", landing_csv(b))
    code, _summary, err = cli(capsys, hw_env, monkeypatch, "ingest")
    assert code == 0, err
    return hw_env


def test_a_run_in_part_files_validates_as_the_run_in_one_file(ingested, tmp_path, capsys, monkeypatch):
    parts = tmp_path / "parts"
    shutil.copytree(ingested, parts)
    as_spark_parts(parts, split_at=8)  # b.csv's first row, which fails, opens the second file
    runs = {}
    for home in (ingested, parts):
        code, summary, err = cli(
            capsys, home, monkeypatch, "validate", "--engine", "duckdb", "--date", "2026-01-01"
        )
        assert code == 0, err
        runs[home] = {
            "summary": {k: v for k, v in summary.items() if k not in ("lake_uri", "report_html")},
            "valid": folder_rows(str(home / "lake"), catalog.validated_runs("labelled")),
            "quarantine": folder_rows(str(home / "lake"), catalog.quarantine_runs("validate", "labelled")),
        }
    one, two = runs[ingested], runs[parts]
    assert one["summary"] == two["summary"]
    assert (one["summary"]["rows_in"], one["summary"]["rows_quarantined"]) == (14, 2)
    assert one["valid"].equals(two["valid"]) and len(two["valid"]) == 12
    assert one["quarantine"].equals(two["quarantine"])
    assert set(two["quarantine"]["post_id"]) == {"a3", "b0"}


def test_a_listed_part_missing_from_the_lake_is_one_line_naming_it(ingested, capsys, monkeypatch):
    prefix = as_spark_parts(ingested, split_at=4)
    (ingested / "lake" / prefix / SPARK_NAMES[1]).unlink()
    code, _summary, err = cli(capsys, ingested, monkeypatch, "validate", "--engine", "duckdb")
    assert code == 3
    assert f"{prefix}/{SPARK_NAMES[1]}: listed in the run's manifest, missing from the lake" in err
    assert not open_store(str(ingested / "lake")).committed(catalog.validated_runs("labelled"))

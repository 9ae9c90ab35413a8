"""The storage interface behaves the same on a local folder and on a real S3-compatible server."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from harmwatch.config import load_settings
from harmwatch.storage import MANIFEST, LocalStore, S3Store, StorageError, is_remote, open_store
from tests.conftest import free_port


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.server)])
def store(request, tmp_path):
    if request.param == "local":
        return open_store(str(tmp_path / "store"))
    moto_server = request.getfixturevalue("moto_server")  # only the S3 case starts a server
    moto_server.create_bucket("hw-test")
    return open_store("s3://hw-test/some/prefix")


def test_open_store_picks_backend(tmp_path):
    assert isinstance(open_store(str(tmp_path)), LocalStore)
    assert isinstance(open_store(f"file://{tmp_path}"), LocalStore)
    assert isinstance(open_store("s3://bucket/x"), S3Store)


def test_the_store_says_where_it_is_and_how_spark_reaches_it(tmp_path):
    """Whether a URI is object storage, and the path Spark is given, are the store's answers alone."""
    local = open_store(str(tmp_path))
    assert not local.remote and not is_remote(str(tmp_path)) and not is_remote(f"file://{tmp_path}")
    assert local.spark_path("/validated/labelled/") == str(tmp_path.resolve() / "validated" / "labelled")
    remote = S3Store("s3://bucket/lake/")  # no request is made
    assert remote.remote and is_remote("s3://bucket/lake/")
    assert (
        remote.spark_path("validated/labelled/x.parquet") == "s3a://bucket/lake/validated/labelled/x.parquet"
    )
    assert S3Store("s3://bucket").spark_path("/validated/") == "s3a://bucket/validated"


def test_write_read_list_roundtrip(store):
    store.write_bytes("a/b/one.bin", b"\x00\x01payload")
    store.write_text("a/two.txt", "héllo")
    store.write_json("c/three.json", {"k": [1, 2]})
    frame = pd.DataFrame({"text": ["x", "y"], "n": [1, 2]})
    store.write_parquet("d/frame.parquet", frame)
    assert store.read_bytes("a/b/one.bin") == b"\x00\x01payload"
    assert store.read_json("c/three.json") == {"k": [1, 2]}
    pd.testing.assert_frame_equal(store.read_parquet("d/frame.parquet"), frame)
    keys = [o.key for o in store.list()]
    assert keys == ["a/b/one.bin", "a/two.txt", "c/three.json", "d/frame.parquet"]
    assert [o.key for o in store.list("a/")] == ["a/b/one.bin", "a/two.txt"]
    sizes = {o.key: o.size for o in store.list("a")}
    assert sizes["a/two.txt"] == len("héllo".encode())
    assert store.exists("a/two.txt") and not store.exists("a/nope.txt")
    store.delete("a/two.txt")
    assert not store.exists("a/two.txt")


def test_overwrite_changes_version(store):
    store.write_bytes("k.txt", b"one")
    v1 = store.list("k.txt")[0].version
    store.write_bytes("k.txt", b"two!")
    info = store.list("k.txt")[0]
    assert info.size == 4 and store.read_bytes("k.txt") == b"two!"
    assert info.version != v1


def test_a_local_lake_lists_the_manifests_the_generic_listing_finds(tmp_path):
    """LocalStore.committed reads manifests from the paths its walk found: the same manifests in the same
    order as listing then reading each key, and links to manifests elsewhere never followed."""
    from harmwatch.storage import Store

    store = LocalStore(tmp_path / "lake")
    for run in ("b", "a", "c/d"):
        store.write_bytes(f"runs/run={run}/part.parquet", b"x")
        store.commit(f"runs/run={run}", ["part.parquet"], {"run_id": run})
    outside = tmp_path / "outside" / MANIFEST
    outside.parent.mkdir()
    outside.write_text('{"run_id": "outside"}')
    (tmp_path / "lake" / "runs" / "run=e").mkdir()
    (tmp_path / "lake" / "runs" / "run=e" / MANIFEST).symlink_to(outside)
    (tmp_path / "lake" / "runs" / "linked").symlink_to(outside.parent)
    got = store.committed("runs")
    assert got == Store.committed(store, "runs")
    assert [m["run_id"] for m in got] == ["a", "b", "c/d"]
    assert store.committed("runs/run=a") == [got[0]] and store.committed("nothing") == []


def test_commit_writes_manifest_last_and_lists_committed(store):
    store.write_bytes("runs/run=1/part.parquet", b"data-1")
    store.write_bytes("runs/run=2/part.parquet", b"data-2")  # never committed: invisible to readers
    manifest = store.commit("runs/run=1", ["part.parquet"], {"run_id": "1"})
    assert manifest["files"][0]["bytes"] == 6 and len(manifest["files"][0]["sha256"]) == 64
    assert store.exists(f"runs/run=1/{MANIFEST}")
    assert [m["run_id"] for m in store.committed("runs")] == ["1"]
    assert store.manifest("runs/run=2") is None


def test_missing_key_is_one_line_error(store):
    with pytest.raises(StorageError) as err:
        store.read_bytes("does/not/exist")
    assert "does/not/exist" in str(err.value) and "\n" not in str(err.value)


def test_a_file_moves_over_another_and_a_missing_one_is_one_line_error(store):
    store.write_bytes("snap/train.parquet.parts/part-0.parquet", b"new rows")
    store.write_bytes("snap/train.parquet", b"old rows")
    store.move("snap/train.parquet.parts/part-0.parquet", "snap/train.parquet")
    assert store.read_bytes("snap/train.parquet") == b"new rows"
    assert not store.exists("snap/train.parquet.parts/part-0.parquet")
    with pytest.raises(StorageError, match="cannot move") as err:
        store.move("snap/gone.parquet", "snap/train.parquet")
    assert "\n" not in str(err.value) and store.read_bytes("snap/train.parquet") == b"new rows"


def test_streamed_writes_publish_whole_or_nothing_and_streamed_reads_read_back(store):
    """What ingest streams through: a file written in pieces, Parquet row group by row group, read in
    blocks and hashed in blocks."""
    with store.open_write("s/blob.bin") as fh:
        for i in range(3):
            fh.write(bytes([i]) * 1000)
    stream, size = store.open_read("s/blob.bin")
    with stream:
        assert size == 3000 and stream.read() == b"\x00" * 1000 + b"\x01" * 1000 + b"\x02" * 1000
    assert store.digest("s/blob.bin") == (3000, hashlib.sha256(store.read_bytes("s/blob.bin")).hexdigest())
    with pytest.raises(RuntimeError), store.open_write("s/failed.bin") as fh:
        fh.write(b"half")
        raise RuntimeError("the writer died")
    assert [o.key for o in store.list("s")] == ["s/blob.bin"]
    frames = [
        pd.DataFrame({"text": pd.array(t, dtype="string"), "n": range(len(t))})
        for t in (["a", "b"], [], ["c"])
    ]
    with store.parquet_writer("s/rows.parquet") as sink:
        for frame in frames:
            sink.write(frame)
    expected = pd.concat([frames[0], frames[2]], ignore_index=True)
    pd.testing.assert_frame_equal(store.read_parquet("s/rows.parquet"), expected)
    with pytest.raises(StorageError) as err:
        store.open_read("s/nope.bin")
    assert "s/nope.bin" in str(err.value) and "\n" not in str(err.value)


def test_local_atomic_write_leaves_no_partial_file(tmp_path):
    store = LocalStore(tmp_path)
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / ".tmp-abandoned").write_bytes(b"half")  # what a killed writer leaves
    store.write_bytes("dir/file", b"whole")
    assert [o.key for o in store.list()] == ["dir/file"]


def test_local_store_refuses_escaping_keys(tmp_path):
    with pytest.raises(StorageError):
        LocalStore(tmp_path / "root").write_bytes("../outside", b"x")


def test_s3_unreachable_endpoint_is_one_line_error(monkeypatch):
    gone = {  # nothing listens on the port: a server that was there and is gone
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for k, v in gone.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(StorageError) as err:
        open_store("s3://bucket/x", load_settings(s3_max_attempts=2)).list()
    msg = str(err.value)
    assert msg.startswith("s3://bucket/x") and "cannot list" in msg and "\n" not in msg


@pytest.mark.server
def test_s3_honours_aws_endpoint_url(moto_server):
    moto_server.create_bucket("hw-endpoint")
    open_store("s3://hw-endpoint").write_text("k", "v")
    import boto3

    client = boto3.client("s3", endpoint_url=moto_server.endpoint, region_name="us-east-1")
    assert client.get_object(Bucket="hw-endpoint", Key="k")["Body"].read() == b"v"

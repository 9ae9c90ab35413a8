"""One small storage interface over local folders and ``s3://bucket/prefix``.

Every step reads and writes through :func:`open_store`. Keys are ``/``-separated paths relative to the
store's root. Writes are atomic (temp file + rename locally, a single PUT on S3, or one upload of a
spooled file for a written stream: :meth:`Store.open_write`), and a step commits a run by writing
``_MANIFEST.json`` last: readers only trust folders that carry a manifest, so a step
killed half-way leaves nothing the next step will read, and a rerun simply overwrites its own
uncommitted files.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from harmwatch.faults import checkpoint

MANIFEST = "_MANIFEST.json"
BLOCK = 1 << 20  # files are copied, hashed and streamed by blocks of this size
_SPECIAL = {
    stat.S_IFLNK: "symbolic link",
    stat.S_IFIFO: "FIFO",
    stat.S_IFSOCK: "socket",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
}
S3_SCHEME = "s3://"


class StorageError(RuntimeError):
    """A storage operation failed; the message is one line naming the URI."""


@dataclass(frozen=True)
class ObjectInfo:
    """A stored object: its key, size and a version tag (S3 ETag, or local mtime_ns)."""

    key: str
    size: int
    version: str


class StoreSettings(Protocol):
    """What a store takes from the settings (:class:`harmwatch.config.Settings` has both); named here so
    that storage, which the settings use, does not import them back."""

    @property
    def s3_max_attempts(self) -> int: ...

    @property
    def pseudonym_key_id(self) -> str: ...


def is_remote(uri: str) -> bool:
    """Whether ``uri`` names object storage (``s3://``) rather than a local folder."""
    return uri.startswith(S3_SCHEME)


class Store:
    """Base class; use :func:`open_store`."""

    uri: str
    remote = False  # object storage rather than a local folder
    key_id = ""  # the pseudonym key's id, recorded in every manifest (set by open_store)

    def url(self, key: str) -> str:
        return f"{self.uri.rstrip('/')}/{key.lstrip('/')}" if key else self.uri

    def spark_path(self, key: str) -> str:
        """Where Spark reads and writes ``key``: a local folder, or ``s3a://`` for object storage."""
        raise NotImplementedError

    # -- primitives implemented by subclasses ---------------------------------------------------
    def list(self, prefix: str = "") -> list[ObjectInfo]:
        raise NotImplementedError

    def read_bytes(self, key: str) -> bytes:
        raise NotImplementedError

    def irregular(self, prefix: str = "") -> list[tuple[str, str]]:
        """Entries under ``prefix`` that :meth:`list` leaves out because they are not regular files
        (symbolic links, FIFOs, sockets, devices), each with the reason; S3 has none."""
        return []

    def write_bytes(self, key: str, data: bytes) -> None:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def move(self, key: str, target: str) -> None:
        """Make the file ``key`` (written by another writer, Spark's tasks) the file ``target``, replacing
        it."""
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def open_read(self, key: str) -> tuple[IO[bytes], int]:
        """A binary stream of ``key`` and its size when opened, for readers that must not hold a whole
        file (ingest). Read errors surface as :class:`StorageError`; the caller closes the stream."""
        data = self.read_bytes(key)
        return io.BytesIO(data), len(data)

    @contextmanager
    def open_write(self, key: str) -> Iterator[IO[bytes]]:
        """A binary file that becomes ``key`` atomically when the block ends without an error (nothing
        is published otherwise); for writers that stream (ingest's Parquet, chunk by chunk)."""
        with tempfile.TemporaryFile() as fh:
            yield fh
            fh.seek(0)
            self.write_bytes(key, fh.read())

    # -- conveniences ---------------------------------------------------------------------------
    def local_path(self, key: str) -> Path | None:
        """The file behind ``key`` when the store is a local folder (readers can stream it), else None."""
        return None

    def read_json(self, key: str) -> Any:
        return json.loads(self.read_bytes(key).decode("utf-8"))

    def write_json(self, key: str, obj: Any) -> None:
        self.write_bytes(key, json.dumps(obj, indent=2, sort_keys=True, default=str).encode("utf-8"))

    def write_text(self, key: str, text: str) -> None:
        self.write_bytes(key, text.encode("utf-8"))

    def read_parquet(self, key: str, columns: list[str] | None = None):  # -> pandas.DataFrame
        """The Parquet file ``key`` (only ``columns`` when given: the others are not decoded)."""
        import pandas as pd  # imported lazily

        return pd.read_parquet(io.BytesIO(self.read_bytes(key)), columns=columns)

    def write_parquet(self, key: str, frame) -> None:
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        self.write_bytes(key, buf.getvalue())

    @contextmanager
    def parquet_writer(self, key: str, schema=None) -> Iterator[ParquetSink]:
        """A Parquet file written frame by frame (one row group each), published as ``key`` when the block
        ends without an error; ``schema`` (pyarrow) fixes the column types when frames may lack rows."""
        with self.open_write(key) as fh:
            sink = ParquetSink(fh, schema)
            yield sink
            sink.close()

    def write_file(self, key: str, path: Path) -> None:
        """Store the local file ``path`` (written by an engine) as ``key``."""
        self.write_bytes(key, Path(path).read_bytes())

    def digest(self, key: str) -> tuple[int, str]:
        """(size, SHA-256) of ``key``, as a manifest lists it."""
        data = self.read_bytes(key)
        return len(data), hashlib.sha256(data).hexdigest()

    # -- commit protocol ------------------------------------------------------------------------
    def commit(self, prefix: str, files: Iterable[str], meta: dict[str, Any] | None = None) -> dict:
        """Write ``prefix/_MANIFEST.json`` listing ``files`` (keys relative to ``prefix``), last."""
        prefix = prefix.strip("/")
        entries = []
        for name in sorted(files):
            size, sha256 = self.digest(f"{prefix}/{name}")
            entries.append({"name": name, "bytes": size, "sha256": sha256})
        manifest = {"prefix": prefix, "files": entries, **(meta or {})}
        if self.key_id:
            manifest["key_id"] = self.key_id
        self.write_json(f"{prefix}/{MANIFEST}", manifest)
        return manifest

    def manifest(self, prefix: str) -> dict | None:
        key = f"{prefix.strip('/')}/{MANIFEST}"
        return self.read_json(key) if self.exists(key) else None

    def committed(self, prefix: str) -> list[dict]:
        """All manifests under ``prefix`` (committed runs), sorted by their folder."""
        keys = sorted(o.key for o in self.list(prefix) if o.key.endswith("/" + MANIFEST))
        return [self.read_json(k) for k in keys]


class ParquetSink:
    """Frames appended to one Parquet file as row groups (:meth:`Store.parquet_writer`).

    The file's schema is ``schema`` or, without one, the first frame's (its pandas metadata included, so
    the file reads back with the dtypes :meth:`Store.write_parquet` would have given it)."""

    def __init__(self, stream: IO[bytes], schema=None) -> None:
        self.stream, self.schema, self.writer = stream, schema, None

    def write(self, frame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.stream, table.schema)
        elif not len(table):
            return
        self.writer.write_table(table)

    def close(self) -> None:
        import pyarrow.parquet as pq

        if self.writer is None:
            if self.schema is None:
                raise ValueError("a Parquet file without a frame needs a schema")
            self.writer = pq.ParquetWriter(self.stream, self.schema)
        self.writer.close()


class _Checked(io.RawIOBase):
    """A stream read at most ``size`` bytes far (the size it had when opened, so a file that grows while
    it is read is read as it was), with read errors as one :class:`StorageError` line naming ``url``."""

    def __init__(self, stream: Any, size: int, url: str) -> None:
        self.stream, self.left, self.url = stream, size, url

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        want = min(len(buffer), self.left)
        if want <= 0:
            return 0
        try:
            data = self.stream.read(want)
        except Exception as exc:  # an OSError locally; botocore and urllib3 raise many types on S3
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StorageError(f"{self.url}: cannot read ({detail})") from None
        buffer[: len(data)] = data
        self.left -= len(data)
        return len(data)

    def close(self) -> None:
        try:
            self.stream.close()
        finally:
            super().close()


class LocalStore(Store):
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.uri = str(self.root)

    def _path(self, key: str) -> Path:
        path = (self.root / key.lstrip("/")).resolve()
        if self.root not in path.parents and path != self.root:
            raise StorageError(f"{self.uri}: key {key!r} escapes the store root")
        return path

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        base = self._path(prefix) if prefix else self.root
        if base.is_file():
            st = base.stat()
            return [ObjectInfo(prefix.strip("/"), st.st_size, str(st.st_mtime_ns))]
        if not base.is_dir():
            return []
        out = [
            ObjectInfo(self._key(path), st.st_size, str(st.st_mtime_ns))
            for path, st in self._walk(base)
            if stat.S_ISREG(st.st_mode)
        ]
        return sorted(out, key=lambda o: o.key)

    def committed(self, prefix: str) -> list[dict]:
        """All manifests under ``prefix``, read from the paths the walk found (regular files under the
        resolved root, never through a link): resolving each key again cost more than reading it, for
        the two manifests a day adds to the lake."""
        base = self._path(prefix) if prefix else self.root
        if not base.is_dir():
            return super().committed(prefix)
        found = sorted(
            (self._key(path), path)
            for path, st in self._walk(base)
            if stat.S_ISREG(st.st_mode) and path.endswith(os.sep + MANIFEST)
        )
        out = []
        for key, path in found:
            try:
                with open(path, "rb") as fh:
                    out.append(json.loads(fh.read().decode("utf-8")))
            except OSError as exc:
                raise StorageError(f"{self.url(key)}: cannot read ({exc.strerror or exc})") from None
        return out

    def _key(self, path: str) -> str:
        """The key of ``path``, a path under the root as :meth:`_walk` gives it (a string: a lake's
        listing grows with its runs, and ``Path.relative_to`` cost more than the walk itself)."""
        return path[len(str(self.root)) :].lstrip(os.sep).replace(os.sep, "/")

    def _walk(self, base: Path) -> list[tuple[str, os.stat_result]]:
        """Every entry under ``base`` with its own ``lstat``: a link is never followed (a dangling one, or one
        pointing out of the store, would otherwise fail the whole listing) and a FIFO never opened."""
        out = []
        for dirpath, dirs, names in os.walk(base):
            for name in [*names, *(d for d in dirs if os.path.islink(os.path.join(dirpath, d)))]:
                if name.startswith(".tmp-"):
                    continue  # an interrupted atomic write: never visible
                p = os.path.join(dirpath, name)
                try:
                    out.append((p, os.lstat(p)))
                except OSError:
                    continue  # removed while listing
        return out

    def irregular(self, prefix: str = "") -> list[tuple[str, str]]:
        base = self._path(prefix) if prefix else self.root
        if not base.is_dir():
            return []
        out = []
        for path, st in self._walk(base):
            if not stat.S_ISREG(st.st_mode):
                kind = _SPECIAL.get(stat.S_IFMT(st.st_mode), "special file")
                if kind == "symbolic link" and not os.path.exists(path):
                    kind = "dangling symbolic link"
                out.append((self._key(path), f"{kind}, not a regular file: not read"))
        return sorted(out)

    def read_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except OSError as exc:
            raise StorageError(f"{self.url(key)}: cannot read ({exc.strerror or exc})") from None

    def write_bytes(self, key: str, data: bytes) -> None:
        with self._replacing(key, unique=True) as out:
            out.write(data)

    @contextmanager
    def _replacing(self, key: str, unique: bool) -> Iterator[IO[bytes]]:
        """Write ``key`` whole or not at all: into a file beside it, synced to disk, which then replaces
        the key in one rename. ``unique`` gives each writer a fresh temporary name (writers of one key
        never share a file); otherwise there is one partial file per key, so a killed writer leaves no
        pile-up (the rerun writes over it)."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if unique:
                fd, name = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
                partial, fh = Path(name), os.fdopen(fd, "wb")
            else:
                partial = path.with_name(f".{path.name}.partial")
                fh = partial.open("wb")
        except OSError as exc:
            raise StorageError(f"{self.url(key)}: cannot write ({exc.strerror or exc})") from None
        try:
            with fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(partial, 0o644)
            os.replace(partial, path)
        except OSError as exc:
            raise StorageError(f"{self.url(key)}: cannot write ({exc.strerror or exc})") from None
        finally:
            partial.unlink(missing_ok=True)
        checkpoint("write")

    def open_read(self, key: str) -> tuple[IO[bytes], int]:
        try:
            fh = self._path(key).open("rb", buffering=0)
            size = os.fstat(fh.fileno()).st_size
        except OSError as exc:
            raise StorageError(f"{self.url(key)}: cannot read ({exc.strerror or exc})") from None
        return io.BufferedReader(_Checked(fh, size, self.url(key)), BLOCK), size

    @contextmanager
    def open_write(self, key: str) -> Iterator[IO[bytes]]:
        with self._replacing(key, unique=False) as fh:
            yield fh

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def move(self, key: str, target: str) -> None:
        path = self._path(target)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._path(key), path)  # one rename: readers see the old file or the new
        except OSError as exc:
            detail = exc.strerror or exc
            raise StorageError(f"{self.url(key)}: cannot move to {self.url(target)} ({detail})") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def write_file(self, key: str, path: Path) -> None:
        """Copy ``path`` in by blocks (a large table never has to be in memory), then as write_bytes."""

        with self._replacing(key, unique=True) as out, open(path, "rb") as src:
            shutil.copyfileobj(src, out, BLOCK)

    def digest(self, key: str) -> tuple[int, str]:
        """(size, SHA-256) read by blocks."""
        digest, size = hashlib.sha256(), 0
        try:
            with self._path(key).open("rb") as fh:
                while block := fh.read(BLOCK):
                    digest.update(block)
                    size += len(block)
        except OSError as exc:
            raise StorageError(f"{self.url(key)}: cannot read ({exc.strerror or exc})") from None
        return size, digest.hexdigest()

    def spark_path(self, key: str) -> str:
        return str(self.root / key.strip("/"))


class S3Store(Store):
    """S3 or any S3-compatible server (``AWS_ENDPOINT_URL`` is honoured by boto3 itself)."""

    remote = True

    def __init__(self, uri: str, max_attempts: int = 4) -> None:
        import boto3
        from botocore.config import Config

        rest = uri[len(S3_SCHEME) :]
        self.bucket, _, prefix = rest.partition("/")
        if not self.bucket:
            raise StorageError(f"{uri}: no bucket in S3 URI")
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")
        # Standard retry mode backs off exponentially on throttling and connection errors.
        cfg = Config(
            retries={"max_attempts": max_attempts, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
        )
        self.client = boto3.client("s3", config=cfg)

    def _key(self, key: str) -> str:
        key = key.lstrip("/")
        return f"{self.prefix}/{key}" if self.prefix else key

    def spark_path(self, key: str) -> str:
        return f"s3a://{self.bucket}/{self._key(key.strip('/'))}"

    def _fail(self, key: str, verb: str, exc: Exception) -> StorageError:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return StorageError(f"{self.url(key)}: cannot {verb} ({detail})")

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        full = self._key(prefix) if prefix else (self.prefix + "/" if self.prefix else "")
        out = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full)
            for page in pages:
                for obj in page.get("Contents", []):
                    key = obj["Key"][len(self.prefix) + 1 :] if self.prefix else obj["Key"]
                    out.append(ObjectInfo(key, int(obj["Size"]), obj["ETag"].strip('"')))
        except Exception as exc:  # botocore raises many unrelated types; all mean "cannot list"
            raise self._fail(prefix, "list", exc) from None
        return sorted(out, key=lambda o: o.key)

    def read_bytes(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except Exception as exc:
            raise self._fail(key, "read", exc) from None

    def write_bytes(self, key: str, data: bytes) -> None:
        try:  # a single PUT is atomic: readers see the old object or the new one, never a part
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except Exception as exc:
            raise self._fail(key, "write", exc) from None
        checkpoint("write")

    def open_read(self, key: str) -> tuple[IO[bytes], int]:
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            raise self._fail(key, "read", exc) from None
        size = int(obj["ContentLength"])
        return io.BufferedReader(_Checked(obj["Body"], size, self.url(key)), BLOCK), size

    @contextmanager
    def open_write(self, key: str) -> Iterator[IO[bytes]]:
        # Spooled to a local temporary file, then one upload (multipart when large): the object appears
        # whole when the upload completes, as a single PUT does.
        with tempfile.TemporaryFile() as fh:
            yield fh
            fh.seek(0)
            try:
                self.client.upload_fileobj(fh, self.bucket, self._key(key))
            except Exception as exc:
                raise self._fail(key, "write", exc) from None
        checkpoint("write")

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            raise self._fail(key, "delete", exc) from None

    def move(self, key: str, target: str) -> None:
        """A copy on the server (multipart above 8 MiB, by boto3), then the source deleted."""
        try:
            source = {"Bucket": self.bucket, "Key": self._key(key)}
            self.client.copy(source, self.bucket, self._key(target))
        except Exception as exc:
            raise self._fail(key, f"move to {self.url(target)}", exc) from None
        self.delete(key)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._fail(key, "stat", exc) from None
        except Exception as exc:
            raise self._fail(key, "stat", exc) from None


def open_store(uri: str, settings: StoreSettings | None = None) -> Store:
    """A store for ``s3://bucket/prefix`` or a local path (``file://`` accepted).

    ``settings`` gives the S3 retry budget (``s3_max_attempts``; without it botocore's standard 4) and the
    pseudonym key id every manifest records.
    """
    store: Store
    if is_remote(uri):
        store = S3Store(uri, settings.s3_max_attempts if settings is not None else 4)
    else:
        store = LocalStore(uri.removeprefix("file://"))
    if settings is not None:
        store.key_id = settings.pseudonym_key_id
    return store

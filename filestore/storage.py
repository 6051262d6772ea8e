"""Where stored files (batch files, objection evidence) are kept: the local disk under BATCH_STORAGE_DIR (the
embedded default) or an S3-compatible bucket, BATCH_STORAGE_URL=s3://bucket/prefix, with the endpoint, region
and credentials from the standard AWS environment variables (AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, or whatever else boto3's credential chain finds).

Either store only ever sees what filestore.encryption writes: the bytes encrypted by the platform, so the bucket
never holds plaintext. A file is named by a relative path (Batch.storage_path); it is written whole under a
temporary name and appears under its final name only once complete (a rename on disk; on S3 a multipart upload
to a temporary key, completed, then copied server-side), so a reader never sees a part of a file.

A store that cannot be reached (the endpoint down, the network cut, a timeout) raises StorageUnreachable, an
OSError: intake answers 503 storage_unavailable, the pipeline waits and tries again (ingest/tasks.py).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse

from django.conf import settings

from filestore.encryption import BatchFileWriter, PositionedReader, open_encrypted

log = logging.getLogger(__name__)

# parts of a multipart upload: S3 wants at least 5 MiB for every part but the last; one part is all an upload
# holds in memory, whatever the batch's size
UPLOAD_PART_BYTES = 8 * 1024 * 1024
# one ranged GET fetches this much ahead: a batch is read in a few requests, a seek costs one more
READ_AHEAD_BYTES = 8 * 1024 * 1024


class StorageUnreachable(OSError):
    """The store cannot be reached now (the endpoint down, the network cut, a timeout): a later try may work."""


class LocalStorage:
    def __init__(self, root: Path):
        self.root = root

    @contextlib.contextmanager
    def upload(self) -> Iterator[_LocalUpload]:
        """A new file, written then committed under its name; removed unless committed."""
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root / "tmp", prefix="upload-")
        upload = _LocalUpload(os.fdopen(fd, "wb"), Path(tmp), self.root)
        try:
            yield upload
        finally:
            with contextlib.suppress(OSError):  # a full disk fails the flush again: the first error is the one
                upload.raw.close()
            if not upload.committed:
                upload.tmp.unlink(missing_ok=True)

    def open(self, relative: str) -> BinaryIO:
        return open(self.root / relative, "rb")

    def names(self) -> Iterator[str]:
        """Every stored file's name (temporary uploads under tmp/ too), in order."""
        if self.root.is_dir():
            for path in sorted(self.root.rglob("*")):
                if path.is_file():
                    yield path.relative_to(self.root).as_posix()

    def delete(self, relative: str) -> None:
        (self.root / relative).unlink(missing_ok=True)


class _LocalUpload:
    def __init__(self, raw: BinaryIO, tmp: Path, root: Path):
        self.raw, self.tmp, self.root, self.committed = raw, tmp, root, False

    def write(self, data: bytes) -> None:
        self.raw.write(data)

    def commit(self, relative: str) -> None:
        self.raw.close()
        final = self.root / relative
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.tmp, final)  # same content, same path: replacing it changes nothing
        self.committed = True


@contextlib.contextmanager
def _s3_errors(what: str) -> Iterator[None]:
    """botocore's errors as OSErrors: a missing object FileNotFoundError, an unreachable or failing store
    StorageUnreachable, a refusal (access denied) PermissionError."""
    from botocore.exceptions import BotoCoreError, ClientError
    from urllib3.exceptions import HTTPError

    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in {"NoSuchKey", "404", "NotFound"}:
            raise FileNotFoundError(f"{what}: no such object") from exc
        if status >= 500 or code in {"SlowDown", "RequestTimeout", "ServiceUnavailable", "InternalError"}:
            raise StorageUnreachable(f"{what}: {exc}") from exc
        raise PermissionError(f"{what}: {exc}") from exc
    except (BotoCoreError, HTTPError) as exc:  # connection refused or cut, timeouts, credentials not found
        raise StorageUnreachable(f"{what}: {exc}") from exc


_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()


def _s3_client():
    """One client per process (boto3 clients are thread-safe, not fork-safe: a forked child makes its own) and
    per configuration. Short timeouts and few retries: an unreachable store is reported within seconds, and the
    caller decides how long to wait (intake answers 503, the pipeline tries again later)."""
    import boto3
    from botocore.config import Config

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    key = (os.getpid(), endpoint, region, os.environ.get("AWS_ACCESS_KEY_ID"))
    with _clients_lock:
        if key not in _clients:
            config = Config(connect_timeout=3, read_timeout=30, retries={"mode": "standard", "max_attempts": 3},
                            # S3-compatible stores (MinIO, Ceph) at an endpoint of their own all take path-style
                            # addressing; AWS itself gets its default
                            s3={"addressing_style": "path" if endpoint else "auto"})
            _clients[key] = boto3.session.Session().client("s3", endpoint_url=endpoint, region_name=region,
                                                           config=config)
        return _clients[key]


class S3Storage:
    def __init__(self, bucket: str, prefix: str):
        self.bucket, self.prefix = bucket, prefix

    def key(self, relative: str) -> str:
        return f"{self.prefix}{relative}"

    @contextlib.contextmanager
    def upload(self) -> Iterator[_S3Upload]:
        upload = _S3Upload(self, _s3_client())
        try:
            yield upload
        finally:
            if not upload.committed:
                upload.discard()

    def open(self, relative: str) -> BinaryIO:
        return io.BufferedReader(_S3RangeReader(_s3_client(), self.bucket, self.key(relative)),
                                 buffer_size=READ_AHEAD_BYTES)

    def names(self) -> Iterator[str]:
        """Every stored object's name under the prefix (temporary uploads under tmp/ too), in order."""
        with _s3_errors("list the bucket"):
            pages = _s3_client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"][len(self.prefix):]

    def delete(self, relative: str) -> None:
        with _s3_errors(f"delete {relative}"):
            _s3_client().delete_object(Bucket=self.bucket, Key=self.key(relative))


class _S3Upload:
    """A multipart upload to a temporary key, one part buffered at a time; commit() completes it and copies it,
    server-side, to its final key."""

    def __init__(self, storage: S3Storage, client):
        self.storage, self.client, self.committed, self.completed = storage, client, False, False
        self.tmp_key = storage.key(f"tmp/upload-{uuid.uuid4().hex}")
        self.parts: list[dict] = []
        self.buffer = bytearray()
        with _s3_errors("start an upload"):
            self.upload_id = client.create_multipart_upload(Bucket=storage.bucket, Key=self.tmp_key)["UploadId"]

    def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= UPLOAD_PART_BYTES:
            self._part(bytes(self.buffer[:UPLOAD_PART_BYTES]))
            del self.buffer[:UPLOAD_PART_BYTES]

    def _part(self, body: bytes) -> None:
        number = len(self.parts) + 1
        with _s3_errors(f"upload part {number}"):
            etag = self.client.upload_part(Bucket=self.storage.bucket, Key=self.tmp_key, UploadId=self.upload_id,
                                           PartNumber=number, Body=body)["ETag"]
        self.parts.append({"ETag": etag, "PartNumber": number})

    def commit(self, relative: str) -> None:
        bucket = self.storage.bucket
        self._part(bytes(self.buffer))  # the last part, which may be short (an encrypted file is never empty)
        self.buffer.clear()
        with _s3_errors(f"store {relative}"):
            self.client.complete_multipart_upload(Bucket=bucket, Key=self.tmp_key, UploadId=self.upload_id,
                                                  MultipartUpload={"Parts": self.parts})
            self.completed = True
            # copy (multipart beyond 5 GiB) within the bucket: same content, same key, replacing it changes nothing
            self.client.copy({"Bucket": bucket, "Key": self.tmp_key}, bucket, self.storage.key(relative))
        self.committed = True
        self.discard()

    def discard(self) -> None:
        """Leave nothing under the temporary key (best effort: a bucket lifecycle rule on tmp/ ends the rest)."""
        try:
            with _s3_errors("discard an upload"):
                if self.completed:
                    self.client.delete_object(Bucket=self.storage.bucket, Key=self.tmp_key)
                else:
                    self.client.abort_multipart_upload(Bucket=self.storage.bucket, Key=self.tmp_key,
                                                       UploadId=self.upload_id)
        except OSError:
            log.warning("temporary upload %s not removed", self.tmp_key, exc_info=True)


class _S3RangeReader(PositionedReader):
    """An object read by ranged GETs: seekable without downloading it (an Excel batch is read from its end
    first); wrapped in a BufferedReader, each GET fetches a buffer's worth."""

    def __init__(self, client, bucket: str, key: str):
        self.client, self.bucket, self.key, self.pos = client, bucket, key, 0
        with _s3_errors(f"open {key}"):
            self.size = client.head_object(Bucket=bucket, Key=key)["ContentLength"]

    def readinto(self, buffer) -> int:
        if self.pos >= self.size or not len(buffer):
            return 0
        end = min(self.size, self.pos + len(buffer)) - 1
        with _s3_errors(f"read {self.key}"):
            body = self.client.get_object(Bucket=self.bucket, Key=self.key, Range=f"bytes={self.pos}-{end}")["Body"]
            data = body.read()
        n = len(data)
        buffer[:n] = data
        self.pos += n
        return n


def storage():
    """The store settings name now (read on each call: tests switch it)."""
    url = getattr(settings, "BATCH_STORAGE_URL", None)
    if not url:
        return LocalStorage(Path(settings.BATCH_STORAGE_DIR))
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"BATCH_STORAGE_URL must be s3://bucket/prefix, not {url!r}")
    prefix = parsed.path.strip("/")
    return S3Storage(parsed.netloc, f"{prefix}/" if prefix else "")


def stored_file_open(relative: str) -> io.BufferedReader:
    """A stored file, decrypted as it is read: a seekable binary stream of the bytes as received."""
    return open_encrypted(storage().open(relative))


def stored_file_write(relative: str, data: bytes) -> None:
    """Keep a small file (objection evidence), encrypted like batch files, under this name."""
    with storage().upload() as upload:
        writer = BatchFileWriter(upload)
        writer.write(data)
        writer.close()
        upload.commit(relative)


def stored_file_put(relative: str, path: Path) -> None:
    """Put back a file as it was stored (already encrypted: a backup's copy) under its name, whole or not at all."""
    with storage().upload() as upload, open(path, "rb") as source:
        while chunk := source.read(UPLOAD_PART_BYTES):
            upload.write(chunk)
        upload.commit(relative)


def stored_file_delete(relative: str) -> None:
    storage().delete(relative)

"""Batch files in an S3-compatible bucket (BATCH_STORAGE_URL=s3://…), against a real S3 API server (moto's
server mode): kept encrypted, uploaded in parts, read back with seeks, merged from the bucket; a bucket that
cannot be reached at intake answers 503 storage_unavailable and keeps nothing."""

from __future__ import annotations

import io

import pytest

from exchange.models import Batch
from exchange.services.batch_downloads import batch_file_download
from exchange.services.batches import batch_receive
from filestore.encryption import MAGIC
from filestore.storage import UPLOAD_PART_BYTES, stored_file_open
from ingest import pipeline
from tests.credit.factories import ndjson, penalty

pytestmark = pytest.mark.django_db
NDJSON = "application/x-ndjson"
BODY = ndjson([penalty("S3-P-1", 1), penalty("S3-P-2", 2), penalty("S3-P-3", 3, decided_on="2025-13-01")])
PUSH = "/api/v1/exchange/batches?category=admin_penalty&batch_id=b-s3"


@pytest.fixture
def push(as_scjg, django_capture_on_commit_callbacks, monkeypatch):
    """Push BODY through the signed API; the pipeline is run by the test (not enqueued)."""
    monkeypatch.setattr("ingest.handoff.batch_enqueue", lambda *, batch_id: None)

    def push(body=BODY):
        with django_capture_on_commit_callbacks(execute=True):
            return as_scjg.post(PUSH, body, NDJSON)

    return push


def _local_files(settings) -> list:
    root = settings.BATCH_STORAGE_DIR
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_a_pushed_batch_is_kept_encrypted_in_the_bucket_and_merged_from_it(push, settings, s3_server, s3_storage):
    response = push()
    assert response.status_code == 202, response.content
    batch = Batch.objects.get(pk=response.json()["id"])

    stored = s3_server.objects(s3_storage)
    assert list(stored) == [s3_storage + batch.storage_path]  # the file itself, no temporary object left
    encrypted = stored[s3_storage + batch.storage_path]
    assert encrypted.startswith(MAGIC)
    for plain in (BODY, b"S3-P-1", "湖南测试1有限公司".encode()):  # the bucket never sees plaintext
        assert plain not in encrypted
    uploads = s3_server.client().list_multipart_uploads(Bucket=s3_server.bucket, Prefix=s3_storage)
    assert not uploads.get("Uploads")
    assert _local_files(settings) == []

    with stored_file_open(batch.storage_path) as stream:
        assert stream.read() == BODY
    _batch, download = batch_file_download(batch_pk=batch.pk, by="test")
    with download:
        assert download.read() == BODY

    pipeline.batch_process(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == "completed", (batch.failure_code, batch.failure_reason)
    assert (batch.rows, batch.accepted, batch.rejected) == (3, 2, 1)


def test_a_large_batch_goes_up_in_parts_and_reads_back_with_seeks(scjg, s3_server, s3_storage, monkeypatch):
    from filestore import storage

    parts = []
    real_part = storage._S3Upload._part
    monkeypatch.setattr(storage._S3Upload, "_part",
                        lambda self, body: (parts.append(len(body)), real_part(self, body))[1])
    rows = [penalty(f"S3-L-{i}", i % 500, violation_facts="发布虚假广告" * 20) for i in range(40_000)]
    body = ndjson(rows)
    assert len(body) > 2 * UPLOAD_PART_BYTES
    batch, created = batch_receive(department=scjg, category="admin_penalty", batch_id="b-s3-large",
                                   content_type=NDJSON, body=io.BytesIO(body))
    assert created
    # streamed: several parts, none larger than one part's buffer (never the whole batch in memory)
    assert len(parts) >= 3 and max(parts) <= UPLOAD_PART_BYTES, parts
    assert list(s3_server.objects(s3_storage)) == [s3_storage + batch.storage_path]
    with stored_file_open(batch.storage_path) as stream:
        middle = len(body) // 2 + 12345
        stream.seek(middle)
        assert stream.read(100_000) == body[middle:middle + 100_000]
        stream.seek(-10, io.SEEK_END)
        assert stream.read() == body[-10:]
        stream.seek(0)
        assert stream.read() == body


def test_a_bucket_unreachable_at_intake_answers_503_and_keeps_nothing(push, settings, s3_server, s3_storage):
    s3_server.stop()
    try:
        refused = push()
    finally:
        s3_server.start()
    assert refused.status_code == 503, refused.content
    problem = refused.json()
    assert problem["code"] == "storage_unavailable" and "稍后" in problem["detail"]
    assert refused.headers.get("Retry-After")
    assert not Batch.objects.exists() and _local_files(settings) == []

    taken = push()  # the bucket is back: the same push is taken
    assert taken.status_code == 202, taken.content
    assert list(s3_server.objects(s3_storage)) == [s3_storage + Batch.objects.get().storage_path]

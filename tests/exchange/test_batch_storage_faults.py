"""A batch file unreadable for a moment is tried again; a batch that failed on the platform's side can be
pushed again under its batch_id and starts again; one that failed for what the department sent stays failed."""

from __future__ import annotations

import pytest

from exchange.exchange_log import log_verify
from exchange.models import Batch, BatchRejection, ExchangeLogEntry
from ingest import pipeline
from tests.credit.factories import ndjson, penalty

pytestmark = pytest.mark.django_db
NDJSON = "application/x-ndjson"
BODY = ndjson([penalty("P-1", 1), penalty("P-2", 2), penalty("P-3", 3, decided_on="2025-13-01")])
PUSH = "/api/v1/exchange/batches?category=admin_penalty&batch_id=b-storage"


@pytest.fixture
def storage(monkeypatch):
    """The batch file fails to open `failures` times (an OSError, as a storage hiccup gives), then opens."""
    state = {"failures": 0, "opened": 0}
    real_open = pipeline.stored_file_open

    def flaky_open(relative):
        state["opened"] += 1
        if state["failures"]:
            state["failures"] -= 1
            raise OSError(5, "Input/output error", relative)
        return real_open(relative)

    monkeypatch.setattr(pipeline, "stored_file_open", flaky_open)
    monkeypatch.setattr(pipeline, "STORAGE_BACKOFF", 0, raising=False)
    return state


@pytest.fixture
def push(as_scjg, django_capture_on_commit_callbacks):
    def push(body=BODY):
        with django_capture_on_commit_callbacks(execute=True):
            return as_scjg.post(PUSH, body, NDJSON)

    return push


def test_a_file_unreadable_for_a_moment_is_tried_again(push, enqueued, storage):
    storage["failures"] = 2
    batch = Batch.objects.get(pk=push().json()["id"])
    pipeline.batch_process(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == "completed", (batch.failure_code, batch.failure_reason)
    assert (batch.rows, batch.accepted, batch.rejected) == (3, 2, 1)
    assert storage["opened"] == 3


def test_a_batch_failed_on_the_platforms_side_starts_again_when_pushed_again(as_scjg, push, enqueued, storage):
    storage["failures"] = 100  # unreadable for good
    first = push()
    batch = Batch.objects.get(pk=first.json()["id"])
    pipeline.batch_process(batch_id=batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.failure_code) == ("failed", "storage_error")
    assert "重新报送" in batch.failure_reason
    failed_receipt, failed_log_index = batch.receipt, batch.log_index
    assert failed_receipt and as_scjg.get(f"/api/v1/exchange/batches/{batch.pk}").json()["status"] == "failed"

    storage["failures"] = 0  # the storage is back
    again = push()
    assert again.status_code == 202, again.content
    assert again.json()["id"] == batch.pk and again.json()["status"] == "received"
    batch.refresh_from_db()
    assert (batch.failure_code, batch.receipt, batch.log_index, batch.validated_through_row) == ("", "", None, 0)
    assert all(v == 0 for v in batch.counts.values())
    assert enqueued == [batch.pk, batch.pk]
    restarted = ExchangeLogEntry.objects.get(kind="batch_restarted")
    assert restarted.payload["batch"] == batch.pk and restarted.payload["failure_code"] == "storage_error"
    assert restarted.payload["failed_receipt_log_index"] == failed_log_index

    pipeline.batch_process(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == "completed" and (batch.rows, batch.accepted, batch.rejected) == (3, 2, 1)
    assert BatchRejection.objects.filter(batch=batch).count() == 1
    assert batch.receipt != failed_receipt and batch.log_index > restarted.index > failed_log_index
    assert ExchangeLogEntry.objects.filter(kind="receipt_issued").count() == 2  # the failed one stays
    assert log_verify().ok

    # completed now: pushing it again answers it, as for any finished batch
    assert push().status_code == 200 and ExchangeLogEntry.objects.filter(kind="batch_restarted").count() == 1


def test_a_batch_failed_for_what_the_department_sent_stays_failed(push, enqueued):
    body = b"\x00\x01 binary, not NDJSON\n"
    batch = Batch.objects.get(pk=push(body).json()["id"])
    pipeline.batch_process(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == "failed" and batch.failure_code not in ("internal_error", "storage_error")
    again = push(body)
    assert again.status_code == 200 and again.json()["status"] == "failed"
    assert not ExchangeLogEntry.objects.filter(kind="batch_restarted").exists() and enqueued == [batch.pk]

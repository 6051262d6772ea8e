"""Intake and a batch's finish follow the lock order of credit/locks.py: a resubmission never waits for a
batch that is finishing, and the finishing transaction takes the exchange log's lock before the batch row."""

from __future__ import annotations

import io
import threading

import pytest
from django.db import connection, transaction

from exchange.exchange_log import log_lock
from exchange.models import Batch
from exchange.services.batches import batch_receive
from tests.credit.factories import ndjson, penalty

pytestmark = pytest.mark.django_db(transaction=True)

BODY = ndjson([penalty("湘锁序罚〔2026〕1号", 1)])


def _receive(department, batch_id="lock-order-1"):
    return batch_receive(department=department, category="admin_penalty", batch_id=batch_id,
                         content_type="application/x-ndjson", body=io.BytesIO(BODY))


def _hold_batch_row_open(batch_pk: int, locked: threading.Event, release: threading.Event):
    """What the pipeline's finishing transaction does: the log's lock, then the batch row, updated."""
    try:
        with transaction.atomic():
            log_lock()
            row = Batch.objects.select_for_update().get(pk=batch_pk)
            row.save(update_fields=["status"])
            locked.set()
            release.wait(timeout=30)
    finally:
        connection.close()


def test_a_resubmission_is_answered_while_its_batch_is_finishing(scjg, monkeypatch):
    monkeypatch.setattr("ingest.handoff.batch_enqueue", lambda **kw: None)
    batch, created = _receive(scjg)
    assert created
    locked, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_batch_row_open, args=(batch.pk, locked, release))
    holder.start()
    try:
        assert locked.wait(timeout=10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")  # waiting for the finishing transaction would fail here
        again, created = _receive(scjg)
        assert (again.pk, created) == (batch.pk, False)
    finally:
        release.set()
        holder.join(timeout=30)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")

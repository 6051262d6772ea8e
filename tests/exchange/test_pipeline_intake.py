"""exchange.services.batches.batch_receive: kept as received, recorded once, logged, enqueued after commit."""

from __future__ import annotations

import base64
import hashlib
import io
import threading

import pytest
from django.db import connection

from exchange.models import Batch, ExchangeLogEntry
from exchange.services.batches import BatchIdConflict, BatchTooLarge, CategoryNotWritable, batch_receive
from filestore.encryption import open_batch_file


def _department():
    from exchange.services.departments import department_register

    return department_register(code="HN-STHJ", name="生态环境厅", write=["admin_penalty"],
                               read=["admin_penalty"]).obj


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_identical_posts_give_one_batch(enqueued, settings):
    department = _department()
    body = b'{"decision_no": "A"}\n' * 1000
    barrier, results, errors = threading.Barrier(2), [], []

    def post():
        try:
            barrier.wait()
            results.append(batch_receive(department=department, category="admin_penalty", batch_id="b-1",
                                         content_type="application/x-ndjson", body=io.BytesIO(body)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(created for _, created in results) == [False, True]
    assert len({b.pk for b, _ in results}) == 1
    assert Batch.objects.count() == 1
    assert ExchangeLogEntry.objects.filter(kind="batch_submitted").count() == 1
    assert enqueued == [results[0][0].pk]
    batch = Batch.objects.get()
    assert batch.content_digest == f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode()}:"
    with open_batch_file(settings.BATCH_STORAGE_DIR / batch.storage_path) as stored:
        assert stored.read() == body  # the exact bytes received, decrypted
    assert body not in (settings.BATCH_STORAGE_DIR / batch.storage_path).read_bytes()  # not in plain text
    assert batch.size_bytes == len(body)


@pytest.mark.django_db
def test_same_batch_id_other_content_is_a_conflict(enqueued):
    department = _department()
    batch_receive(department=department, category="admin_penalty", batch_id="b-1",
                  content_type="application/x-ndjson", body=io.BytesIO(b"{}\n"))
    with pytest.raises(BatchIdConflict):
        batch_receive(department=department, category="admin_penalty", batch_id="b-1",
                      content_type="application/x-ndjson", body=io.BytesIO(b'{"x": 1}\n'))
    assert Batch.objects.count() == 1 and ExchangeLogEntry.objects.count() == 1


@pytest.mark.django_db
def test_limits_and_permissions_refuse_without_a_trace(enqueued, settings):
    department = _department()
    settings.EXCHANGE_MAX_BATCH_BYTES = 100
    with pytest.raises(BatchTooLarge):
        batch_receive(department=department, category="admin_penalty", batch_id="big",
                      content_type="application/x-ndjson", body=io.BytesIO(b"x" * 101))
    settings.EXCHANGE_MAX_BATCH_BYTES, settings.EXCHANGE_MAX_BATCH_ROWS = 10_000, 3
    with pytest.raises(BatchTooLarge):
        batch_receive(department=department, category="admin_penalty", batch_id="rows",
                      content_type="application/x-ndjson", body=io.BytesIO(b"{}\n" * 4))
    with pytest.raises(CategoryNotWritable):
        batch_receive(department=department, category="registration", batch_id="reg",
                      content_type="application/x-ndjson", body=io.BytesIO(b"{}\n"))
    assert Batch.objects.count() == 0 and ExchangeLogEntry.objects.count() == 0
    assert list((settings.BATCH_STORAGE_DIR / "tmp").iterdir()) == []

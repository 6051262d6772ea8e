"""Small batches stay cheap (issue #20): the SQL statements of a signed read, of a one-row push and of a one-row
batch's pipeline are pinned, so they cannot grow back unnoticed. Counts, never times (bench/exchange_cpu gives the
CPU). Each test runs as production does, outside a test transaction, so no savepoint of the test's own is counted."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exchange.models import Batch
from ingest.pipeline import batch_process
from tests.credit.factories import ndjson, penalty

pytestmark = pytest.mark.django_db(transaction=True)

# A statement more is a cost paid by every small batch: if it is needed, raise its pin and say here what it is.
# BEGIN, COMMIT and savepoints count (each is a round trip); COPY does not (psycopg's copy() is not logged).
# the key and its department; the nonce recorded; the batch
SIGNED_READ_STATEMENTS = 3
# the signature check as above (two); the batch_id looked up; the exchange log's lock; the batch inserted (in a
# savepoint: the unique constraint decides between identical pushes); the log entry appended (its lock, the
# last entry, the new one)
ONE_ROW_PUSH_STATEMENTS = 12
# run lock and batch; started; catalog; the row staged and progress; merging; the merge chunk (the merge lock
# shared and its category's lock, settings, its statements, progress, deferred checks, the feed append lock and
# the change feed); finished with its receipt (log lock, batch, log entry, one write); the staged row deleted;
# run lock released
ONE_ROW_PIPELINE_STATEMENTS = 43

BATCHES = "/api/v1/exchange/batches"


def push(as_department, n: int):
    return as_department.post(f"{BATCHES}?category=admin_penalty&batch_id=small-{n}",
                              body=ndjson([penalty(f"湘小批罚〔2026〕{n}号", n)]), content_type="application/x-ndjson")


def statements(captured) -> str:
    return "\n".join(" ".join(q["sql"].split())[:140] for q in captured.captured_queries)


def test_a_signed_batch_read(as_scjg, enqueued):
    pk = push(as_scjg, 1).json()["id"]
    with CaptureQueriesContext(connection) as captured:
        response = as_scjg.get(f"{BATCHES}/{pk}")
    assert response.status_code == 200 and response.json()["id"] == pk
    assert len(captured) <= SIGNED_READ_STATEMENTS, statements(captured)


def test_a_one_row_push(as_scjg, enqueued):
    push(as_scjg, 1)
    with CaptureQueriesContext(connection) as captured:
        response = push(as_scjg, 2)
    assert response.status_code == 202
    assert len(captured) <= ONE_ROW_PUSH_STATEMENTS, statements(captured)


def test_a_one_row_batch_through_the_pipeline(as_scjg, enqueued):
    first, second = push(as_scjg, 1).json()["id"], push(as_scjg, 2).json()["id"]
    batch_process(batch_id=first)  # this process has the catalog and its checks in hand
    with CaptureQueriesContext(connection) as captured:
        batch = batch_process(batch_id=second)
    assert batch.status == "completed" and batch.rows == 1 and batch.receipt
    assert Batch.objects.get(pk=second).receipt == batch.receipt  # what the caller holds is what was committed
    assert len(captured) <= ONE_ROW_PIPELINE_STATEMENTS, statements(captured)

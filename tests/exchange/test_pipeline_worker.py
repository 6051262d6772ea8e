"""The pipeline through a real Celery worker, including SIGKILL mid-batch."""

from __future__ import annotations

import io
import os
import time

import pytest

from credit.models import (
    ChangeFeedEntry,
    ChangeFeedItem,
    Record,
    RecordSender,
    RecordSource,
    RecordVersion,
    StagedRow,
    Subject,
    SubjectAlias,
)
from exchange.models import Batch, BatchRejection
from exchange.services.batches import batch_receive
from tests.credit.factories import ndjson, org_code, penalty, registration

# the worker subprocess inherits this: several chunks per stage, so kills land between chunk commits
os.environ.setdefault("CREDIT_PIPELINE_CHUNK_ROWS", "4000")

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture(autouse=True)
def platform_key_dir():
    """Keep the default storage dirs: the worker process reads the stored batch files."""


def _department():
    from exchange.services.departments import department_register

    return department_register(code="HN-SCJG", name="市场监管", write=["registration", "admin_penalty"],
                               read=["registration", "admin_penalty"]).obj


def _penalty_rows(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        subject = i % 200
        if i % 97 == 0:
            rows.append(penalty(f"P-{i}", subject, decided_on="2025-13-01"))  # invalid
        elif i % 89 == 0:
            rows.append(penalty(f"P-{i - 1}", (i - 1) % 200))  # identical to the previous row, mostly
        elif i % 83 == 0:
            rows.append(penalty(f"P-{i - 1}", (i - 1) % 200, content="另一内容"))  # conflicting
        elif i % 79 == 0:
            rows.append({"op": "withdraw", "decision_no": f"P-none-{i}"})  # unknown record
        elif i % 71 == 0:
            rows.append(penalty(f"P-{i}", None, subject_name="未登记公司", org_code=org_code(900_000 + i % 5)))
        else:
            rows.append(penalty(f"P-{i}", subject))
    return rows


def _submit(department, category, body: bytes, batch_id: str) -> Batch:
    batch, created = batch_receive(department=department, category=category, batch_id=batch_id,
                                   content_type="application/x-ndjson", body=io.BytesIO(body))
    assert created
    return batch


def _wait(batch: Batch, until=lambda b: b.is_finished, timeout: float = 180) -> Batch:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch.refresh_from_db()
        if until(batch):
            return batch
        time.sleep(0.02)
    raise AssertionError(f"batch {batch.pk} stuck at {batch.status} {batch.counts}")


def _snapshot(batches: list[Batch]) -> dict:
    row_of = {b.pk: i for i, b in enumerate(batches)}
    return {
        "batches": [(b.status, b.counts, bool(b.receipt)) for b in batches],
        "rejections": [
            (row_of[b], r, f, c, m) for b, r, f, c, m in
            BatchRejection.objects.filter(batch__in=batches).order_by("batch_id", "row", "field")
            .values_list("batch_id", "row", "field", "code", "message")],
        "subjects": sorted(Subject.objects.values_list("uscc", "name", "registered")),
        "aliases": sorted(SubjectAlias.objects.values_list("subject__uscc", "kind", "value")),
        "records": sorted(Record.objects.values_list("category", "natural_key", "subject__uscc", "pending_key",
                                                     "state", "content_hash", "version", "is_public",
                                                     "publicity_reason", "name_mismatch")),
        "versions": sorted((k, v, op, h, row_of[b], r, t is None) for k, v, op, h, b, r, t in
                           RecordVersion.objects.values_list("record__natural_key", "version", "op", "content_hash",
                                                             "batch_id", "row", "valid_to")),
        "sources": sorted((k, row_of[b], r) for k, b, r in
                          RecordSender.objects.values_list("record__natural_key", "last_batch_id", "last_row")),
        "feed": [(k, key, v, row_of.get(b)) for k, key, v, b in
                 ChangeFeedItem.objects.order_by("id").values_list("kind", "record__natural_key", "version",
                                                                    "batch_id")],
        "staged": StagedRow.objects.count(),
    }


def _wipe():
    ChangeFeedEntry.objects.all().delete()
    RecordVersion.objects.all().delete()
    RecordSource.objects.all().delete()
    Record.objects.all().delete()
    SubjectAlias.objects.all().delete()
    Subject.objects.all().delete()
    Batch.objects.all().delete()


class _FeedLock:
    """The feed append lock held from a connection of the test's (session level), let go on demand."""

    def __init__(self) -> None:
        import psycopg
        from django.db import connection

        from credit.locks import FEED_APPEND_LOCK

        db = connection.settings_dict
        self.key = FEED_APPEND_LOCK
        self.conn = psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"] or None,
                                    password=db["PASSWORD"] or None, autocommit=True)
        self.conn.execute("SELECT pg_advisory_lock(%s)", [self.key])

    def wait_for_a_waiter(self, timeout: float = 120) -> None:
        """Until a session (the worker's chunk) waits for the lock: a bigint key shows as (classid, objid)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            waiting = self.conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 1"
                " AND classid = %s AND objid = %s", [self.key >> 32, self.key & 0xFFFFFFFF]).fetchone()[0]
            if waiting:
                return
            time.sleep(0.02)
        raise AssertionError("no merge chunk came to wait for the feed append lock")

    def let_one_through(self) -> None:
        """Release it and ask again: whoever waits for it gets it first, then this connection, after that
        transaction's end."""
        self.conn.execute("SELECT pg_advisory_unlock(%s)", [self.key])
        self.conn.execute("SELECT pg_advisory_lock(%s)", [self.key])

    def release(self) -> None:
        self.conn.execute("SELECT pg_advisory_unlock(%s)", [self.key])
        self.conn.close()


@pytest.mark.slow
def test_sigkill_mid_batch_gives_the_same_end_state(celery_worker_process):
    department = _department()
    registrations = ndjson([registration(i) for i in range(0, 200, 2)])  # half the subjects registered
    penalties = ndjson(_penalty_rows(16_000))

    # uninterrupted run
    regs = _wait(_submit(department, "registration", registrations, "r-a"))
    pens = _wait(_submit(department, "admin_penalty", penalties, "p-a"))
    expected = _snapshot([regs, pens])
    c = pens.counts
    assert pens.status == "completed"
    assert c["rows"] == 16_000 and c["rows"] == c["accepted"] + c["rejected"]
    assert c["accepted"] == c["created"] + c["updated"] + c["unchanged"] + c["withdrawn"] + c["pending_subject"]
    assert c["pending_subject"] > 0 and c["rejected"] > 0 and c["unchanged"] > 0
    _wipe()

    # the same batches, with the worker SIGKILLed while validating and again while merging. The merge is held at
    # the feed append lock (taken by every penalty chunk just before its commit, credit/locks.py) from a
    # connection of the test's, so the second kill lands after one chunk committed, however fast the run is.
    regs = _wait(_submit(department, "registration", registrations, "r-b"))
    feed = _FeedLock()
    pens = _submit(department, "admin_penalty", penalties, "p-b")
    kills = []
    _wait(pens, lambda b: b.status == "validating" or b.is_finished)
    time.sleep(0.5)
    pens.refresh_from_db()
    celery_worker_process.kill()
    kills.append((pens.status, pens.validated_through_row, pens.merged_through_row))
    feed.let_one_through()  # a killed backend left waiting for it rolls back and ends
    celery_worker_process.start()
    feed.wait_for_a_waiter()
    feed.let_one_through()  # the first chunk commits; the next one waits
    _wait(pens, lambda b: b.merged_through_row > 0)
    feed.wait_for_a_waiter()
    pens.refresh_from_db()
    celery_worker_process.kill()
    kills.append((pens.status, pens.validated_through_row, pens.merged_through_row))
    feed.release()
    celery_worker_process.start()
    pens = _wait(pens)
    assert kills[-1][0] == "merging" and 0 < kills[-1][2] < 16_000, kills
    assert _snapshot([regs, pens]) == expected


def _other_backends() -> set[tuple[int, object]]:
    """(pid, backend start) of every other session on the test database: here, the worker's."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid, backend_start FROM pg_stat_activity"
                       " WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return set(cursor.fetchall())


def test_the_worker_keeps_its_database_connection_from_one_batch_to_the_next(celery_worker_process):
    """Celery's Django fixup would close it around every task (a new backend and log-in per batch) unless
    CELERY_DB_REUSE_MAX is set; config/celery.py still closes one past CONN_MAX_AGE or left broken."""
    department = _department()
    first = _wait(_submit(department, "registration", ndjson([registration(1)]), "keep-1"))
    after_first = _other_backends()
    second = _wait(_submit(department, "registration", ndjson([registration(2)]), "keep-2"))
    after_second = _other_backends()
    assert (first.status, second.status) == ("completed", "completed")
    assert after_first, "the worker closed its connection when the batch finished"
    assert after_first & after_second, "the second batch ran on a new connection"

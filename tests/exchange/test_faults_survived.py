"""Faults on purpose, with the real worker: the worker SIGKILLed while it waits at each stage's lock,
PostgreSQL restarted while a batch waits to merge, batch storage unwritable at intake. Every batch ends
completed once, with counts that add up and one receipt; the exchange log verifies."""

from __future__ import annotations

import contextlib
import time

import psycopg
import pytest
from django.db import connection, connections

from credit.locks import MERGE_LOCK
from credit.models import StagedRow
from exchange.exchange_log import _LOCK_KEY as EXCHANGE_LOG_LOCK
from exchange.exchange_log import log_verify
from exchange.models import Batch, ExchangeLogEntry
from tests.conftest import subprocess_database_url
from tests.credit.factories import ndjson, penalty
from tests.exchange.test_pipeline_worker import _department, _submit, _wait

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]


@pytest.fixture(autouse=True)
def platform_key_dir():
    """Keep the default storage dirs: the worker process reads the stored batch files."""


@contextlib.contextmanager
def holding(lock_key: int):
    """Hold a platform advisory lock from a connection of our own, so the worker stops right there."""
    holder = psycopg.connect(subprocess_database_url(connection.settings_dict), autocommit=True)
    try:
        holder.execute("SELECT pg_advisory_lock(%s)", [lock_key])
        yield holder
    finally:
        with contextlib.suppress(psycopg.Error):
            holder.execute("SELECT pg_advisory_unlock(%s)", [lock_key])
        holder.close()


def _wait_for_waiter(lock_key: int, timeout: float = 60) -> None:
    """Until some other session waits for this advisory lock (bigint form: classid high, objid low 32 bits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                           " AND classid = %s AND objid = %s AND objsubid = 1",
                           [lock_key >> 32, lock_key & 0xFFFFFFFF])
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    raise AssertionError("the worker never reached the lock")


def _assert_done_once(batch: Batch, rows: int) -> None:
    batch.refresh_from_db()
    c = batch.counts
    assert batch.status == "completed" and c["rows"] == rows == c["accepted"] + c["rejected"], c
    assert c["accepted"] == c["created"] + c["updated"] + c["unchanged"] + c["withdrawn"] + c["pending_subject"], c
    entries = ExchangeLogEntry.objects.filter(payload__batch=batch.pk)
    assert sorted(entries.values_list("kind", flat=True)) == ["batch_submitted", "receipt_issued"]
    assert batch.receipt and batch.log_index == entries.get(kind="receipt_issued").index
    assert log_verify().ok


@pytest.mark.parametrize("stage", ["merging", "finishing"])
def test_worker_killed_while_it_waits_to_merge_or_to_finish(celery_worker_process, stage):
    department = _department()
    rows = [penalty(f"K-{stage}-{i}", i) for i in range(50)]
    with holding(MERGE_LOCK) as merge_held:
        batch = _submit(department, "admin_penalty", ndjson(rows), f"kill-{stage}")
        _wait_for_waiter(MERGE_LOCK)  # validated and deduplicated, waiting to merge
        if stage == "merging":
            celery_worker_process.kill()
        else:
            # intake appended to the log already; now hold the log so that the finish waits for it
            with holding(EXCHANGE_LOG_LOCK):
                merge_held.execute("SELECT pg_advisory_unlock(%s)", [MERGE_LOCK])
                _wait_for_waiter(EXCHANGE_LOG_LOCK)
                celery_worker_process.kill()
    celery_worker_process.start()
    batch = _wait(batch, timeout=120)
    _assert_done_once(batch, rows=50)
    assert batch.created == 50
    # rows staged before the kill are gone once the batch finished
    deadline = time.monotonic() + 30
    while StagedRow.objects.filter(batch_id=batch.pk).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not StagedRow.objects.filter(batch_id=batch.pk).exists()


def test_postgresql_restarted_while_a_batch_waits_to_merge(celery_worker_process):
    from config import embedded

    if not embedded.owns_database():
        pytest.skip("DATABASE_URL points at a server this test may not restart")
    department = _department()
    rows = [penalty(f"R-{i}", i) for i in range(50)]
    with holding(MERGE_LOCK):
        batch = _submit(department, "admin_penalty", ndjson(rows), "pg-restart")
        _wait_for_waiter(MERGE_LOCK)
        for alias in connections:
            connections[alias].close()
        embedded.postgres_restart()
    batch = _wait(batch, timeout=180)
    _assert_done_once(batch, rows=50)


def test_a_push_while_batch_storage_is_unwritable_answers_503_and_keeps_nothing(as_scjg, settings, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the storage folder should be")
    settings.BATCH_STORAGE_DIR = blocker / "batches"
    body = ndjson([penalty("S-1", 1)])
    response = as_scjg.post("/api/v1/exchange/batches?category=admin_penalty&batch_id=storage-down", body,
                            "application/x-ndjson")
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/problem+json" and int(response["Retry-After"]) > 0
    assert response.json()["code"] == "storage_unavailable"
    assert not Batch.objects.filter(batch_id="storage-down").exists()
    settings.BATCH_STORAGE_DIR = tmp_path / "batches"  # storage back: the same push is taken
    again = as_scjg.post("/api/v1/exchange/batches?category=admin_penalty&batch_id=storage-down", body,
                         "application/x-ndjson")
    assert again.status_code == 202

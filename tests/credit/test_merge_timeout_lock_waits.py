"""The merge statement timeout counts a statement's work, not its wait for another batch's chunk: a chunk
held at the feed append lock (credit/locks.py) for longer than MERGE_STATEMENT_TIMEOUT_SECONDS merges once
the lock is free, and its batch completes instead of failing with merge_timeout."""

from __future__ import annotations

import time

import pytest

from credit.locks import FEED_APPEND_LOCK
from credit.models import ChangeFeedItem, Record
from tests.credit.factories import penalty
from tests.credit.test_merge_side_by_side import _joined, _lock_sessions, _receive, _run, _until
from tests.exchange.test_faults_survived import holding

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 0.5
# longer than two timeouts and the statistics refreshed between them: the chunk's second try would time out too
HELD_SECONDS = 4 * TIMEOUT


@pytest.fixture(autouse=True)
def run_here(monkeypatch):
    """Batches run in this test's threads, not in a worker; merge statements cut at TIMEOUT."""
    monkeypatch.setattr("ingest.handoff.batch_enqueue", lambda *, batch_id: None)
    monkeypatch.setattr("ingest.pipeline.MERGE_STATEMENT_TIMEOUT_SECONDS", TIMEOUT)


def test_a_chunk_waiting_for_the_feed_append_lock_past_the_timeout_is_not_failed(sthj):
    batch = _receive(sthj, "admin_penalty", [penalty(f"LW-{i}", i % 5) for i in range(20)], "lock-wait")
    with holding(FEED_APPEND_LOCK) as feed_held:
        run = _run(batch)
        _until(lambda: _lock_sessions(FEED_APPEND_LOCK, granted=False), "the chunk never reached the lock")
        time.sleep(HELD_SECONDS)
        assert _lock_sessions(FEED_APPEND_LOCK, granted=False), "the chunk stopped waiting for the lock"
        feed_held.execute("SELECT pg_advisory_unlock(%s)", [FEED_APPEND_LOCK])
        _joined(run)
    batch.refresh_from_db()
    assert batch.status == "completed", (batch.failure_code, batch.failure_reason)
    assert (batch.rows, batch.created, batch.rejected) == (20, 20, 0)
    assert Record.objects.filter(category="admin_penalty").count() == 20
    assert ChangeFeedItem.objects.filter(batch_id=batch.pk, kind="created").count() == 20

"""No global merge lock (issue #15): batches of different categories merge at the same time, a registration
alone; a reader paging the change feed by cursor meanwhile misses nothing.

Each batch runs in a thread of its own, as two workers would run it (its own database session); the test
steers the interleaving through the locks of credit/locks.py: holding the feed append lock from a session of
its own stops every chunk just before its feed rows, with its merge done and the merge lock held."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection

from credit.locks import FEED_APPEND_LOCK, MERGE_LOCK
from credit.models import ChangeFeedItem, Record
from credit.selectors import change_feed_page
from exchange.models import Batch
from exchange.services.batches import batch_receive
from ingest.pipeline import batch_process
from tests.credit.factories import licence, ndjson, org_code, penalty, registration, uscc
from tests.exchange.test_faults_survived import holding

pytestmark = pytest.mark.django_db(transaction=True)

CHUNK_ROWS = 50  # several merge chunks per batch, so the two batches' chunks interleave


@pytest.fixture(autouse=True)
def run_here(monkeypatch):
    """Batches run in this test's threads, not in a worker; chunks of CHUNK_ROWS."""
    monkeypatch.setattr("ingest.handoff.batch_enqueue", lambda *, batch_id: None)
    monkeypatch.setattr("ingest.pipeline.MERGE_CHUNK_ROWS", CHUNK_ROWS)


def _receive(department, category: str, rows: list[dict], batch_id: str) -> Batch:
    batch, created = batch_receive(department=department, category=category, batch_id=batch_id,
                                   content_type="application/x-ndjson", body=io.BytesIO(ndjson(rows)))
    assert created
    return batch


def _registered(department, subjects: range) -> None:
    batch = _receive(department, "registration", [registration(n) for n in subjects], "reg-first")
    batch_process(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == "completed" and batch.created == len(subjects), batch.counts


def _in_thread(work: Callable[[], object]) -> tuple[threading.Thread, list]:
    """Start `work` in a thread with a database session of its own; the list gets its result or exception."""
    out: list = []

    def run():
        try:
            out.append(work())
        except BaseException as exc:  # noqa: BLE001 handed to the test
            out.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def _run(batch: Batch) -> tuple[threading.Thread, list]:
    return _in_thread(lambda: batch_process(batch_id=batch.pk))


def _joined(*runs: tuple[threading.Thread, list]) -> None:
    for thread, out in runs:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a batch never finished"
        assert out and not isinstance(out[0], BaseException), out


def _lock_sessions(key: int, *, granted: bool) -> set[int]:
    """Backends of this database holding (granted) or waiting for (not granted) a bigint advisory lock."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s"
                       " AND objsubid = 1 AND granted = %s"
                       " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                       [key >> 32, key & 0xFFFFFFFF, granted])
        return {row[0] for row in cursor.fetchall()}


def _until(condition: Callable[[], object], what: str, timeout: float = 60) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.02)
    raise AssertionError(what)


def _assert_merged(batch: Batch, *, created: int) -> None:
    batch.refresh_from_db()
    assert batch.status == "completed", (batch.status, batch.failure_code, batch.failure_reason)
    assert (batch.rows, batch.accepted, batch.created, batch.rejected) == (created, created, created, 0), batch.counts
    assert ChangeFeedItem.objects.filter(batch_id=batch.pk, kind="created").count() == created


def test_two_categories_merge_at_the_same_time_and_both_complete_exactly(scjg, sthj):
    _registered(scjg, range(40))
    penalties = _receive(scjg, "admin_penalty", [penalty(f"SBS-P-{i}", i % 40) for i in range(200)], "sbs-p")
    licences = _receive(sthj, "admin_license", [licence(f"SBS-L-{i}", i % 40) for i in range(200)], "sbs-l")
    with holding(FEED_APPEND_LOCK) as feed_held:
        runs = [_run(penalties), _run(licences)]
        # both first chunks merged and waiting to append their feed rows, each still holding the merge lock
        waiting = _until(lambda: len(found := _lock_sessions(FEED_APPEND_LOCK, granted=False)) == 2 and found,
                         "the two categories' merges never overlapped")
        assert waiting <= _lock_sessions(MERGE_LOCK, granted=True)
        feed_held.execute("SELECT pg_advisory_unlock(%s)", [FEED_APPEND_LOCK])
        _joined(*runs)
    _assert_merged(penalties, created=200)
    _assert_merged(licences, created=200)
    assert Record.objects.filter(category="admin_penalty").count() == 200
    assert Record.objects.filter(category="admin_license").count() == 200
    assert not Record.objects.filter(subject__isnull=True).exists()


@pytest.fixture
def slow_feed_commits():
    """Every feed INSERT (a chunk's versions) is followed by a pause of up to 0.1 s before its transaction goes
    on to COMMIT, as a busy disk would make it: a transaction that drew lower feed ids then often commits after
    one that drew higher ones, unless the order is enforced."""
    with connection.cursor() as cursor:
        cursor.execute("""
            CREATE FUNCTION test_feed_insert_pause() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN PERFORM pg_sleep(random() * 0.1); RETURN NULL; END $$;
            CREATE TRIGGER test_feed_insert_pause AFTER INSERT ON credit_recordversion
               FOR EACH STATEMENT EXECUTE FUNCTION test_feed_insert_pause();""")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER IF EXISTS test_feed_insert_pause ON credit_recordversion;"
                           " DROP FUNCTION IF EXISTS test_feed_insert_pause()")


def test_a_reader_paging_the_feed_while_two_categories_merge_misses_no_entry(scjg, sthj, slow_feed_commits):
    _registered(scjg, range(60))
    rows = 600
    penalties = _receive(scjg, "admin_penalty", [penalty(f"FR-P-{i}", i % 60) for i in range(rows)], "fr-p")
    licences = _receive(sthj, "admin_license", [licence(f"FR-L-{i}", i % 60) for i in range(rows)], "fr-l")
    categories = ["admin_penalty", "admin_license"]
    seen: list[int] = []
    cursor, overlapped = None, False
    runs = [_run(penalties), _run(licences)]

    def read_all() -> int:
        nonlocal cursor
        read = 0
        while True:
            items, cursor = change_feed_page(categories=categories, cursor=cursor, limit=37)
            ids = [item["id"] for item in items]
            assert ids == sorted(ids) and (not seen or not ids or ids[0] > seen[-1]), (seen[-1:], ids)
            seen.extend(ids)
            read += len(ids)
            if not items:
                return read

    while any(thread.is_alive() for thread, _ in runs):
        read_all()
        overlapped = overlapped or len(_lock_sessions(MERGE_LOCK, granted=True)) == 2
    _joined(*runs)
    read_all()
    _assert_merged(penalties, created=rows)
    _assert_merged(licences, created=rows)
    assert overlapped, "the two merges never held the merge lock at the same time"
    everything = list(ChangeFeedItem.objects.filter(category__in=categories).order_by("id")
                      .values_list("id", flat=True))
    assert len(everything) == 2 * rows
    assert sorted(set(everything) - set(seen)) == []  # no entry passed by the cursor before it committed
    assert seen == everything


@pytest.mark.parametrize("first", ["penalty", "registration"])
def test_a_registration_and_a_pending_penalty_merged_at_the_same_time_attach(scjg, sthj, first):
    """The penalty names its subject only by its organisation code, which the registration brings. Whichever
    of the two reaches the merge first, the other waits: the penalty is merged pending and then attached, or
    merged straight onto the registered subject; never pending for good."""
    penalties = _receive(sthj, "admin_penalty", [penalty(f"PEND-{i}", None, org_code=org_code(7))
                                                 for i in range(3)], "pend-p")
    registrations = _receive(scjg, "registration", [registration(7)], "pend-r")
    order = [penalties, registrations] if first == "penalty" else [registrations, penalties]
    with holding(FEED_APPEND_LOCK) as feed_held:
        runs = [_run(order[0])]
        _until(lambda: _lock_sessions(FEED_APPEND_LOCK, granted=False), "the first batch never merged")
        runs.append(_run(order[1]))
        # the second waits too: for the merge lock (or, were it not excluded, for the feed append lock)
        _until(lambda: len(_lock_sessions(FEED_APPEND_LOCK, granted=False) | _lock_sessions(MERGE_LOCK, granted=False))
               == 2, "the second batch never reached the merge")
        feed_held.execute("SELECT pg_advisory_unlock(%s)", [FEED_APPEND_LOCK])
        _joined(*runs)
    for batch in (penalties, registrations):
        batch.refresh_from_db()
        assert batch.status == "completed" and batch.rejected == 0, batch.counts
    assert penalties.accepted == 3
    assert (penalties.pending_subject, penalties.created) == ((3, 0) if first == "penalty" else (0, 3))
    records = Record.objects.filter(category="admin_penalty").select_related("subject")
    assert sorted((r.subject.uscc if r.subject else None, r.pending_key) for r in records) == [(uscc(7), "")] * 3


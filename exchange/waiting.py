"""Reads that wait for a batch to finish (RFC 7240 `Prefer: wait=N` on `GET batches/{id}` and its receipt).

A department's system wants to know when its batch has completed. Asking every fraction of a second costs
a signed request each time, and with many departments those requests take the CPU the worker needs to
finish the batches (bench/README.md, "Small batches"). A read that carries `Prefer: wait=N` is held until
the batch finishes or N seconds pass, then answered as usual: one signed request instead of many.

The wake-up is PostgreSQL's LISTEN/NOTIFY: a trigger on the batch table (exchange migration 0008) notifies
`exchange_batch_finished` with the batch's id when the finishing transaction commits. The request LISTENs
before it reads the batch, so a finish that commits after the read is always heard (psycopg keeps the
notifications that arrive between reads for the next wait; one left from an earlier request on the same
connection costs one more read). The batch is read again at least every RECHECK_SECONDS all the same, so a
notification that never comes (a trigger dropped by hand) delays an answer by a second, never loses it.

A waiting request holds a web thread and a database connection, so a web process lets at most half its
threads wait at once (settings.EXCHANGE_WAITING_READS_PER_PROCESS); past that a request is answered at once, as if it had not asked
(RFC 7240 lets a server ignore a preference), and the client asks again.
"""

from __future__ import annotations

import re
import threading
import time

from django.conf import settings
from django.db import connection

from exchange.models import Batch

CHANNEL = "exchange_batch_finished"  # exchange migration 0008
WAIT_MAX_SECONDS = 20.0  # longer than a client's usual read timeout would risk a dropped connection
RECHECK_SECONDS = 1.0
_WAITERS = threading.BoundedSemaphore(settings.EXCHANGE_WAITING_READS_PER_PROCESS)
_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*\"?(\d+(?:\.\d+)?)\"?", re.IGNORECASE)


def preferred_wait(prefer_header: str | None) -> float:
    """Seconds asked for by `Prefer: wait=N` (RFC 7240 §4.3), capped at WAIT_MAX_SECONDS; 0 when not asked."""
    match = _PREFER_WAIT.search(prefer_header or "")
    return min(float(match.group(1)), WAIT_MAX_SECONDS) if match else 0.0


def batch_wait_finished(batch: Batch, seconds: float) -> tuple[Batch, bool]:
    """`batch` as it is once finished, or as it is after `seconds`; and whether the wait was honoured
    (False when every waiting place of this process is taken: the batch is returned as it was)."""
    if batch.is_finished or seconds <= 0:
        return batch, True
    if not _WAITERS.acquire(blocking=False):
        return batch, False
    try:
        return _wait(batch, deadline=time.monotonic() + seconds), True
    finally:
        _WAITERS.release()


def _wait(batch: Batch, *, deadline: float) -> Batch:
    connection.ensure_connection()
    conn = connection.connection
    with connection.cursor() as cursor:
        cursor.execute(f"LISTEN {CHANNEL}")
    try:
        batch, read_at = Batch.objects.get(pk=batch.pk), time.monotonic()  # after LISTEN: later finishes are heard
        while not batch.is_finished and (left := deadline - time.monotonic()) > 0:
            heard = any(n.payload == str(batch.pk)
                        for n in conn.notifies(timeout=min(left, RECHECK_SECONDS), stop_after=1))
            now = time.monotonic()
            if heard or now >= deadline or now - read_at >= RECHECK_SECONDS:
                batch, read_at = Batch.objects.get(pk=batch.pk), now
        return batch
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"UNLISTEN {CHANNEL}")

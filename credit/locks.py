"""PostgreSQL locks of the platform, the one order they are taken in, and the retry of what can still clash.

Lock order (assume every operation runs concurrently with itself). A transaction takes, in this order,
only the locks it needs, and never one from higher up the list after one from further down:

1. the exchange log lock (`exchange.exchange_log.log_lock`, transaction-level advisory): taken FIRST by
   every transaction that will append to the exchange log — batch intake, a batch's finish and receipt,
   an objection or repair decision, department changes, record transfers — before it reads-for-update or writes a
   single row. Whoever waits for it holds nothing, so it can never close a cycle.
2. the merge lock (`merge_lock`, transaction-level advisory): record merges, publicity transitions,
   credit repair, record transfers.
3. row locks, each kind in primary-key order: departments, batches, subjects, records, objections,
   repair requests.
   Implicit ones count too: an INSERT that meets a unique key another transaction is writing waits for
   it, and a deferred foreign-key check takes FOR KEY SHARE on the referenced row at COMMIT.

The session-level batch run lock (BATCH_RUN_CLASS) is outside this order: it is only ever tried
(pg_try_advisory_lock), never waited for.

A deadlock or serialization failure that can still happen (PostgreSQL may pick a victim among row locks
that a set-based statement takes in its own order) is retried by `atomic_retrying`, with a bound.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, connection, transaction

log = logging.getLogger(__name__)

# Transaction-level: serialises record merges, publicity transitions and feed
# writes, so feed ids commit in id order and subject resolution never races
# the attachment of pending rows.
MERGE_LOCK = 0x43524544_4D52  # "CRED" "MR"
# Session-level, (BATCH_RUN_CLASS, batch id): held while a process runs a batch.
BATCH_RUN_CLASS = 0x4352  # two-int form: pg_try_advisory_lock(BATCH_RUN_CLASS, batch_id)

# SQLSTATEs of a transaction PostgreSQL aborted to resolve a clash: running it again may succeed
_CLASH_STATES = {"40P01": "deadlock", "40001": "serialization failure"}
RETRY_ATTEMPTS = 5

T = TypeVar("T")


def merge_lock() -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("the merge lock is transaction-level: take it inside a transaction")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [MERGE_LOCK])


def clash_of(exc: BaseException) -> str | None:
    """'deadlock' or 'serialization failure' when PostgreSQL aborted the transaction for one, else None."""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    return _CLASH_STATES.get(getattr(cause, "sqlstate", None) or "")


def atomic_retrying(unit: Callable[[], T], *, what: str, attempts: int = RETRY_ATTEMPTS) -> T:
    """Run `unit` in its own transaction; when PostgreSQL aborts it for a deadlock or a serialization
    failure, run it again (a short random pause between tries), at most `attempts` times.

    Inside an enclosing transaction (tests, or a caller's larger unit) there is nothing to retry on its
    own: `unit` runs once, in a savepoint, and the enclosing transaction decides."""
    if connection.in_atomic_block:
        with transaction.atomic():
            return unit()
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic():
                return unit()
        except OperationalError as exc:
            clash = clash_of(exc)
            if clash is None or attempt == attempts:
                raise
            log.warning("%s: %s, trying again (%d of %d)", what, clash, attempt + 1, attempts)
            time.sleep(random.uniform(0.01, 0.05) * attempt)
    raise AssertionError("unreachable")

"""PostgreSQL locks of the platform, the one order they are taken in, and the retry of what can still clash.

Lock order (assume every operation runs concurrently with itself). A transaction takes, in this order,
only the locks it needs, and never one from higher up the list after one from further down:

1. the exchange log lock (`exchange.exchange_log.log_lock`, transaction-level advisory): taken FIRST by
   every transaction that will append to the exchange log — batch intake, a batch's finish and receipt,
   an objection or repair decision, department changes, record transfers — before it reads-for-update or writes a
   single row. Whoever waits for it holds nothing, so it can never close a cycle.
2. the merge lock (`merge_lock`, transaction-level advisory), shared or exclusive:
   - SHARED: a merge chunk of an ordinary category (anything but registration). It writes records of its own
     category only (keyed by category + natural key, so two categories' records never collide), their
     versions, sources and its batch's rejections, and creates unregistered subjects with INSERT … ON CONFLICT
     DO NOTHING on a unique key (a concurrent chunk inserting the same subject waits for it and then does
     nothing; chunks insert subjects in key order, so they cannot deadlock). It never attaches pending rows,
     adds aliases or changes another record's subject or name_mismatch.
   - EXCLUSIVE: whatever creates, changes or attaches subjects across categories (a registration chunk: its
     aliases and the pending rows they attach, name_mismatch of every category), publicity transitions, credit
     repair, record transfers. Excluding every chunk, it keeps subject resolution from racing the attachment
     of pending rows: a chunk that classified a row as pending commits before a registration looks for
     pending rows, or starts after the registration's aliases are committed.
3. the category merge lock (`category_merge_lock`, two-int advisory (CATEGORY_MERGE_CLASS, category)): every
   merge chunk, so two chunks of one category (two batches, or two departments' batches whose records may
   collide) never interleave.
4. row locks, each kind in primary-key order: departments, batches, subjects, records, objections,
   repair requests.
   Implicit ones count too: an INSERT that meets a unique key another transaction is writing waits for
   it, and a deferred foreign-key check takes FOR KEY SHARE on the referenced row at COMMIT.
5. the feed append lock (`feed_append_lock`, transaction-level advisory): taken by a merge chunk just before
   it inserts its versions (its change-feed entries), as its last statements before COMMIT
   (after the batch's progress and its deferred foreign-key checks): whoever holds it waits for nothing
   but its own commit (its versions' foreign-key checks at COMMIT name records the chunk itself wrote).
   Writers holding the merge lock EXCLUSIVE need not take it (see credit/models/feed.py).

Waiting for locks 2, 3 and 5 never counts against a statement timeout (`_xact_lock` takes them with it off), so
a merge chunk that waits for another batch's chunk is not failed as `merge_timeout`. A wait inside a statement
cannot be told apart from the statement's work and does count: an INSERT that meets a unique key another chunk
is writing (an unregistered subject both chunks create) waits under the timeout for that chunk's commit.

The session-level batch run lock (BATCH_RUN_CLASS) is outside this order: it is only ever tried
(pg_try_advisory_lock), never waited for.

A deadlock or serialization failure that can still happen (PostgreSQL may pick a victim among row locks
that a set-based statement takes in its own order) is retried by `atomic_retrying`, with a bound.
"""

from __future__ import annotations

import logging
import random
import time
import zlib
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, connection, transaction

log = logging.getLogger(__name__)

# Transaction-level, shared by ordinary merge chunks, exclusive for everything else that writes the store
# (see the lock order above).
MERGE_LOCK = 0x43524544_4D52  # "CRED" "MR"
# Transaction-level, two-int form (CATEGORY_MERGE_CLASS, category_merge_key(category)): one category's chunks
# one at a time. Two categories whose keys collide only wait for each other, as under one lock.
CATEGORY_MERGE_CLASS = 0x4D43  # "MC"
# Transaction-level, exclusive: held from a merge chunk's version insert to its commit, so
# feed ids are handed out in commit order (credit/models/feed.py).
FEED_APPEND_LOCK = 0x43524544_4641  # "CRED" "FA"
# Session-level, (BATCH_RUN_CLASS, batch id): held while a process runs a batch.
BATCH_RUN_CLASS = 0x4352  # two-int form: pg_try_advisory_lock(BATCH_RUN_CLASS, batch_id)

# SQLSTATEs of a transaction PostgreSQL aborted to resolve a clash: running it again may succeed
_CLASH_STATES = {"40P01": "deadlock", "40001": "serialization failure"}
RETRY_ATTEMPTS = 5

T = TypeVar("T")


# A lock statement runs with the transaction's statement_timeout off, then the timeout is set back to what it
# was: waiting for another transaction's lock is not a statement running away (a merge chunk's
# MERGE_STATEMENT_TIMEOUT_SECONDS, ingest.pipeline, must not fail a chunk that only waited for another batch's).
# PostgreSQL times each statement of a multi-statement string on its own, so one round trip does all four.
_UNTIMED = ("SELECT set_config('credit.timeout_outside_lock', current_setting('statement_timeout'), true); "
            "SET LOCAL statement_timeout = 0; {lock}; "
            "SELECT set_config('statement_timeout', current_setting('credit.timeout_outside_lock'), true)")


def _xact_lock(sql: str, params: list) -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("the platform's merge and feed locks are transaction-level: take them inside a transaction")
    with connection.cursor() as cursor:
        cursor.execute(_UNTIMED.format(lock=sql), params)


def merge_lock(*, shared: bool = False) -> None:
    """The merge lock, exclusive unless `shared` (an ordinary category's merge chunk; see the lock order)."""
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    _xact_lock(f"SELECT {function}(%s)", [MERGE_LOCK])


def category_merge_key(category: str) -> int:
    """A stable signed 32-bit key of a category code (the same in every process, unlike Python's hash)."""
    return int.from_bytes(zlib.crc32(category.encode()).to_bytes(4, "big"), "big", signed=True)


def category_merge_lock(category: str) -> None:
    _xact_lock("SELECT pg_advisory_xact_lock(%s, %s)", [CATEGORY_MERGE_CLASS, category_merge_key(category)])


def feed_append_lock() -> None:
    _xact_lock("SELECT pg_advisory_xact_lock(%s)", [FEED_APPEND_LOCK])


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

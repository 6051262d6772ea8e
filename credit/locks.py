"""PostgreSQL advisory-lock keys used by the store."""

from django.db import connection

# Transaction-level: serialises record merges, publicity transitions and feed
# writes, so feed ids commit in id order and subject resolution never races
# the attachment of pending rows.
MERGE_LOCK = 0x43524544_4D52  # "CRED" "MR"
# Session-level, (BATCH_RUN_CLASS, batch id): held while a process runs a batch.
BATCH_RUN_CLASS = 0x4352  # two-int form: pg_try_advisory_lock(BATCH_RUN_CLASS, batch_id)


def merge_lock() -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("the merge lock is transaction-level: take it inside a transaction")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [MERGE_LOCK])

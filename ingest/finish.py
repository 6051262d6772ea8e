"""A batch's end: its outcome and its signed receipt in one commit, then its staged rows dropped."""

from __future__ import annotations

from django.db import connection
from django.utils import timezone

from credit.locks import atomic_retrying
from credit.models import StagedRow
from exchange.exchange_log import log_lock
from exchange.models import Batch, BatchStatus
from exchange.receipts import RECEIPT_FIELDS, batch_receipt_attach


def _finish(*, batch: Batch, **fields) -> None:
    def finish() -> Batch:
        log_lock()  # the receipt appends to the exchange log: its lock before the batch row (credit/locks.py)
        # the department read with it (for the receipt), not locked: only the batch row is written
        locked = Batch.objects.select_for_update(of=("self",)).select_related("department").get(pk=batch.pk)
        changed = []
        if not locked.is_finished:
            for name, value in fields.items():
                setattr(locked, name, value)
            locked.completed_at = timezone.now()
            changed += [*fields, "completed_at"]
        if not locked.receipt:
            batch_receipt_attach(batch=locked)
            changed += RECEIPT_FIELDS
        if changed:
            locked.save(update_fields=changed)  # the outcome and its receipt: one write, one commit
        return locked

    finished = atomic_retrying(finish, what=f"finishing batch {batch.pk}")
    # not inside the finishing transaction, which holds the exchange log's lock; a process killed before
    # this line leaves rows that staged_rows_of_finished_batches_delete removes
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {StagedRow._meta.db_table} WHERE batch_id = %s", [batch.pk])
    for field in Batch._meta.concrete_fields:  # the caller's batch as committed, without reading it again
        setattr(batch, field.attname, getattr(finished, field.attname))


def staged_rows_of_finished_batches_delete() -> int:
    """Staged rows are needed only until their batch finishes."""
    with connection.cursor() as cursor:
        cursor.execute(f"""DELETE FROM {StagedRow._meta.db_table} st USING {Batch._meta.db_table} b
                            WHERE st.batch_id = b.id AND b.status IN ('completed', 'failed')""")
        return cursor.rowcount


def batch_complete(*, batch: Batch) -> None:
    _finish(batch=batch, status=BatchStatus.COMPLETED)


def batch_fail(*, batch: Batch, code: str, reason: str) -> None:
    _finish(batch=batch, status=BatchStatus.FAILED, failure_code=code, failure_reason=reason)


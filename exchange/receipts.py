"""Batch receipts (exchange-protocol §3): a JWS proving the platform took this exact batch.

`batch_receipt_issue` runs inside the transaction that finishes a batch: the
`receipt_issued` log entry, the receipt and the batch's log position commit together.
"""

from __future__ import annotations

from django.db import connection

from credit.locks import atomic_retrying
from exchange.exchange_log import log_append, log_lock
from exchange.jws import jws_sign
from exchange.models import Batch
from exchange.platform_keys import platform_key_current
from exchange.selectors import batch_failure

RECEIPT_FIELDS = ["receipt", "log_index", "log_head"]


def _rfc3339(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def batch_receipt_payload(*, batch: Batch) -> dict:
    """The receipt's claims before it is placed in the log (no log_index/log_head yet)."""
    return {
        "batch": batch.pk,
        "department": batch.department.code,
        "batch_id": batch.batch_id,
        "category": batch.category,
        "content_digest": batch.content_digest,
        "received_at": _rfc3339(batch.received_at),
        "completed_at": _rfc3339(batch.completed_at),
        "status": batch.status,
        "counts": batch.counts,
        **batch_failure(batch),
        **({"ignored_columns": batch.ignored_columns} if batch.ignored_columns else {}),  # additive: v1.1
    }


def batch_receipt_issue(*, batch: Batch) -> str:
    """Issue (once) and store the receipt of a finished batch; a second call returns the stored one."""
    if not connection.in_atomic_block:
        return atomic_retrying(lambda: batch_receipt_issue(batch=batch), what=f"receipt of batch {batch.pk}")
    log_lock()  # before the batch row (credit/locks.py); the pipeline's finishing transaction holds it already
    locked = Batch.objects.select_for_update().select_related("department").get(pk=batch.pk)
    if locked.receipt:
        _copy_receipt(locked, batch)
        return locked.receipt
    if not locked.is_finished:
        raise ValueError(f"batch {locked.pk} is {locked.status}: a receipt is issued only once it has finished")
    batch_receipt_attach(batch=locked)
    locked.save(update_fields=RECEIPT_FIELDS)
    _copy_receipt(locked, batch)
    return locked.receipt


def batch_receipt_attach(*, batch: Batch) -> None:
    """Enter the receipt of `batch` in the exchange log and set it on the batch, unsaved: for a caller that
    finishes the batch in the same transaction, holding the log lock and the batch row already, and saves
    RECEIPT_FIELDS together with its own changes."""
    payload = batch_receipt_payload(batch=batch)
    entry = log_append(kind="receipt_issued", department_code=batch.department.code, payload=payload)
    payload["log_index"] = entry.index
    payload["log_head"] = entry.entry_hash
    key = platform_key_current()
    batch.receipt = jws_sign(payload=payload, private_key=key.private_key, kid=key.kid)
    batch.log_index, batch.log_head = entry.index, entry.entry_hash


def _copy_receipt(source: Batch, target: Batch) -> None:
    target.receipt, target.log_index, target.log_head = source.receipt, source.log_index, source.log_head

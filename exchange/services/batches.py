"""Batch intake: keep the batch as received (bytes and digest), record it once,
log it, and hand it to ingest (ingest.handoff, the one import of ingest here) after commit."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from typing import BinaryIO

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction

from credit.locks import atomic_retrying
from exchange.exchange_log import log_append, log_lock
from exchange.models import PLATFORM_FAILURE_CODES, Batch, BatchRejection, BatchStatus, Department
from exchange.services.row_count import RowCounter
from exchange.signatures.digest import digest_header
from filestore.encryption import BatchFileWriter
from filestore.storage import storage, stored_file_delete
from ingest import handoff

log = logging.getLogger(__name__)

READ_SIZE = 1024 * 1024


class BatchTooLarge(Exception):
    """Over settings.EXCHANGE_MAX_BATCH_BYTES bytes or EXCHANGE_MAX_BATCH_ROWS rows (→ 413)."""


class BatchIdConflict(Exception):
    """The same department and batch_id were used for other content (→ 409 batch_id_conflict)."""


class CategoryNotWritable(Exception):
    """The department may not write this category (→ 403)."""


class StorageUnavailable(Exception):
    """The batch store cannot be written now (a full disk, a missing mount): nothing was kept (→ 503)."""


@contextlib.contextmanager
def _storage_writes():
    """OSError from the batch store (not from reading the request) means: try again later."""
    try:
        yield
    except OSError as exc:
        log.error("batch storage cannot be written: %s", exc)
        raise StorageUnavailable("平台的批次存储暂时无法写入，本批次未保存；请稍后重新报送。") from exc


def _store(body: BinaryIO, *, is_csv: bool) -> tuple[str, str, int]:
    """Stream the body, encrypted, to the store (filestore.storage: local disk or a bucket) under a
    temporary name, then commit it under its content-addressed path. Returns (relative path, content digest
    of the body as received, size)."""
    max_bytes, max_rows = settings.EXCHANGE_MAX_BATCH_BYTES, settings.EXCHANGE_MAX_BATCH_ROWS
    sha, size, rows = hashlib.sha256(), 0, RowCounter(is_csv=is_csv)
    with contextlib.ExitStack() as stack:  # whatever ends the upload early (a refusal, a storage error) discards it
        with _storage_writes():
            upload = stack.enter_context(storage().upload())
        out = BatchFileWriter(upload)  # encrypted at rest: a batch may hold ID numbers
        while chunk := body.read(READ_SIZE):
            size += len(chunk)
            if size > max_bytes:
                raise BatchTooLarge(f"批次超过 {max_bytes} 字节的上限，请拆分后分别报送。")
            rows.feed(chunk)
            if rows.rows > max_rows:
                raise BatchTooLarge(f"批次的数据行超过 {max_rows} 行的上限，请拆分后分别报送。")
            sha.update(chunk)
            with _storage_writes():
                out.write(chunk)
        hexdigest = sha.hexdigest()
        relative = f"{hexdigest[:2]}/{hexdigest}"
        with _storage_writes():
            out.close()
            upload.commit(relative)
    return relative, digest_header(sha.digest()), size


def batch_receive(*, department: Department, category: str, batch_id: str, content_type: str, body: BinaryIO,
                  source: str = "api") -> tuple[Batch, bool]:
    """Keep the batch and record it once. Same batch_id + same digest → (existing, False), or, when the
    existing batch failed on the platform's side, (that batch started again, True)."""
    if not department.may_write(category):
        raise CategoryNotWritable(f"department {department.code} may not write {category}")
    relative, digest, size = _store(body, is_csv=content_type.lower().startswith("text/csv"))
    try:
        return _batch_record(department=department, category=category, batch_id=batch_id,
                             content_type=content_type, source=source, relative=relative, digest=digest, size=size)
    except BaseException:  # refused (409) or not recorded (a database error): keep no file for it
        _stored_file_discard(relative)
        raise


def _stored_file_discard(relative: str) -> None:
    """Remove a stored file no batch row names. Identical content shares the path, so a file another
    batch uses stays. (An identical upload between its own store and insert at this very moment would
    lose the file; its batch then fails with storage_error and a re-push under its batch_id stores it again.)"""
    try:
        used = Batch.objects.filter(storage_path=relative).exists()
    except DatabaseError:  # cannot tell: keep it (a stray file is harmless, a lost one is not)
        log.warning("stored batch file %s kept: could not check whether a batch uses it", relative, exc_info=True)
        return
    if not used:
        with contextlib.suppress(OSError):  # a store unreachable now: a stray file is harmless
            stored_file_delete(relative)


def _batch_record(*, department: Department, category: str, batch_id: str, content_type: str, source: str,
                  relative: str, digest: str, size: int) -> tuple[Batch, bool]:
    # a resubmission is answered from the committed row, without waiting for the exchange log's lock
    existing = Batch.objects.filter(department=department, batch_id=batch_id).first()
    if existing is not None:
        existing = _resubmitted(existing, digest=digest, category=category)
        if existing.failure_code in PLATFORM_FAILURE_CODES:
            return batch_restart(batch=existing)
        return existing, False

    def record() -> tuple[Batch, bool]:
        log_lock()  # first, before the batch row: the lock order of credit/locks.py
        try:
            with transaction.atomic():  # the unique constraint decides between concurrent identical posts
                batch = Batch.objects.create(
                    department=department, batch_id=batch_id, category=category, content_type=content_type,
                    content_digest=digest, size_bytes=size, storage_path=relative, source=source,
                )
        except IntegrityError:
            batch = Batch.objects.get(department=department, batch_id=batch_id)
            return _resubmitted(batch, digest=digest, category=category), False
        log_append(kind="batch_submitted", department_code=department.code, payload={
            "batch": batch.id, "batch_id": batch_id, "category": category, "content_digest": digest,
            "size_bytes": size, "content_type": content_type, "source": source,
            "received_at": batch.received_at.isoformat(),
        })
        transaction.on_commit(lambda: handoff.batch_enqueue(batch_id=batch.id))
        return batch, True

    return atomic_retrying(record, what=f"intake of batch {department.code}/{batch_id}")


def _resubmitted(batch: Batch, *, digest: str, category: str) -> Batch:
    """The batch this batch_id already names, if the content is the same; else BatchIdConflict."""
    if batch.content_digest != digest or batch.category != category:
        raise BatchIdConflict(f"batch_id {batch.batch_id!r} was already used by {batch.department.code} "
                              "for other content or another category")
    return batch


def batch_restart(*, batch: Batch) -> tuple[Batch, bool]:
    """Start again a batch that failed on the platform's side (PLATFORM_FAILURE_CODES), in one transaction:
    progress, counts, rejections and staged rows reset, a `batch_restarted` log entry (the earlier receipt
    stays valid where the log holds it), enqueued after commit. (batch, False) if it is no longer such a
    batch (a concurrent re-push restarted it first)."""
    from credit.models import StagedRow

    def restart() -> tuple[Batch, bool]:
        log_lock()  # before the batch row: the lock order of credit/locks.py
        locked = Batch.objects.select_for_update().select_related("department").get(pk=batch.pk)
        if locked.status != BatchStatus.FAILED or locked.failure_code not in PLATFORM_FAILURE_CODES:
            return locked, False
        log_append(kind="batch_restarted", department_code=locked.department.code, payload={
            "batch": locked.id, "batch_id": locked.batch_id, "content_digest": locked.content_digest,
            "failure_code": locked.failure_code, "failed_receipt_log_index": locked.log_index,
        })
        BatchRejection.objects.filter(batch=locked).delete()
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {StagedRow._meta.db_table} WHERE batch_id = %s", [locked.id])
        fresh = Batch(status=BatchStatus.RECEIVED)  # the defaults of every progress field
        fields = ["status", "failure_code", "failure_reason", *Batch.COUNT_FIELDS, "validated_through_row",
                  "merged_through_row", "receipt", "log_index", "log_head", "started_at", "completed_at"]
        for name in fields:
            setattr(locked, name, getattr(fresh, name))
        locked.save(update_fields=fields)
        transaction.on_commit(lambda: handoff.batch_enqueue(batch_id=locked.id))
        return locked, True

    return atomic_retrying(restart, what=f"restart of batch {batch.pk}")


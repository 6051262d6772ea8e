"""Batch intake: keep the batch as received (bytes and digest), record it once,
log it, and hand it to the pipeline (credit.pipeline) after commit."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import IntegrityError, transaction

from credit.locks import atomic_retrying
from exchange.batch_files import BatchFileWriter
from exchange.exchange_log import log_append, log_lock
from exchange.models import Batch, Department
from exchange.services.row_count import RowCounter
from exchange.signatures.digest import digest_header

log = logging.getLogger(__name__)

READ_SIZE = 1024 * 1024


class BatchTooLarge(Exception):
    """Over settings.EXCHANGE_MAX_BATCH_BYTES bytes or EXCHANGE_MAX_BATCH_ROWS rows (→ 413)."""


class BatchIdConflict(Exception):
    """The same department and batch_id were used for other content (→ 409 batch_id_conflict)."""


class CategoryNotWritable(Exception):
    """The department may not write this category (→ 403)."""


def _store(body: BinaryIO, *, is_csv: bool) -> tuple[str, str, int]:
    """Stream the body, encrypted, to a temporary file, then rename it to its
    content-addressed path. Returns (relative path, content digest of the body as
    received, size)."""
    root = Path(settings.BATCH_STORAGE_DIR)
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    max_bytes, max_rows = settings.EXCHANGE_MAX_BATCH_BYTES, settings.EXCHANGE_MAX_BATCH_ROWS
    sha, size, rows = hashlib.sha256(), 0, RowCounter(is_csv=is_csv)
    fd, tmp = tempfile.mkstemp(dir=root / "tmp", prefix="upload-")
    try:
        with os.fdopen(fd, "wb") as raw:
            out = BatchFileWriter(raw)  # encrypted at rest: a batch may hold ID numbers
            while chunk := body.read(READ_SIZE):
                size += len(chunk)
                if size > max_bytes:
                    raise BatchTooLarge(f"the batch is larger than {max_bytes} bytes")
                rows.feed(chunk)
                if rows.rows > max_rows:
                    raise BatchTooLarge(f"the batch has more than {max_rows} rows")
                sha.update(chunk)
                out.write(chunk)
            out.close()
        hexdigest = sha.hexdigest()
        relative = f"{hexdigest[:2]}/{hexdigest}"
        final = root / relative
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)  # same content, same path: replacing it changes nothing
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return relative, digest_header(sha.digest()), size


def batch_receive(*, department: Department, category: str, batch_id: str, content_type: str, body: BinaryIO,
                  source: str = "api") -> tuple[Batch, bool]:
    """Keep the batch and record it once. Same batch_id + same digest → (existing, False)."""
    if not department.may_write(category):
        raise CategoryNotWritable(f"department {department.code} may not write {category}")
    relative, digest, size = _store(body, is_csv=content_type.lower().startswith("text/csv"))
    # a resubmission is answered from the committed row, without waiting for the exchange log's lock
    existing = Batch.objects.filter(department=department, batch_id=batch_id).first()
    if existing is not None:
        return _resubmitted(existing, digest=digest, category=category), False

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
        transaction.on_commit(lambda: batch_enqueue(batch_id=batch.id))
        return batch, True

    return atomic_retrying(record, what=f"intake of batch {department.code}/{batch_id}")


def _resubmitted(batch: Batch, *, digest: str, category: str) -> Batch:
    """The batch this batch_id already names, if the content is the same; else BatchIdConflict."""
    if batch.content_digest != digest or batch.category != category:
        raise BatchIdConflict(f"batch_id {batch.batch_id!r} was already used by {batch.department.code} "
                              "for other content or another category")
    return batch


def batch_enqueue(*, batch_id: int) -> None:
    """Hand a committed batch to the pipeline. With the broker down the batch is not lost: it is stored
    and committed, and batches_resume (beat) enqueues it once the broker is back, so this never fails."""
    from credit.tasks import batch_process

    try:
        batch_process.delay(batch_id)
    except Exception:  # noqa: BLE001 - whatever the broker client raises, the department's answer stands
        log.warning("batch %s not enqueued (broker unreachable); batches_resume will pick it up", batch_id,
                    exc_info=True)

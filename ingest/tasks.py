"""Celery tasks of a batch's life: thin wrappers that take ids and call one service.

Their registered names still say `credit.`, where they lived before the ingest app: messages already queued
by a running platform (and beat's schedule) name them, and a worker must still find their task."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.db import DatabaseError, connection

from filestore.storage import StorageUnreachable
from ingest import finish, pipeline

log = logging.getLogger(__name__)


# a lost database connection (or batch store): tried again after 2, 4, 8, 16 s; after that the batch stays
# unfinished and batches_resume (beat) picks it up once the database (or store) is back
BATCH_PROCESS_RETRIES = 4


@shared_task(name="credit.batch_process", acks_late=True, bind=True, max_retries=BATCH_PROCESS_RETRIES)
def batch_process(self, batch_id: int) -> None:
    try:
        pipeline.batch_process(batch_id=batch_id)
    except DatabaseError as exc:  # only transient ones leave the pipeline
        log.warning("batch %s: database unavailable, try %s of %s", batch_id, self.request.retries + 1,
                    BATCH_PROCESS_RETRIES + 1)
        connection.close()  # broken: the retry opens a new one
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from None
    except StorageUnreachable as exc:  # the batch store (a bucket) is down: the same waiting as for the database
        log.warning("batch %s: batch storage unreachable, try %s of %s", batch_id, self.request.retries + 1,
                    BATCH_PROCESS_RETRIES + 1)
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from None


@shared_task(name="credit.batches_resume")
def batches_resume(retries_left: int = 0) -> int:
    """Re-enqueue unfinished batches whose run lock is free (their worker died). A killed
    worker's backend may hold its lock a moment longer: look again a few times."""
    finish.staged_rows_of_finished_batches_delete()
    ids = pipeline.batches_unfinished()
    for batch_id in ids:
        batch_process.delay(batch_id)
    if retries_left and pipeline.batches_running():
        batches_resume.apply_async(kwargs={"retries_left": retries_left - 1}, countdown=3)
    return len(ids)


@worker_ready.connect
def _resume_on_worker_ready(sender=None, **kwargs) -> None:
    # only enqueue here: the worker's main process must not open a DB connection its children inherit
    batches_resume.apply_async(kwargs={"retries_left": 10})

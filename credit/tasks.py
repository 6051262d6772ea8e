"""Celery tasks of the store: thin wrappers that take ids and call one service."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready

from credit import pipeline, services


@shared_task(name="credit.batch_process", acks_late=True)
def batch_process(batch_id: int) -> None:
    pipeline.batch_process(batch_id=batch_id)


@shared_task(name="credit.batches_resume")
def batches_resume(retries_left: int = 0) -> int:
    """Re-enqueue unfinished batches whose run lock is free (their worker died). A killed
    worker's backend may hold its lock a moment longer: look again a few times."""
    ids = pipeline.batches_unfinished()
    for batch_id in ids:
        batch_process.delay(batch_id)
    if retries_left and pipeline.batches_running():
        batches_resume.apply_async(kwargs={"retries_left": retries_left - 1}, countdown=3)
    return len(ids)


@shared_task(name="credit.publicity_transitions")
def publicity_transitions() -> int:
    return services.publicity_transitions_apply()


@worker_ready.connect
def _resume_on_worker_ready(sender=None, **kwargs) -> None:
    # only enqueue here: the worker's main process must not open a DB connection its children inherit
    batches_resume.apply_async(kwargs={"retries_left": 10})

"""The hand-off from intake: exchange records a batch, then calls this after the commit that records it."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def batch_enqueue(*, batch_id: int) -> None:
    """Hand a committed batch to the pipeline. With the broker down the batch is not lost: it is stored
    and committed, and batches_resume (beat) enqueues it once the broker is back, so this never fails."""
    from ingest.tasks import batch_process  # it imports exchange, whose intake imports this module

    try:
        batch_process.delay(batch_id)
    except Exception:  # noqa: BLE001 - whatever the broker client raises, the department's answer stands
        log.warning("batch %s not enqueued (broker unreachable); batches_resume will pick it up", batch_id,
                    exc_info=True)

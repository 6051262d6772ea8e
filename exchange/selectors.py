"""Reads for the exchange API and CLI."""

from __future__ import annotations

from typing import Any

from exchange.models import Batch, BatchStatus, Department


def batch_resource(batch: Batch) -> dict[str, Any]:
    """The batch resource of exchange-protocol §4; a failed batch also says why (§8)."""
    base = f"/api/v1/exchange/batches/{batch.pk}"
    return {
        "id": batch.pk,
        "batch_id": batch.batch_id,
        "category": batch.category,
        "status": batch.status,
        "counts": batch.counts,
        "received_at": batch.received_at.isoformat() if batch.received_at else None,
        "completed_at": batch.completed_at.isoformat() if batch.completed_at else None,
        "rejections_url": f"{base}/rejections",
        "receipt_url": f"{base}/receipt",
        "ignored_columns": batch.ignored_columns,
    } | batch_failure(batch)


def batch_failure(batch: Batch) -> dict[str, str]:
    """`failure_code` and `failure_reason` (plain words) of a failed batch; nothing for any other."""
    if batch.status != BatchStatus.FAILED:
        return {}
    return {"failure_code": batch.failure_code, "failure_reason": batch.failure_reason}


def exchange_is_empty() -> bool:
    """No department and no batch yet: a platform the demo data may be loaded into."""
    return not Department.objects.exists() and not Batch.objects.exists()

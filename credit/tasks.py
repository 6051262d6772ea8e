"""Celery tasks of the store: thin wrappers that take ids and call one service. (A batch's tasks are ingest's.)"""

from __future__ import annotations

from celery import shared_task

from credit import partitions, services


@shared_task(name="credit.publicity_transitions")
def publicity_transitions() -> int:
    return services.publicity_transitions_apply()


@shared_task(name="credit.version_partitions_ensure")
def version_partitions_ensure() -> list[str]:
    return [made.name for made in partitions.version_partitions_ensure(months_ahead=3)]

"""Record versions' monthly partitions (credit 0015), made ahead of time.

credit_recordversion is partitioned by RANGE (valid_from), one partition a calendar month on the platform's
clock, named credit_recordversion_yYYYYmMM; a version of a month with no partition yet lands in the DEFAULT
partition, credit_recordversion_default, the safety net. `version_partitions_ensure`, run daily by Celery beat
(credit.apps) and by `manage.py version_partitions`, makes the partitions of the current month and the next
ones, and of any month the DEFAULT partition holds versions of, moving those versions into it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from credit.months import month_add, month_bounds

TABLE = "credit_recordversion"
DEFAULT_PARTITION = f"{TABLE}_default"


@dataclass(frozen=True)
class PartitionMade:
    name: str
    month: dt.date
    moved: int  # versions moved into it out of the DEFAULT partition


def version_partition_name(month: dt.date) -> str:
    return f"{TABLE}_y{month:%Y}m{month:%m}"


def version_partitions() -> set[str]:
    """Names of the partitions of credit_recordversion."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                       " WHERE i.inhparent = %s::regclass", [TABLE])
        return {name for (name,) in cursor.fetchall()}


def _months_in_default() -> list[dt.date]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT date_trunc('month', valid_from AT TIME ZONE %s)::date"
                       f" FROM {DEFAULT_PARTITION} ORDER BY 1", [timezone.get_default_timezone_name()])
        return [month for (month,) in cursor.fetchall()]


def version_partition_make(month: dt.date) -> PartitionMade | None:
    """The month's partition, with the versions of the month the DEFAULT partition holds moved into it, in one
    transaction: made as a table of its own, filled, then attached (CREATE TABLE … PARTITION OF would refuse
    while DEFAULT holds rows of the month, and would lock the whole parent). None if it exists already."""
    name = version_partition_name(month)
    start, end = month_bounds(month)
    with transaction.atomic(), connection.cursor() as cursor:
        # two runs at once: the second waits here, then finds the partition made
        cursor.execute(f"LOCK TABLE {DEFAULT_PARTITION} IN SHARE ROW EXCLUSIVE MODE")
        if name in version_partitions():
            return None
        cursor.execute(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING STORAGE)")
        cursor.execute(f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE valid_from >= %s AND valid_from < %s"
                       f" RETURNING *) INSERT INTO {name} SELECT * FROM moved", [start, end])
        moved = cursor.rowcount
        # PostgreSQL makes the parent's indexes on it as it attaches, and checks its rows against the bounds
        cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", [start, end])
    return PartitionMade(name, month, moved)


def version_partitions_ensure(*, months_ahead: int = 3) -> list[PartitionMade]:
    """Make the missing partitions of this month and the next `months_ahead`, and of every month the DEFAULT
    partition holds versions of (moving them in). Idempotent: a second run makes nothing."""
    this_month = timezone.localdate().replace(day=1)
    months = {month_add(this_month, n) for n in range(months_ahead + 1)} | set(_months_in_default())
    existing = version_partitions()
    made = []
    for month in sorted(months):
        if version_partition_name(month) not in existing:
            partition = version_partition_make(month)
            if partition:
                made.append(partition)
    return made

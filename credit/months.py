"""Calendar months on the platform's clock (settings.TIME_ZONE): record versions' partitions (credit/partitions.py)
and department scorecards (ops/scorecards/months.py) both begin a month at its midnight."""

from __future__ import annotations

import datetime

from django.utils import timezone


def month_add(month: datetime.date, n: int) -> datetime.date:
    index = month.year * 12 + month.month - 1 + n
    return datetime.date(index // 12, index % 12 + 1, 1)


def month_bounds(month: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """[start, end) of the month as aware datetimes at midnight on the platform's clock."""
    zone = timezone.get_default_timezone()
    start = datetime.datetime.combine(month, datetime.time(), tzinfo=zone)
    end = datetime.datetime.combine(month_add(month, 1), datetime.time(), tzinfo=zone)
    return start, end

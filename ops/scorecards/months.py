"""Calendar months on the platform's clock (Asia/Shanghai, settings.TIME_ZONE)."""

from __future__ import annotations

import datetime
import re

from django.utils import timezone

from credit.months import month_add, month_bounds  # noqa: F401 (this module's names for them)


class MonthInvalid(ValueError):
    """A month that is not written YYYY-MM."""


def month_parse(text: str) -> datetime.date:
    match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 2000:
        raise MonthInvalid(f"月份应写作 YYYY-MM（例如 2026-02），收到的是“{text}”")
    return datetime.date(int(match[1]), int(match[2]), 1)


def month_label(month: datetime.date) -> str:
    return f"{month:%Y-%m}"


def month_current() -> datetime.date:
    return timezone.localdate().replace(day=1)


def month_is_over(month: datetime.date) -> bool:
    return month < month_current()

"""Storing a month's scorecards: once the month is over, idempotently."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from ops.models import DepartmentScorecard
from ops.scorecards.figures import scorecards_compute
from ops.scorecards.months import month_is_over, month_label
from ops.scorecards.selectors import STORED_FIELDS, scorecards_stored


class ScorecardMonthNotOver(Exception):
    """A month still running is computed on the fly, never stored (it would freeze half a month)."""

    def __init__(self, month: datetime.date):
        super().__init__(f"{month_label(month)} 尚未结束，只能实时计算，不能保存")


def scorecards_store(*, month: datetime.date, recompute: bool = False) -> list[dict]:
    """The month's stored scorecards; computed and stored first when not stored yet, or when recompute.
    Safe to run twice and side by side: a unique (department, month) decides, the later write wins."""
    if not month_is_over(month):
        raise ScorecardMonthNotOver(month)
    if not recompute:
        stored = scorecards_stored(month=month)
        if stored:
            return stored
    cards = scorecards_compute(month=month)
    computed_at = timezone.now()
    rows = [DepartmentScorecard(month=month, computed_at=computed_at, department_id=card["department_id"],
                                **{name: card[name] for name in STORED_FIELDS}) for card in cards]
    with transaction.atomic():
        if recompute:
            DepartmentScorecard.objects.bulk_create(
                rows, update_conflicts=True, unique_fields=["department", "month"],
                update_fields=[*STORED_FIELDS, "computed_at"])
        else:  # a run that lost the race keeps what the winner stored
            DepartmentScorecard.objects.bulk_create(rows, ignore_conflicts=True)
    return scorecards_stored(month=month)

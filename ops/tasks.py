"""The beat task that stores last month's scorecards on the 1st (scorecards.md)."""

from celery import shared_task

from ops.scorecards.months import month_add, month_current
from ops.scorecards.services import scorecards_store


@shared_task(name="ops.scorecards_store_last_month")
def scorecards_store_last_month() -> None:
    """Safe to run again: a month already stored is left as it is."""
    scorecards_store(month=month_add(month_current(), -1))

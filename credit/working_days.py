"""Working days (工作日) on China's official calendar.

The calendar is chinesecalendar's (`chinese_calendar`): it carries each year's public holidays and
adjusted working weekends (调休) from the State Council's notice and gets a release every year once the
notice is out (usually November). It covers 2004 up to the latest notice; for a day outside that, it
raises instead of guessing.

Outside the covered years we count Monday to Friday as working days and log a warning: the platform
keeps working (an objection filed on 2 January still gets a due date, a month's scorecard is still
computed), and a deadline is never later than the official one would be, since an uncovered holiday
is counted as a working day. Upgrading chinesecalendar after each year's notice restores the official
calendar.
"""

from __future__ import annotations

import datetime
import functools
import logging

import chinese_calendar

logger = logging.getLogger(__name__)

_ONE_DAY = datetime.timedelta(days=1)


@functools.cache
def covered_years() -> range:
    """The years the installed calendar publishes holidays for."""
    years = [day.year for day in chinese_calendar.holidays]
    return range(min(years), max(years) + 1)


@functools.cache
def _warn_uncovered(year: int) -> None:
    logger.warning(
        "chinesecalendar %s has no holidays for %s: Monday to Friday counted as working days "
        "(upgrade chinesecalendar once the State Council's notice for %s is out)",
        chinese_calendar.__version__, year, year,
    )


def is_working_day(day: datetime.date) -> bool:
    if day.year not in covered_years():
        _warn_uncovered(day.year)
        return day.weekday() < 5
    return chinese_calendar.is_workday(day)


def working_days_between(start: datetime.date, end: datetime.date) -> int:
    """The number of working days in (start, end]: decided on a Monday and received on the Tuesday is 1,
    the same day 0. Negative when end comes before start (the working days in (end, start])."""
    if end < start:
        return -working_days_between(end, start)
    return sum(1 for offset in range(1, (end - start).days + 1) if is_working_day(start + offset * _ONE_DAY))


def working_day_add(start: datetime.date, n: int) -> datetime.date:
    """The n-th working day after start (start itself for n = 0): filed on a Friday before a normal
    weekend, the 1st working day after is the Monday."""
    if n < 0:
        raise ValueError("n must be 0 or more")
    day = start
    while n:
        day += _ONE_DAY
        if is_working_day(day):
            n -= 1
    return day


def working_day_ordinals(first: datetime.date, last: datetime.date) -> list[tuple[datetime.date, int]]:
    """Each day of [first, last] with the number of working days in (first, day]: the difference of two
    days' ordinals is working_days_between, so SQL can join this as a table instead of calling Python per
    row."""
    ordinals, count, day = [], 0, first
    while day <= last:
        if day != first and is_working_day(day):
            count += 1
        ordinals.append((day, count))
        day += _ONE_DAY
    return ordinals

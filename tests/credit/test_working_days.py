"""Working days on the official calendar: 2025/2026 holidays and adjusted working weekends (调休)."""

import datetime
import logging

import pytest

from credit.working_days import (
    _warn_uncovered,
    covered_years,
    is_working_day,
    working_day_add,
    working_day_ordinals,
    working_days_between,
)

D = datetime.date


@pytest.mark.parametrize(("day", "working"), [
    (D(2025, 1, 26), True),    # Sunday worked for the Spring Festival
    (D(2025, 1, 28), False),   # Spring Festival eve, holiday
    (D(2025, 2, 4), False),    # last day of the Spring Festival
    (D(2025, 2, 8), True),     # Saturday worked
    (D(2025, 10, 8), False),   # National Day + Mid-Autumn, a Wednesday
    (D(2025, 10, 11), True),   # Saturday worked
    (D(2026, 1, 2), False),    # New Year, a Friday
    (D(2026, 1, 4), True),     # Sunday worked
    (D(2026, 2, 14), True),    # Saturday worked before the Spring Festival
    (D(2026, 2, 23), False),   # Monday, still the Spring Festival
    (D(2026, 2, 28), True),    # Saturday worked after it
    (D(2026, 3, 7), False),    # an ordinary Saturday
    (D(2026, 3, 9), True),     # an ordinary Monday
])
def test_official_calendar(day, working):
    assert is_working_day(day) is working


def test_between_counts_the_half_open_interval():
    assert working_days_between(D(2026, 3, 9), D(2026, 3, 10)) == 1   # Monday -> Tuesday
    assert working_days_between(D(2026, 3, 9), D(2026, 3, 9)) == 0    # same day
    assert working_days_between(D(2026, 3, 6), D(2026, 3, 9)) == 1    # Friday -> Monday
    assert working_days_between(D(2026, 3, 10), D(2026, 3, 9)) == -1  # received before decided


def test_between_across_the_2026_spring_festival():
    # Fri 13 Feb -> Wed 25 Feb: Sat 14 (worked), 15-23 holiday, Tue 24, Wed 25 = 3
    assert working_days_between(D(2026, 2, 13), D(2026, 2, 25)) == 3
    # an ordinary fortnight has 10
    assert working_days_between(D(2026, 3, 6), D(2026, 3, 20)) == 10


def test_between_across_the_2025_national_day():
    # Fri 26 Sep -> Mon 13 Oct 2025: Sun 28 (worked), Mon 29, Tue 30, 1-8 holiday, Thu 9, Fri 10, Sat 11 (worked), Mon 13
    assert working_days_between(D(2025, 9, 26), D(2025, 10, 13)) == 7


def test_add_skips_holidays_and_counts_adjusted_weekends():
    assert working_day_add(D(2026, 3, 6), 1) == D(2026, 3, 9)     # Friday + 1 = Monday
    assert working_day_add(D(2026, 3, 9), 0) == D(2026, 3, 9)
    assert working_day_add(D(2026, 2, 13), 1) == D(2026, 2, 14)   # the worked Saturday
    assert working_day_add(D(2026, 2, 13), 2) == D(2026, 2, 24)   # then the holiday is skipped
    assert working_day_add(D(2026, 2, 12), 7) == D(2026, 2, 28)   # 13, 14, 24, 25, 26, 27, Sat 28 (worked)
    # the objection rule's 7 working days, filed on the eve of the 2025 National Day holiday
    assert working_day_add(D(2025, 9, 30), 7) == D(2025, 10, 16)  # 9, 10, Sat 11, 13, 14, 15, 16
    with pytest.raises(ValueError):
        working_day_add(D(2026, 3, 9), -1)


def test_add_and_between_agree():
    start = D(2025, 12, 20)
    for n in range(0, 60):
        assert working_days_between(start, working_day_add(start, n)) == n


def test_ordinals_difference_is_between():
    first, last = D(2025, 12, 25), D(2026, 3, 5)
    ordinals = dict(working_day_ordinals(first, last))
    assert ordinals[first] == 0
    for a, b in [(D(2026, 2, 13), D(2026, 2, 25)), (D(2025, 12, 31), D(2026, 1, 5)), (first, last)]:
        assert ordinals[b] - ordinals[a] == working_days_between(a, b)


def test_a_year_the_calendar_does_not_cover_counts_monday_to_friday(caplog):
    year = 2100  # no release of the calendar will cover it
    assert year not in covered_years()
    _warn_uncovered.cache_clear()
    with caplog.at_level(logging.WARNING, logger="credit.working_days"):
        assert is_working_day(D(year, 1, 1)) is True          # a Friday: New Year not known, so worked
        assert is_working_day(D(year, 1, 2)) is False         # Saturday
        assert working_days_between(D(year, 1, 1), D(year, 1, 8)) == 5
    assert [m for m in caplog.messages if "2100" in m and "Monday to Friday" in m]

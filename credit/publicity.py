"""What the public sees, from the catalog (Category.publicity, Catalog.penalty_periods_on).

The date window of a record depends only on its payload and the catalog, so it
is computed once when the row is staged (`publicity_window`); whether the record
is public *today* also depends on its state, credit repair and the date, and is
decided by one rule, `publicity_reason_sql`, which the merge, credit repair and
the hourly publicity transitions apply and store with the record (`is_public`,
`publicity_reason`). Everything else reads what is stored: the public projection
(public/migrations/0007), the change feed's publicity_started/ended entries, and
what the platform reports of a record (`credit.selectors.publicity_of`).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from validation.catalog import Catalog, Category

_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?$")


def add_duration(day: dt.date, iso: str) -> dt.date:
    """day + an ISO 8601 date duration (PnYnMnD); month ends clamp (Jan 31 + P1M = Feb 28/29)."""
    m = _DURATION.match(iso)
    if not m:
        raise ValueError(f"unsupported duration {iso!r}")
    years, months, days = (int(g or 0) for g in m.groups())
    month_index = day.month - 1 + months + 12 * years
    year, month = day.year + month_index // 12, month_index % 12 + 1
    result = dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
    return result + dt.timedelta(days=days)


@dataclass(frozen=True)
class Window:
    starts_on: dt.date | None  # first public day (None: no start condition)
    until: dt.date | None  # the "until" date as shown (penalties: last public day)
    ends_on: dt.date | None  # first day not public (None: no end)
    never: str  # non-empty: never public, and why


def _date(value) -> dt.date | None:
    if not value:
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def publicity_window(category: Category, values: dict, catalog: Catalog) -> Window:
    rule = category.publicity
    never = ""
    scope = values.get("usage_scope") or "public"
    if scope != "public":
        never = f"usage_scope_{scope}"
    for field, value in rule.never_if.items():
        if values.get(field) == value:
            never = f"{field}_{value}"
    if rule.rule != "window":
        return Window(None, None, None, never)
    starts_on = _date(values.get(rule.from_field))
    until = _date(values.get(rule.until_field))
    if until is None and rule.repairable and starts_on is not None:
        periods = catalog.penalty_periods_on(starts_on)
        until = add_duration(starts_on, periods.default_until[values.get("severity") or "general"])
    ends_on = None if until is None else (until + dt.timedelta(days=1) if rule.until_inclusive else until)
    return Window(starts_on, until, ends_on, never)


def repair_earliest(values: dict, catalog: Catalog) -> dt.date:
    """The first day credit repair may end a penalty's publicity."""
    decided_on = _date(values["decided_on"])
    periods = catalog.penalty_periods_on(decided_on)
    return add_duration(decided_on, periods.repair_not_before[values.get("severity") or "general"])


def publicity_reason_sql(*, state: str, never: str, repaired: str, starts: str, ends: str, today: str) -> str:
    """SQL for the reason a record is (reason 'public') or is not public on `today`."""
    return (
        f"CASE WHEN {state} = 'withdrawn' THEN 'withdrawn' "
        f"WHEN {never} <> '' THEN {never} "
        f"WHEN {repaired} IS NOT NULL THEN 'repaired' "
        f"WHEN {starts} IS NOT NULL AND {starts} > {today} THEN 'not_yet' "
        f"WHEN {ends} IS NOT NULL AND {ends} <= {today} THEN 'expired' "
        "ELSE 'public' END"
    )



# The reason `publicity_reason_sql` stored, as the enterprise portal names it (portal.md §2, not_public_reason)
_NOT_PUBLIC_REASONS = {"not_yet": "not_yet_public", "expired": "publicity_ended", "procedure_simple": "simple_procedure"}


def not_public_reason(stored_reason: str) -> str | None:
    """Why a record is not public, from the reason stored with it: withdrawn, repaired, publicity_ended,
    not_yet_public, simple_procedure, usage_scope_shared, usage_scope_authorized; None when it is public."""
    if stored_reason == "public":
        return None
    return _NOT_PUBLIC_REASONS.get(stored_reason, stored_reason)

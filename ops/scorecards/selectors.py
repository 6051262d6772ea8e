"""Reading scorecards: a stored month as stored, a month not stored computed on the fly."""

from __future__ import annotations

import datetime

from ops.models import DepartmentScorecard
from ops.scorecards.figures import FIELDS, scorecards_compute
from ops.scorecards.months import month_add, month_label

STORED_FIELDS = tuple(name for name in FIELDS if name not in ("department", "month"))


def _card(row: DepartmentScorecard) -> dict:
    card = {name: getattr(row, name) for name in STORED_FIELDS}
    return {"department": row.department.code, "month": month_label(row.month), **card,
            "department_id": row.department_id, "computed_at": row.computed_at}


def scorecards_stored(*, month: datetime.date) -> list[dict]:
    rows = DepartmentScorecard.objects.filter(month=month).select_related("department").order_by(
        "rank", "department__code")
    return [_card(row) for row in rows]


def scorecards_of_month(*, month: datetime.date) -> tuple[list[dict], bool]:
    """The month's scorecards and whether they are the stored ones (a stored month is never recomputed
    here: only scorecards_store(recompute=True) does that)."""
    stored = scorecards_stored(month=month)
    if stored:
        return stored, True
    return scorecards_compute(month=month), False


def score_trends(*, month: datetime.date, cards: list[dict], months: int = 12) -> dict[str, list[tuple]]:
    """Each department's score over the `months` months ending with `month`: (label, score or None) per
    month, from the stored months; the shown month from `cards` (stored or computed)."""
    first = month_add(month, -(months - 1))
    labels = [month_label(month_add(first, i)) for i in range(months)]
    scores: dict[str, dict[str, object]] = {card["department"]: {} for card in cards}
    stored = DepartmentScorecard.objects.filter(month__gte=first, month__lt=month).values_list(
        "department__code", "month", "score")
    for code, stored_month, score in stored:
        scores.setdefault(code, {})[month_label(stored_month)] = score
    for card in cards:
        scores[card["department"]][card["month"]] = card["score"]
    return {code: [(label, by_month.get(label)) for label in labels] for code, by_month in scores.items()}

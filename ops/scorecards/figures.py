"""A month's figures computed from the store (scorecards.md), each table read by one aggregate query.

A month is taken as the store stood at its end: batches received in it (with their counts), objections
and repair requests filed in it, and of those only the decisions taken before the month ended. So
computing a past month again gives the same figures whatever arrived or was decided since (the one
exception: a batch received just before midnight and still being merged when the month is computed).
"""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from django.conf import settings
from django.db import connection, transaction

from credit.working_days import working_day_ordinals
from exchange.models import PLATFORM_FAILURE_CODES, Department
from ops.scorecards.months import month_bounds, month_label

FIELDS = (
    "department", "name", "month", "batches", "batches_failed", "rows", "accepted", "rejected",
    "acceptance_rate", "top_rejection_codes", "timeliness_rows", "timely_rows", "timeliness_rate",
    "median_delay_working_days", "objections_received", "objections_on_time", "objections_late",
    "repairs_received", "repairs_decided", "score", "rank",
)
TIMELINESS_CATEGORIES = ("admin_license", "admin_penalty")
TIMELY_WORKING_DAYS = 7  # 双公示: licences and penalties online within 7 working days of the decision
TOP_REJECTION_CODES = 5

# A batch that failed on the platform's side (PLATFORM_FAILURE_CODES) is not the department's failure.
BATCHES_SQL = """
SELECT department_id, count(*), count(*) FILTER (WHERE status = 'failed' AND failure_code <> ALL(%(platform)s)),
       coalesce(sum(rows), 0), coalesce(sum(accepted), 0), coalesce(sum(rejected), 0)
FROM exchange_batch WHERE received_at >= %(start)s AND received_at < %(end)s
GROUP BY department_id
"""

REJECTION_CODES_SQL = """
SELECT department_id, code, n FROM (
  SELECT b.department_id, r.code, count(*) AS n,
         row_number() OVER (PARTITION BY b.department_id ORDER BY count(*) DESC, r.code) AS place
  FROM exchange_batch b JOIN exchange_batchrejection r ON r.batch_id = b.id
  WHERE b.received_at >= %(start)s AND b.received_at < %(end)s
  GROUP BY b.department_id, r.code) ranked
WHERE place <= %(top)s ORDER BY department_id, place
"""

# Versions are partitioned by valid_from, a month each (credit 0015). A version of a batch received in the month
# began after its receipt and before its batch finished (the batch's merge wrote it, then finished it): read
# between the month's start and the last of those batches' ends (now, for one not finished), only the month's
# partitions (and the next ones, while its batches merged past the month's end) are read, as the store grows.
VERSIONS_UNTIL_SQL = """
SELECT max(coalesce(completed_at, now())) FROM exchange_batch
WHERE received_at >= %(start)s AND received_at < %(end)s AND category = ANY(%(categories)s)
"""

# The rows that created a licence or penalty record (its first version), grouped by the day received and
# the day decided: the delays are then worked out per group, not per row.
TIMELINESS_GROUPS_SQL = """
CREATE TEMPORARY TABLE scorecard_timeliness ON COMMIT DROP AS
SELECT b.department_id, (b.received_at AT TIME ZONE %(tz)s)::date AS received_on,
       (v.payload ->> 'decided_on')::date AS decided_on, count(*) AS n
FROM exchange_batch b JOIN credit_recordversion v ON v.batch_id = b.id AND v.version = 1
WHERE b.received_at >= %(start)s AND b.received_at < %(end)s AND b.category = ANY(%(categories)s)
  AND v.valid_from >= %(start)s AND v.valid_from <= %(versions_until)s AND v.payload ? 'decided_on'
GROUP BY 1, 2, 3
"""

# Delay = working days in (decided_on, received_on] = the difference of the two days' working-day
# ordinals. The median is read off the cumulative counts: the mean of the delays at the two middle places.
TIMELINESS_SQL = """
WITH calendar(day, ordinal) AS (SELECT * FROM unnest(%(days)s::date[], %(ordinals)s::int[])),
delays AS (
  SELECT t.department_id, received.ordinal - decided.ordinal AS delay, sum(t.n) AS n
  FROM scorecard_timeliness t JOIN calendar received ON received.day = t.received_on
                              JOIN calendar decided ON decided.day = t.decided_on
  GROUP BY 1, 2),
running AS (
  SELECT department_id, delay, n, sum(n) OVER (PARTITION BY department_id ORDER BY delay) AS upto,
         (sum(n) OVER (PARTITION BY department_id))::bigint AS total  -- a bigint: halves below round down
  FROM delays)
SELECT department_id, max(total), coalesce(sum(n) FILTER (WHERE delay <= %(timely)s), 0),
       (min(delay) FILTER (WHERE upto >= (total + 1) / 2) + min(delay) FILTER (WHERE upto >= total / 2 + 1)) / 2.0
FROM running GROUP BY department_id
"""

# Filed in the month on a record the department supplied; decided as of the month's end.
OBJECTIONS_SQL = """
SELECT r.department_id, count(*),
       count(*) FILTER (WHERE o.decided_at < %(end)s AND (o.decided_at AT TIME ZONE %(tz)s)::date <= o.due_on),
       count(*) FILTER (WHERE (o.decided_at < %(end)s AND (o.decided_at AT TIME ZONE %(tz)s)::date > o.due_on)
                           OR ((o.decided_at IS NULL OR o.decided_at >= %(end)s) AND o.due_on < %(end_day)s))
FROM credit_objection o JOIN credit_record r ON r.id = o.record_id
WHERE o.raised_at >= %(start)s AND o.raised_at < %(end)s
GROUP BY r.department_id
"""

REPAIRS_SQL = """
SELECT r.department_id, count(*), count(*) FILTER (WHERE q.decided_at < %(end)s)
FROM credit_repairrequest q JOIN credit_record r ON r.id = q.record_id
WHERE q.filed_at >= %(start)s AND q.filed_at < %(end)s
GROUP BY r.department_id
"""


def _rate(numerator: int, denominator: int) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def _term(numerator: int, denominator: int) -> Fraction:
    return Fraction(numerator, denominator) if denominator else Fraction(1)  # no denominator counts as 1


def score_of(card: dict) -> Decimal:
    """100 × (0.4 × timeliness + 0.4 × acceptance + 0.2 × objections), from the exact rates."""
    objections_closed = card["objections_on_time"] + card["objections_late"]
    exact = 100 * (Fraction(2, 5) * _term(card["timely_rows"], card["timeliness_rows"])
                   + Fraction(2, 5) * _term(card["accepted"], card["rows"])
                   + Fraction(1, 5) * _term(card["objections_on_time"], objections_closed))
    return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def rank_scorecards(cards: list[dict]) -> list[dict]:
    """Rank 1 = best score; equal scores share a rank (1, 1, 3). Sorted by rank, then department code."""
    for card in cards:
        card["rank"] = 1 + sum(1 for other in cards if other["score"] > card["score"])
    return sorted(cards, key=lambda card: (card["rank"], card["department"]))


def _query(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def timeliness_params(params: dict) -> dict:
    """`params` and the bound of the month's versions (VERSIONS_UNTIL_SQL), as constants the planner prunes by."""
    [(until,)] = _query(VERSIONS_UNTIL_SQL, params)
    return {**params, "versions_until": until or params["start"]}


def _timeliness(params: dict) -> dict[int, tuple[int, int, Decimal | None]]:
    # The month's batches lead and each one's versions are read through (batch, row), so the time grows
    # with the month, not with the store; the planner, misjudging how many versions carry a decided_on,
    # would read every version of every month instead.
    params = timeliness_params(params)
    _query("SET LOCAL enable_seqscan = off", {})
    _query(TIMELINESS_GROUPS_SQL, params)
    _query("RESET enable_seqscan", {})
    try:
        first, last = _query("SELECT min(decided_on), max(received_on) FROM scorecard_timeliness", {})[0]
        if first is None:
            return {}
        ordinals = working_day_ordinals(min(first, last), last)  # a decision "after" receipt still gets a day
        calendar = {"days": [day for day, _ in ordinals], "ordinals": [n for _, n in ordinals]}
        rows = _query(TIMELINESS_SQL, {**params, **calendar, "timely": TIMELY_WORKING_DAYS})
    finally:  # inside a caller's transaction ON COMMIT comes later: a second month in it makes the table again
        _query("DROP TABLE scorecard_timeliness", {})
    return {department: (total, timely, None if median is None else Decimal(median).quantize(Decimal("0.1")))
            for department, total, timely, median in rows}


def scorecards_compute(*, month: datetime.date) -> list[dict]:
    """Every department that existed by the month's end, with the month's figures, score and rank."""
    start, end = month_bounds(month)
    params = {"start": start, "end": end, "end_day": end.date(), "tz": settings.TIME_ZONE,
              "platform": list(PLATFORM_FAILURE_CODES), "categories": list(TIMELINESS_CATEGORIES),
              "top": TOP_REJECTION_CODES}
    outermost = not connection.in_atomic_block
    with transaction.atomic():  # the temporary table lives until commit
        if outermost:  # every query reads the same snapshot
            _query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", {})
        _query("SET LOCAL jit = off", {})  # compiling these one-off aggregates costs more than running them
        batches = {row[0]: row[1:] for row in _query(BATCHES_SQL, params)}
        codes: dict[int, list[dict]] = {}
        for department, code, count in _query(REJECTION_CODES_SQL, params):
            codes.setdefault(department, []).append({"code": code, "count": count})
        timeliness = _timeliness(params)
        objections = {row[0]: row[1:] for row in _query(OBJECTIONS_SQL, params)}
        repairs = {row[0]: row[1:] for row in _query(REPAIRS_SQL, params)}
        departments = list(Department.objects.filter(created_at__lt=end).values_list("id", "code", "name"))
        _query("RESET jit", {})

    cards = []
    for department_id, code, name in departments:
        received, failed, rows, accepted, rejected = batches.get(department_id, (0, 0, 0, 0, 0))
        timeliness_rows, timely_rows, median = timeliness.get(department_id, (0, 0, None))
        objections_received, on_time, late = objections.get(department_id, (0, 0, 0))
        repairs_received, repairs_decided = repairs.get(department_id, (0, 0))
        card = {
            "department": code, "name": name, "month": month_label(month), "department_id": department_id,
            "batches": received, "batches_failed": failed, "rows": int(rows), "accepted": int(accepted),
            "rejected": int(rejected), "acceptance_rate": _rate(accepted, rows),
            "top_rejection_codes": codes.get(department_id, []),
            "timeliness_rows": int(timeliness_rows), "timely_rows": int(timely_rows),
            "timeliness_rate": _rate(timely_rows, timeliness_rows), "median_delay_working_days": median,
            "objections_received": objections_received, "objections_on_time": on_time, "objections_late": late,
            "repairs_received": repairs_received, "repairs_decided": repairs_decided,
        }
        card["score"] = score_of(card)
        cards.append(card)
    return rank_scorecards(cards)

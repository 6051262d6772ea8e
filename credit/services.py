"""Changes to the store outside the batch pipeline: date-driven publicity
transitions and credit repair."""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone

from credit.locks import merge_lock
from credit.models import ChangeFeedEntry, ChangeKind, Record
from credit.publicity import publicity_reason_sql, repair_earliest
from validation.catalog import current_catalog

TRANSITION_CHUNK = 10_000

_REASON = publicity_reason_sql(state="r.state", never="r.publicity_never", repaired="r.repaired_at",
                               starts="r.publicity_from", ends="r.publicity_ends_on", today="%(today)s::date")

# Credit repair: the record's reason computed by the one rule, with its new repaired_at (SET sees the old row).
_REPAIRED_REASON = publicity_reason_sql(state="r.state", never="r.publicity_never", repaired="%(repaired)s::date",
                                        starts="r.publicity_from", ends="r.publicity_ends_on", today="%(today)s::date")
_REPAIR_SQL = f"""
UPDATE credit_record r SET repaired_at = %(repaired)s::date, is_public = ({_REPAIRED_REASON}) = 'public',
       publicity_reason = {_REPAIRED_REASON}, updated_at = %(now)s
 WHERE r.id = %(id)s
"""

# Records whose publicity may have changed by `today`: public ones whose window ended,
# and not-yet-public ones whose window began. Chunked by id, last id done.
_TRANSITIONS_SQL = f"""
WITH due AS (
    SELECT r.id FROM credit_record r
     WHERE r.id > %(after)s AND (
           (r.is_public AND r.publicity_ends_on <= %(today)s::date)
        OR (NOT r.is_public AND r.publicity_reason = 'not_yet' AND r.publicity_from <= %(today)s::date))
     ORDER BY r.id LIMIT %(limit)s
), changed AS (
    UPDATE credit_record r SET is_public = ({_REASON}) = 'public', publicity_reason = {_REASON},
           updated_at = %(now)s
      FROM due WHERE r.id = due.id
    RETURNING r.id, r.category, r.subject_id, r.department_id, r.version, r.is_public
), feed AS (
    INSERT INTO credit_changefeedentry (kind, category, record_id, subject_id, department_id, version, changed_at)
    SELECT CASE WHEN is_public THEN 'publicity_started' ELSE 'publicity_ended' END, category, id, subject_id,
           department_id, version, %(now)s
      FROM changed ORDER BY id
)
SELECT max(id), count(*) FROM due
"""


def publicity_transitions_apply(*, today: dt.date | None = None) -> int:
    """Apply date-driven publicity changes (a penalty's publicity ending, a list entry
    expiring or starting); each appears in the change feed. Safe to run any number of times."""
    today = today or timezone.localdate()
    after, total = 0, 0
    while True:
        with transaction.atomic():
            merge_lock()
            with connection.cursor() as cursor:
                cursor.execute(_TRANSITIONS_SQL, {"after": after, "today": today, "limit": TRANSITION_CHUNK,
                                                  "now": timezone.now()})
                last, count = cursor.fetchone()
        total += count
        if count < TRANSITION_CHUNK:
            return total
        after = last


class RepairRefused(Exception):
    """Credit repair asked for too early, or for a record that cannot be repaired."""


def record_repair(*, record_id: int, repaired_on: dt.date | None = None) -> Record:
    """Credit repair (信用修复): ends a penalty's publicity, not before the catalog's minimum period."""
    repaired_on = repaired_on or timezone.localdate()
    catalog = current_catalog()
    with transaction.atomic():
        merge_lock()
        record = Record.objects.select_for_update().get(pk=record_id)
        category = catalog.category(record.category)
        if not category.publicity.repairable:
            raise RepairRefused(f"{category.label}不适用信用修复")
        earliest = repair_earliest(record.payload, catalog)
        if repaired_on < earliest:
            raise RepairRefused(f"信用修复不得早于{earliest.isoformat()}（处罚决定日期起最短公示期）")
        if record.repaired_at is not None:
            return record
        was_public = record.is_public
        with connection.cursor() as cursor:
            cursor.execute(_REPAIR_SQL, {"id": record.id, "repaired": repaired_on, "today": timezone.localdate(),
                                         "now": timezone.now()})
        record.refresh_from_db()
        if was_public:
            ChangeFeedEntry.objects.create(kind=ChangeKind.PUBLICITY_ENDED, category=record.category,
                                           record=record, subject_id=record.subject_id,
                                           department_id=record.department_id, version=record.version,
                                           changed_at=timezone.now())
    return record

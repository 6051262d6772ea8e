"""A batch's rejected rows, written by ingest whichever stage found them: validation, staging, merge."""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection

from credit.models import StagedRow
from exchange.models import Batch, BatchRejection

log = logging.getLogger(__name__)

INTERNAL_ERROR_ROW = "平台处理该行时内部出错，该行未入库；请联系平台运维人员，问题排除后可重新报送该行"


def rejections_insert(batch_id: int, rejections: list) -> int:
    """Insert rejections (re-runs do nothing); returns the number of distinct rejected rows."""
    if not rejections:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {BatchRejection._meta.db_table} (batch_id, row, field, code, message)
                SELECT %s, r, f, c, m FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[]) AS t(r, f, c, m)
                ON CONFLICT DO NOTHING""",
            [batch_id, [r.row for r in rejections], [r.field or "" for r in rejections],
             [r.code for r in rejections], [r.message for r in rejections]],
        )
    return len({r.row for r in rejections})


def rows_fail(batch: Batch, *, stage: str, lo: int, hi: int, exc: DatabaseError) -> int:
    """A chunk the database refused for a reason no retry would change: its rows lo < row <= hi that are
    not rejected yet (validating: all; merging: the staged ones not already rejected as conflicting)
    become `internal_error` rejections, so the batch goes on. Returns how many rows that is."""
    log.error("batch %s: %s rows %s-%s failed in the database; they are rejected as internal_error",
              batch.id, stage, lo + 1, hi, exc_info=exc)
    if stage == "validating":
        rows_sql = "SELECT generate_series(%(lo)s + 1, %(hi)s)"
    else:
        rows_sql = (f"SELECT st.row FROM {StagedRow._meta.db_table} st WHERE st.batch_id = %(batch)s"
                    " AND st.row > %(lo)s AND st.row <= %(hi)s AND st.status <> 'conflict'")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {BatchRejection._meta.db_table} (batch_id, row, field, code, message)
                SELECT %(batch)s, r, '', 'internal_error', %(message)s FROM ({rows_sql}) AS t(r)
                ON CONFLICT DO NOTHING""",
            {"batch": batch.id, "lo": lo, "hi": hi, "message": INTERNAL_ERROR_ROW})
        return cursor.rowcount

"""The unified store checked whole (`manage.py verify_store`), in set-based SQL, naming the first broken thing.

It checks what the code guarantees (credit/merge.py, ingest/pipeline.py, credit/services.py, and
credit/migrations/0009, which merged records whose keys became one), in this order:
1. references: every id a row of the store holds names an existing row (several have no foreign key in the
   database, credit/models/records.py);
2. version chains: each record's versions are numbered 1..n and n is its current version; exactly one, the
   last, is open (a withdrawal is a version too); each closes when the next begins; the record is withdrawn
   exactly when its last version withdraws it, and an active record holds its last version's content;
3. sources: a RecordSource row is written only for a department none of whose rows had made a version of the
   record (its versions name it as a source; credit.models.RecordSender), so no version of that department
   began before the row's first_seen_at;
4. batches (finished ones): the counts in the receipt are the batch's; its accepted rows add up to its
   outcomes, its rejected rows are the rows with a rejection reason, and the store holds one version per row
   it counts created, updated, pending_subject or withdrawn; no row of any batch made two versions (versions
   are partitioned by month, credit 0015: no unique index across partitions keeps (batch, row) unique, nor
   (record, version), which the version chains check). A batch started again after a platform-side
   failure (`batch_restarted` in the exchange log) kept the versions of its first run and counts those rows
   unchanged: for it, at least the versions it counts and at most one per row;
5. the change feed (credit/models/feed.py): an entry's version exists; every version is in the feed (has a
   feed id) unless it was written before credit 0013 and no entry had announced it (credit 0009's merged
   histories; told apart by the time 0013 was applied); no feed id is held twice, by entries or versions;
   a version is filed under its record's category.
Not checked: a record's content_hash against its last version's (migration 0009 took records' hashes again,
not their versions'), and when versions began (workers on several hosts draw times from their own clocks).

All of it reads one snapshot. Each check computes its broken rows in full (a MATERIALIZED CTE is planned
without the LIMIT that picks the first, so its joins are hash joins over whole tables, whatever the statistics
say) and names the first.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction


@dataclass(frozen=True)
class StoreCheck:
    ok: bool
    subjects: int = 0
    records: int = 0
    versions: int = 0
    feed_entries: int = 0
    problem: str = ""  # the first broken thing, in plain words


# (table, column, what a row is, the table the column points into, what it names); NULL names nothing
_REFERENCES = [
    ("credit_record", "subject_id", "record", "credit_subject", "subject"),
    ("credit_record", "department_id", "record", "exchange_department", "department"),
    ("credit_recordversion", "record_id", "version row", "credit_record", "record"),
    ("credit_recordversion", "department_id", "version row", "exchange_department", "department"),
    ("credit_recordversion", "batch_id", "version row", "exchange_batch", "batch"),
    ("credit_recordversion", "subject_id", "version row", "credit_subject", "subject"),
    ("credit_recordsource", "record_id", "source", "credit_record", "record"),
    ("credit_recordsource", "department_id", "source", "exchange_department", "department"),
    ("credit_recordsource", "first_batch_id", "source", "exchange_batch", "first batch"),
    ("credit_recordsource", "last_batch_id", "source", "exchange_batch", "last batch"),
    ("credit_changefeedentry", "record_id", "feed entry", "credit_record", "record"),
    ("credit_changefeedentry", "subject_id", "feed entry", "credit_subject", "subject"),
    ("credit_changefeedentry", "department_id", "feed entry", "exchange_department", "department"),
    ("credit_changefeedentry", "batch_id", "feed entry", "exchange_batch", "batch"),
    ("credit_objection", "record_id", "objection", "credit_record", "record"),
    ("credit_objection", "subject_id", "objection", "credit_subject", "subject"),
    ("credit_repairrequest", "record_id", "repair request", "credit_record", "record"),
    ("credit_repairrequest", "subject_id", "repair request", "credit_subject", "subject"),
]

_CHAIN_SQL = """
SELECT r.id, r.category, r.natural_key, r.version, v.versions, v.numbers, v.lowest, v.highest, v.open
  FROM credit_record r
  LEFT JOIN (SELECT record_id, count(*) AS versions, count(DISTINCT version) AS numbers, min(version) AS lowest,
                    max(version) AS highest, count(*) FILTER (WHERE valid_to IS NULL) AS open
               FROM credit_recordversion GROUP BY record_id) v ON v.record_id = r.id
 WHERE v.record_id IS NULL OR v.numbers <> v.versions OR v.lowest <> 1 OR v.highest <> v.versions OR v.open <> 1
    OR r.version <> v.versions
"""

# the merge closes a record's current version at the very time its next one begins (one chunk, one `now`)
_CLOSING_SQL = """
SELECT v.record_id, v.version, v.valid_to, v.next_version, v.next_from
  FROM (SELECT record_id, version, valid_to, lead(version) OVER w AS next_version, lead(valid_from) OVER w AS next_from
          FROM credit_recordversion WINDOW w AS (PARTITION BY record_id ORDER BY version)) v
 WHERE v.valid_to IS DISTINCT FROM v.next_from
"""

_CURRENT_SQL = """
SELECT r.id, r.category, r.natural_key, r.state, v.version, v.op
  FROM credit_record r JOIN credit_recordversion v ON v.record_id = r.id AND v.version = r.version
 WHERE (r.state = 'withdrawn') <> (v.op = 'withdraw') OR (r.state <> 'withdrawn' AND r.payload <> v.payload)
"""

_SOURCES_SQL = """
SELECT s.record_id, s.department_id, s.first_seen_at, v.version, v.valid_from
  FROM credit_recordsource s
  JOIN LATERAL (SELECT v.version, v.valid_from FROM credit_recordversion v
                 WHERE v.record_id = s.record_id AND v.department_id = s.department_id
                 ORDER BY v.version LIMIT 1) v ON v.valid_from < s.first_seen_at
"""

_BATCH = """b.id, coalesce(d.code, b.department_id::text) || ' ' || b.batch_id"""
_COUNTS = ("rows", "accepted", "rejected", "created", "updated", "unchanged", "withdrawn", "pending_subject")

_RECEIPTS_SQL = f"""
SELECT {_BATCH}, b.status, b.receipt, {", ".join(f"b.{name}" for name in _COUNTS)}
  FROM exchange_batch b LEFT JOIN exchange_department d ON d.id = b.department_id
 WHERE b.receipt <> ''
 ORDER BY b.id
"""

_BATCH_COUNTS_SQL = f"""
WITH restarted AS (
    SELECT DISTINCT (payload ->> 'batch')::bigint AS batch_id FROM exchange_exchangelogentry
     WHERE kind = 'batch_restarted'
), written AS (
    SELECT batch_id, count(*) FILTER (WHERE op <> 'withdraw') AS upserts,
           count(*) FILTER (WHERE op = 'withdraw') AS withdrawals
      FROM credit_recordversion GROUP BY batch_id
), reasons AS (
    SELECT batch_id, count(DISTINCT row) AS rows FROM exchange_batchrejection GROUP BY batch_id
), batch AS (
    SELECT {_BATCH} AS name, b.rows, b.accepted, b.rejected, b.unchanged, b.withdrawn,
           b.created + b.updated + b.pending_subject AS upserted,
           b.created + b.updated + b.unchanged + b.withdrawn + b.pending_subject AS outcomes,
           coalesce(w.upserts, 0) AS upserts, coalesce(w.withdrawals, 0) AS withdrawals,
           coalesce(j.rows, 0) AS reasons, x.batch_id IS NOT NULL AS restarted
      FROM exchange_batch b
      LEFT JOIN exchange_department d ON d.id = b.department_id
      LEFT JOIN written w ON w.batch_id = b.id
      LEFT JOIN reasons j ON j.batch_id = b.id
      LEFT JOIN restarted x ON x.batch_id = b.id
     WHERE b.status IN ('completed', 'failed')
)
SELECT id, name, rows, accepted, rejected, withdrawn, upserted, outcomes, upserts, withdrawals, reasons, restarted
  FROM batch
 WHERE accepted <> outcomes OR rejected <> reasons
    OR (NOT restarted AND (upserts <> upserted OR withdrawals <> withdrawn))
    OR (restarted AND (upserts < upserted OR withdrawals < withdrawn OR upserts + withdrawals > rows))
"""

# the merge writes a batch's row once (credit.merge, _VERSIONS_SQL); no unique index says so (credit 0015)
_SOURCE_ROW_TWICE_SQL = f"""
SELECT {_BATCH}, v.row, count(*), string_agg(v.record_id || ' v' || v.version, ', ' ORDER BY v.record_id, v.version)
  FROM credit_recordversion v
  JOIN exchange_batch b ON b.id = v.batch_id LEFT JOIN exchange_department d ON d.id = b.department_id
 GROUP BY b.id, d.code, v.row HAVING count(*) > 1
"""

_FEED_TO_VERSION_SQL = """
SELECT f.id, f.kind, f.record_id, f.version
  FROM credit_changefeedentry f
 WHERE f.version IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM credit_recordversion v WHERE v.record_id = f.record_id AND v.version = f.version)
"""

# the merge writes every version with its feed id (credit.merge.merge_chunk_feed_append); before credit 0013 it
# wrote an entry for it, and a version no entry announced kept no feed id: one older than that migration
_VERSION_TO_FEED_SQL = """
SELECT v.record_id, v.version, v.batch_id, v.op
  FROM credit_recordversion v
 WHERE v.feed_id IS NULL
   AND v.valid_from >= coalesce((SELECT max(applied) FROM django_migrations
                                  WHERE app = 'credit' AND name = '0013_versions_carry_the_feed'), '-infinity')
"""

_FEED_IDS_TWICE_SQL = """
SELECT f.id, count(*) FILTER (WHERE f.is_version), count(*) FILTER (WHERE NOT f.is_version)
  FROM (SELECT id, false AS is_version FROM credit_changefeedentry
         UNION ALL
        SELECT feed_id, true FROM credit_recordversion WHERE feed_id IS NOT NULL) f
 GROUP BY f.id HAVING count(*) > 1
"""

_VERSION_CATEGORY_SQL = """
SELECT v.record_id, v.version, v.category, r.category
  FROM credit_recordversion v JOIN credit_record r ON r.id = v.record_id
 WHERE v.category <> r.category
"""


def store_verify() -> StoreCheck:
    """Check the whole store; the first broken thing found, or the store's size when all is consistent."""
    own_transaction = not connection.in_atomic_block
    with transaction.atomic():
        if own_transaction:  # one snapshot for every check (a caller's transaction reads as it does)
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        for check in _CHECKS:
            problem = check()
            if problem:
                return StoreCheck(False, problem=problem)
        with connection.cursor() as cursor:
            cursor.execute("SELECT (SELECT count(*) FROM credit_subject), (SELECT count(*) FROM credit_record),"
                           " (SELECT count(*) FROM credit_recordversion), (SELECT count(*) FROM credit_changefeedentry)"
                           " + (SELECT count(*) FROM credit_recordversion WHERE feed_id IS NOT NULL)")
            subjects, records, versions, feed_entries = cursor.fetchone()
    return StoreCheck(True, subjects, records, versions, feed_entries)


def _first(sql: str) -> tuple | None:
    """The first broken row `sql` selects, ordered by its first two columns (see the module's docstring)."""
    with connection.cursor() as cursor:
        cursor.execute(f"WITH broken AS MATERIALIZED ({sql}) SELECT * FROM broken ORDER BY 1, 2 LIMIT 1")
        return cursor.fetchone()


def _references() -> str | None:
    for table, column, what, target, names in _REFERENCES:
        found = _first(f"SELECT t.id, t.{column} FROM {table} t WHERE t.{column} IS NOT NULL"
                       f" AND NOT EXISTS (SELECT 1 FROM {target} x WHERE x.id = t.{column})")
        if found:
            return f"{what} {found[0]} names {names} {found[1]}, which does not exist"
    return None


def _record(record_id: int, category: str, natural_key: str) -> str:
    return f"record {record_id} ({category} {natural_key})"


def _version_numbers(record_id: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM credit_recordversion WHERE record_id = %s ORDER BY version", [record_id])
        return [row[0] for row in cursor.fetchall()]


def _chains() -> str | None:
    found = _first(_CHAIN_SQL)
    if found:
        record_id, category, natural_key, current, versions, numbers, lowest, highest, open_versions = found
        record = _record(record_id, category, natural_key)
        if versions is None:
            return f"{record} has no versions"
        if numbers != versions or highest != versions or lowest != 1:
            listed = _version_numbers(record_id)
            shown = ", ".join(map(str, listed))
            twice = next((n for n, m in zip(listed, listed[1:], strict=False) if n == m), None)
            if twice is not None:
                return f"{record}: version {twice} appears twice in its history (versions {shown})"
            missing = next(n for n in range(1, highest + 2) if n not in listed)
            return f"{record}: version {missing} is missing from its history (versions {shown})"
        if open_versions != 1:
            return (f"{record} has {open_versions} open versions (no valid_to); exactly one, its last, must be open"
                    if open_versions else f"{record} has no open version; its last version must be open")
        return f"{record} says its current version is {current}, but its history ends at version {versions}"
    found = _first(_CLOSING_SQL)
    if found:
        record_id, version, valid_to, next_version, next_from = found
        if next_version is None:
            return f"record {record_id}: its last version {version} is closed (valid_to {valid_to}); it must be open"
        if valid_to is None:
            return f"record {record_id}: version {version} is open, but version {next_version} follows it"
        return (f"record {record_id}: version {version} closed at {valid_to}, but version {next_version} began at "
                f"{next_from}; a version closes when the next one begins")
    found = _first(_CURRENT_SQL)
    if found:
        record_id, category, natural_key, state, version, op = found
        record = _record(record_id, category, natural_key)
        if state == "withdrawn" and op != "withdraw":
            return f"{record} is withdrawn, but its last version {version} does not withdraw it"
        if op == "withdraw":
            return f"{record} is {state}, but its last version {version} withdraws it"
        return f"{record}: its content is not that of its last version {version}"
    return None


def _sources() -> str | None:
    found = _first(_SOURCES_SQL)
    if found:
        record_id, department_id, first_seen_at, version, began = found
        return (f"record {record_id}: department {department_id} has a source row first seen at {first_seen_at}, "
                f"but its version {version} began before, at {began}; a source row is only for a department "
                "none of whose rows had made a version")
    return None


def _receipt_claims(receipt: str) -> dict | None:
    """The claims of a receipt (a JWS in compact serialization); None if it cannot be read. Its signature is
    the exchange's to check (exchange/receipts.py); here only what it says counts."""
    try:
        body = receipt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return None
    return claims if isinstance(claims, dict) else None


def _receipts() -> str | None:
    # a server-side cursor: a year of receipts is read a thousand at a time, never held whole
    with connection.chunked_cursor() as cursor:
        cursor.execute(_RECEIPTS_SQL)
        while rows := cursor.fetchmany(1000):
            for batch_id, name, status, receipt, *counts in rows:
                claims = _receipt_claims(receipt)
                if claims is None:
                    return f"batch {batch_id} ({name}): its receipt cannot be read"
                if claims.get("batch") != batch_id or claims.get("status") != status:
                    return (f"batch {batch_id} ({name}): its receipt is of batch {claims.get('batch')}, "
                            f"{claims.get('status')}; the batch is {status}")
                claimed = claims.get("counts") or {}
                for field, value in zip(_COUNTS, counts, strict=True):
                    if claimed.get(field) != value:
                        return (f"batch {batch_id} ({name}): its receipt counts {claimed.get(field)} {field}, "
                                f"the batch {value}")
    return None


def _batch_counts() -> str | None:
    found = _first(_SOURCE_ROW_TWICE_SQL)
    if found:
        batch_id, name, row, versions, which = found
        return (f"batch {batch_id} ({name}): its row {row} made {versions} versions (record {which}); a batch's "
                "row is merged once")
    found = _first(_BATCH_COUNTS_SQL)
    if not found:
        return None
    (batch_id, name, rows, accepted, rejected, withdrawn, upserted, outcomes, upserts, withdrawals, reasons,
     restarted) = found
    batch = f"batch {batch_id} ({name}{', started again' if restarted else ''})"
    if accepted != outcomes:
        return f"{batch} counts {accepted} accepted rows, but its outcomes add up to {outcomes}"
    if rejected != reasons:
        return f"{batch} counts {rejected} rejected rows, but {reasons} rows have a rejection reason"
    if upserts + withdrawals > rows:
        return f"{batch}: the store holds {upserts + withdrawals} versions from it, more than its {rows} rows"
    if upserts != upserted:
        return (f"{batch} counts {upserted} rows created, updated or pending_subject, but the store holds "
                f"{upserts} versions that upsert from it")
    return f"{batch} counts {withdrawn} rows withdrawn, but the store holds {withdrawals} withdrawals from it"


def _feed() -> str | None:
    found = _first(_FEED_TO_VERSION_SQL)
    if found:
        entry_id, kind, record_id, version = found
        return f"feed entry {entry_id} ({kind}) names version {version} of record {record_id}, which does not exist"
    found = _first(_VERSION_TO_FEED_SQL)
    if found:
        record_id, version, batch_id, op = found
        return (f"record {record_id}: version {version} ({op}, batch {batch_id}) has no entry in the change feed")
    found = _first(_FEED_IDS_TWICE_SQL)
    if found:
        feed_id, versions, entries = found
        return (f"feed id {feed_id} is held by {versions} versions and {entries} feed entries; every change has "
                "its own")
    found = _first(_VERSION_CATEGORY_SQL)
    if found:
        record_id, version, category, record_category = found
        return (f"record {record_id}: version {version} is in the feed of {category}, but the record is of "
                f"{record_category}")
    return None


_CHECKS: list[Callable[[], str | None]] = [_references, _chains, _sources, _receipts, _batch_counts, _feed]

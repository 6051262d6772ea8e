"""Merging one chunk of staged rows into the store, in bulk SQL.

Runs inside the chunk's transaction with the merge lock (shared, or exclusive for registrations) and the
category's merge lock held (credit.locks): subjects first (registrations update golden fields and attach
pending rows), then every staged row is classified against the store in one statement into a temporary
table, and records and history are written from it with INSERT … SELECT / UPDATE … FROM; the chunk's new
versions, which are its change-feed entries, last, just before its commit (merge_chunk_feed_append). Rows
that cannot be merged are returned with their reasons, not written: a batch and its rejections are the
ingest app's.

Plans that do not depend on statistics: a chunk's cost must follow the chunk, not the store. Where a
statement looks staged rows up in the store, the look-up is written so that PostgreSQL can only run it
row by row through a unique index (a scalar subquery, or a LATERAL subquery with LIMIT 1 that the planner
does not flatten into a join). As a plain join, statistics decided the plan: a hash join reading every
record of the category per chunk (fresh statistics, the chunk's 50,000 rows known) or a nested loop that
rescanned a table per staged row (stale ones, the chunk estimated at one row).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from django.db import connection

from credit.locks import feed_append_lock
from credit.models import Record
from credit.publicity import publicity_reason_sql
from validation.parsing import Rejection

log = logging.getLogger(__name__)

CHANGED = ("created", "updated", "withdrawn", "pending_subject")
OUTCOMES = ("created", "updated", "unchanged", "withdrawn", "pending_subject", "rejected")

_TEMP = """
CREATE TEMP TABLE IF NOT EXISTS credit_mc2 (
    row bigint, op text, status text, natural_key text, content_hash text, payload jsonb,
    subject_name_key text, p_from date, p_until date, p_ends date, p_never text,
    subject_id bigint, pending_key text, record_id bigint, inserted boolean, name_mismatch boolean,
    outcome text, version integer, feed_subject_id bigint
) ON COMMIT DELETE ROWS
"""

# NFKC + bracket normalisation in SQL (same as credit.identity.name_key)
_NAME_KEY_SQL = "regexp_replace(normalize(translate({0}, '（）【】〔〕', '()[][]'), NFKC), '\\s+', '', 'g')"

_STAGED_RANGE = "st.batch_id = %(batch)s AND st.row > %(lo)s AND st.row <= %(hi)s"
# a registration's subject, looked up per staged row (LIMIT 1: see the module's docstring)
_STAGED_SUBJECT = """credit_stagedrow st CROSS JOIN LATERAL (
           SELECT s.id, s.name, s.name_key, s.registered FROM credit_subject s WHERE s.uscc = st.uscc LIMIT 1) s"""

_REGISTRATION_SQL = [
    # the registered name that is being replaced becomes a former name
    f"""
    INSERT INTO credit_subjectalias (subject_id, kind, value, value_key, created_at)
    SELECT s.id, 'former_name', s.name, s.name_key, %(now)s
      FROM {_STAGED_SUBJECT}
     WHERE {_STAGED_RANGE} AND st.status = 'valid' AND st.op = 'upsert'
       AND s.registered AND s.name_key <> st.subject_name_key
    ON CONFLICT DO NOTHING
    """,
    f"""
    INSERT INTO credit_subject (kind, uscc, id_type, id_number_masked, name, name_key, registered,
                                legal_representative, status, address, registration_authority, registration,
                                created_at, updated_at)
    SELECT st.subject_kind, st.uscc, '', '', st.subject_name, st.subject_name_key, true,
           coalesce(st.payload->>'legal_representative', ''), coalesce(st.payload->>'status', ''),
           coalesce(st.payload->>'address', ''), coalesce(st.payload->>'registration_authority', ''),
           st.payload, %(now)s, %(now)s
      FROM credit_stagedrow st
     WHERE {_STAGED_RANGE} AND st.status = 'valid' AND st.op = 'upsert'
    ON CONFLICT (uscc) WHERE uscc IS NOT NULL DO UPDATE SET
           kind = excluded.kind, name = excluded.name, name_key = excluded.name_key, registered = true,
           legal_representative = excluded.legal_representative, status = excluded.status,
           address = excluded.address, registration_authority = excluded.registration_authority,
           registration = excluded.registration, updated_at = excluded.updated_at
     WHERE NOT credit_subject.registered OR credit_subject.registration IS DISTINCT FROM excluded.registration
    """,
    # legacy codes and declared former names become aliases
    f"""
    INSERT INTO credit_subjectalias (subject_id, kind, value, value_key, created_at)
    SELECT s.id, a.kind, a.value, a.value_key, %(now)s
      FROM {_STAGED_SUBJECT}
     CROSS JOIN LATERAL (
           SELECT 'org_code', st.org_code, st.org_code
            UNION ALL
           SELECT 'registration_no', st.registration_no, st.registration_no WHERE st.registration_no <> ''
            UNION ALL
           SELECT 'former_name', f, {_NAME_KEY_SQL.format('f')}
             FROM jsonb_array_elements_text(coalesce(st.payload->'former_names', '[]'::jsonb)) f
            WHERE {_NAME_KEY_SQL.format('f')} <> s.name_key
     ) a(kind, value, value_key)
     WHERE {_STAGED_RANGE} AND st.status = 'valid' AND st.op = 'upsert'
    ON CONFLICT DO NOTHING
    """,
    # rows that waited for this registration (pending_subject) attach to it now
    f"""
    WITH attached AS (
        UPDATE credit_record r SET subject_id = a.subject_id, pending_key = '', updated_at = %(now)s
          FROM credit_subjectalias a
         WHERE r.subject_id IS NULL AND a.kind IN ('org_code', 'registration_no')
           AND r.pending_key = a.kind || ':' || a.value_key
           AND a.subject_id IN (SELECT s.id FROM credit_stagedrow st JOIN credit_subject s ON s.uscc = st.uscc
                                 WHERE {_STAGED_RANGE} AND st.status = 'valid' AND st.op = 'upsert')
        RETURNING r.id, r.category, r.subject_id, r.department_id, r.version
    )
    INSERT INTO credit_changefeedentry (kind, category, record_id, subject_id, department_id, batch_id,
                                        version, changed_at)
    SELECT 'updated', category, id, subject_id, department_id, %(batch)s, version, %(now)s
      FROM attached ORDER BY id
    """,
    # the registered name (or its former names) decides name_mismatch of the subject's other records (each
    # subject's records through record_subject_category_id: OFFSET 0 keeps that look-up per subject; those
    # whose flag changes are then updated by id: no plan joins the chunk against every record)
    f"""
    WITH subj AS (
        SELECT DISTINCT s.id, s.name_key FROM {_STAGED_SUBJECT}
         WHERE {_STAGED_RANGE} AND st.status = 'valid' AND st.op = 'upsert'
    ), calc AS (
        SELECT r.id, r.name_mismatch, (r.subject_name_key <> '' AND r.subject_name_key <> subj.name_key
                   AND NOT EXISTS (SELECT 1 FROM credit_subjectalias a WHERE a.subject_id = subj.id
                                      AND a.kind = 'former_name' AND a.value_key = r.subject_name_key)) AS mismatch
          FROM subj CROSS JOIN LATERAL (
               SELECT r.id, r.subject_name_key, r.name_mismatch FROM credit_record r
                WHERE r.subject_id = subj.id AND r.category <> 'registration' OFFSET 0) r
    )
    UPDATE credit_record r SET name_mismatch = NOT r.name_mismatch
     WHERE r.id = ANY (ARRAY(SELECT calc.id FROM calc WHERE calc.mismatch <> calc.name_mismatch))
    """,
]

_SUBJECTS_SQL = [
    # a legal person named by USCC before its registration arrives: created from the row (not registered)
    f"""
    INSERT INTO credit_subject (kind, uscc, id_type, id_number_masked, name, name_key, registered,
                                legal_representative, status, address, registration_authority, registration,
                                created_at, updated_at)
    SELECT DISTINCT ON (st.uscc) st.subject_kind, st.uscc, '', '', st.subject_name, st.subject_name_key, false,
           '', '', '', '', '{{}}'::jsonb, %(now)s, %(now)s
      FROM credit_stagedrow st
     WHERE {_STAGED_RANGE} AND st.status = 'valid' AND st.op = 'upsert' AND st.uscc <> ''
       AND st.subject_kind <> 'natural_person'
     ORDER BY st.uscc, st.row
    ON CONFLICT (uscc) WHERE uscc IS NOT NULL DO NOTHING
    """,
    # natural persons: created on first sight, found again by the blind index
    f"""
    INSERT INTO credit_subject (kind, uscc, id_type, id_number_encrypted, id_number_index, id_number_masked,
                                name, name_key, registered, legal_representative, status, address,
                                registration_authority, registration, created_at, updated_at)
    SELECT DISTINCT ON (st.id_number_index) 'natural_person', NULL, st.id_type, st.id_number_encrypted,
           st.id_number_index, st.id_number_masked, st.subject_name, st.subject_name_key, false,
           '', '', '', '', '{{}}'::jsonb, %(now)s, %(now)s
      FROM credit_stagedrow st
     WHERE {_STAGED_RANGE} AND st.status = 'valid' AND st.op = 'upsert' AND st.id_number_index <> ''
       AND st.subject_kind = 'natural_person'
     ORDER BY st.id_number_index, st.row
    ON CONFLICT (id_number_index) WHERE id_number_index IS NOT NULL DO NOTHING
    """,
]

# LIMIT 1 (the key is unique anyway) keeps the look-up per staged row whatever the statistics (see above)
_RECORD_BY_KEY = """LEFT JOIN LATERAL (
       SELECT x.id, x.state, x.content_hash, x.version, x.subject_id FROM credit_record x
        WHERE x.category = %(category)s AND x.natural_key = st.natural_key LIMIT 1
  ) r ON true"""
# Two departments' records that normalisation gave one key (credit.models.duplicates): the sender's own
# keyed-apart record if it has one, the record holding the plain key otherwise
_SENDERS_DUPLICATE = """(SELECT d.record_id FROM credit_conflictingduplicate d JOIN credit_record x ON x.id = d.record_id
        WHERE d.category = %(category)s AND d.natural_key = st.natural_key AND x.department_id = %(department)s
        ORDER BY d.record_id LIMIT 1)"""
_RECORD_BY_KEY_OR_SENDERS_DUPLICATE = f"""LEFT JOIN LATERAL (
       SELECT y.id, y.state, y.content_hash, y.version, y.subject_id FROM credit_record y
        WHERE y.id = coalesce({_SENDERS_DUPLICATE},
              (SELECT x.id FROM credit_record x WHERE x.category = %(category)s AND x.natural_key = st.natural_key))
        LIMIT 1
  ) r ON true"""

_CLASSIFY_SQL = f"""
INSERT INTO credit_mc2 (row, op, status, natural_key, content_hash, payload, subject_name_key, p_from, p_until,
                        p_ends, p_never, subject_id, pending_key, record_id, inserted, name_mismatch, outcome,
                        version, feed_subject_id)
SELECT st.row, st.op, st.status, st.natural_key, st.content_hash, st.payload, st.subject_name_key,
       st.publicity_from, st.publicity_until, st.publicity_ends_on, st.publicity_never,
       subj.id,
       CASE WHEN subj.id IS NOT NULL THEN ''
            WHEN st.org_code <> '' THEN 'org_code:' || st.org_code
            WHEN st.registration_no <> '' THEN 'registration_no:' || st.registration_no
            ELSE '' END,
       -- a new record (the one valid upsert of a key the store lacks) takes its id from the sequence here
       coalesce(r.id, CASE WHEN st.status = 'valid' AND st.op <> 'withdraw' THEN nextval(%(seq)s::regclass) END),
       r.id IS NULL AND st.status = 'valid' AND st.op <> 'withdraw',
       coalesce(%(category)s <> 'registration' AND subj.registered AND st.subject_name_key <> ''
                AND st.subject_name_key <> subj.name_key
                -- OFFSET 0: one look-up per mismatching row, not a hash of every former name built per chunk
                AND NOT EXISTS (SELECT 1 FROM credit_subjectalias a WHERE a.subject_id = subj.id
                                   AND a.kind = 'former_name' AND a.value_key = st.subject_name_key OFFSET 0),
                false),
       CASE WHEN st.status = 'owned_elsewhere' THEN 'rejected'
            WHEN st.status = 'duplicate' THEN 'unchanged'
            WHEN st.op = 'withdraw' AND r.id IS NULL THEN 'rejected'
            WHEN st.op = 'withdraw' AND r.state = 'withdrawn' THEN 'unchanged'
            WHEN st.op = 'withdraw' THEN 'withdrawn'
            WHEN r.id IS NOT NULL AND r.content_hash = st.content_hash AND r.state = 'active' THEN 'unchanged'
            -- no subject, and no legacy code its registration could attach it by later: it can never resolve
            WHEN subj.id IS NULL AND st.org_code = '' AND st.registration_no = '' THEN 'rejected'
            WHEN subj.id IS NULL THEN 'pending_subject'
            WHEN r.id IS NULL THEN 'created'
            ELSE 'updated' END,
       -- the version this row makes current, and the record's subject after it (for its version, the feed)
       coalesce(r.version + 1, 1),
       CASE WHEN st.op = 'withdraw' THEN r.subject_id ELSE subj.id END
  FROM credit_stagedrow st
  LEFT JOIN LATERAL (
       SELECT s.id, s.registered, s.name_key FROM credit_subject s WHERE s.id = coalesce(
           (SELECT x.id FROM credit_subject x WHERE st.uscc <> '' AND st.subject_kind <> 'natural_person'
               AND x.uscc = st.uscc),
           (SELECT x.id FROM credit_subject x WHERE st.id_number_index <> ''
               AND x.id_number_index = st.id_number_index),
           (SELECT a.subject_id FROM credit_subjectalias a WHERE st.org_code <> '' AND a.kind = 'org_code'
               AND a.value_key = st.org_code),
           (SELECT a.subject_id FROM credit_subjectalias a WHERE st.registration_no <> ''
               AND a.kind = 'registration_no' AND a.value_key = st.registration_no))
        LIMIT 1
  ) subj ON true
  {_RECORD_BY_KEY}
 WHERE {_STAGED_RANGE} AND st.status <> 'conflict'
"""

_CLASSIFY_WITH_DUPLICATES_SQL = _CLASSIFY_SQL.replace(_RECORD_BY_KEY, _RECORD_BY_KEY_OR_SENDERS_DUPLICATE)

_NEW_REASON = publicity_reason_sql(state="'active'", never="m.p_never", repaired="NULL::date", starts="m.p_from",
                                   ends="m.p_ends", today="%(today)s::date")
_UPDATED_REASON = publicity_reason_sql(state="'active'", never="m.p_never", repaired="r.repaired_at",
                                       starts="m.p_from", ends="m.p_ends", today="%(today)s::date")

_INSERT_RECORDS_SQL = f"""
INSERT INTO credit_record (id, category, natural_key, subject_id, pending_key, state, payload, content_hash, version,
                           department_id, subject_name_key, name_mismatch, publicity_from, publicity_until,
                           publicity_ends_on, publicity_never, repaired_at, is_public, publicity_reason,
                           created_at, updated_at)
SELECT m.record_id, %(category)s, m.natural_key, m.subject_id, m.pending_key, 'active', m.payload, m.content_hash, 1,
       %(department)s, m.subject_name_key, m.name_mismatch, m.p_from, m.p_until, m.p_ends, m.p_never, NULL,
       ({_NEW_REASON}) = 'public', {_NEW_REASON}, %(now)s, %(now)s
  FROM credit_mc2 m
 WHERE m.inserted AND m.outcome <> 'rejected'
"""

_UPDATE_RECORDS_SQL = f"""
UPDATE credit_record r SET
       state = CASE WHEN m.op = 'withdraw' THEN 'withdrawn' ELSE 'active' END,
       payload = CASE WHEN m.op = 'withdraw' THEN r.payload ELSE m.payload END,
       content_hash = CASE WHEN m.op = 'withdraw' THEN r.content_hash ELSE m.content_hash END,
       version = r.version + 1,
       subject_id = CASE WHEN m.op = 'withdraw' THEN r.subject_id ELSE m.subject_id END,
       pending_key = CASE WHEN m.op = 'withdraw' THEN r.pending_key ELSE m.pending_key END,
       subject_name_key = CASE WHEN m.op = 'withdraw' THEN r.subject_name_key ELSE m.subject_name_key END,
       name_mismatch = CASE WHEN m.op = 'withdraw' THEN r.name_mismatch ELSE m.name_mismatch END,
       publicity_from = CASE WHEN m.op = 'withdraw' THEN r.publicity_from ELSE m.p_from END,
       publicity_until = CASE WHEN m.op = 'withdraw' THEN r.publicity_until ELSE m.p_until END,
       publicity_ends_on = CASE WHEN m.op = 'withdraw' THEN r.publicity_ends_on ELSE m.p_ends END,
       publicity_never = CASE WHEN m.op = 'withdraw' THEN r.publicity_never ELSE m.p_never END,
       is_public = CASE WHEN m.op = 'withdraw' THEN false ELSE ({_UPDATED_REASON}) = 'public' END,
       publicity_reason = CASE WHEN m.op = 'withdraw' THEN 'withdrawn' ELSE {_UPDATED_REASON} END,
       updated_at = %(now)s
  FROM credit_mc2 m
 WHERE r.id = m.record_id AND NOT m.inserted AND m.status = 'valid'
   AND m.outcome IN ('updated', 'pending_subject', 'withdrawn')
"""

_HISTORY_SQL = [
    # the version that stops being current
    """
    UPDATE credit_recordversion v SET valid_to = %(now)s FROM credit_mc2 m
     WHERE v.record_id = m.record_id AND v.valid_to IS NULL AND NOT m.inserted AND m.status = 'valid'
       AND m.outcome IN ('updated', 'pending_subject', 'withdrawn')
    """,
    # the owner's identical row: a department that became the owner by a transfer becomes a source too. Its
    # versions name every other source (credit.models.RecordSender): a row is written only for a department
    # none of whose rows made a version of the record, in the store or in this chunk.
    """
    INSERT INTO credit_recordsource (record_id, department_id, first_batch_id, last_batch_id, last_row,
                                     first_seen_at, last_seen_at)
    SELECT DISTINCT ON (m.record_id) m.record_id, %(department)s, %(batch)s, %(batch)s, m.row, %(now)s, %(now)s
      FROM credit_mc2 m
     WHERE m.outcome = 'unchanged' AND m.record_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM credit_mc2 c WHERE c.record_id = m.record_id AND c.status = 'valid'
                          AND c.outcome IN ('created', 'updated', 'pending_subject', 'withdrawn'))
       AND NOT EXISTS (SELECT 1 FROM credit_recordversion v
                        WHERE v.record_id = m.record_id AND v.department_id = %(department)s)
     ORDER BY m.record_id, m.row
    ON CONFLICT (record_id, department_id) DO NOTHING
    """,
]

# The chunk's versions, from what it wrote (credit_mc2), each its record's change-feed entry (kind: version 1
# created, a withdraw withdrew, any other updated): inserted by merge_chunk_feed_append, last, ids in row order.
# Versions are partitioned by month (credit 0015), so no unique index holds (record, version) or (batch, row)
# across partitions; what keeps them unique is how they are written, and verify_store checks both:
# - (record, version): m.version is the record row's version + 1 (1 for a record the chunk inserts), read and
#   raised in the same transaction under the category merge lock (credit/locks.py), which every chunk of the
#   record's category holds; this is the only writer of versions. A record written twice by one chunk would
#   raise its version once: _VERSIONED_SQL counts one record written per version, or the chunk fails.
# - (batch, row): a row is merged by the chunk lo < row <= hi, which moves the batch's merged_through_row
#   from lo to hi in the same transaction or fails (ingest.pipeline._merged_through), and one process runs a
#   batch (the batch run lock, ingest.pipeline.batch_run_lock). A batch restarted after a platform failure
#   (exchange batch_restart) merges again from row 0 keeping its first run's versions: a row whose record
#   another batch changed in between writes a second version of that row (before 0015 the unique constraint
#   failed the chunk's rows instead); verify_store names it.
_VERSIONS_SQL = """
INSERT INTO credit_recordversion (record_id, version, op, payload, content_hash, batch_id, row, department_id,
                                  valid_from, valid_to, feed_id, category, subject_id)
SELECT m.record_id, m.version, m.op, m.payload, m.content_hash, %(batch)s, m.row, %(department)s, %(now)s, NULL,
       nextval(%(feed_seq)s::regclass), %(category)s, m.feed_subject_id
  FROM credit_mc2 m
 WHERE m.status = 'valid' AND m.outcome IN ('created', 'updated', 'pending_subject', 'withdrawn')
 ORDER BY m.row
"""

# Versions carry no foreign-key check (credit.models.RecordVersion.record): instead, every version the chunk
# will write is of a record the chunk itself inserted or updated (and so holds locked to its commit). Each such
# mc2 row wrote one record: their count must be the records written.
_VERSIONED_SQL = """
SELECT count(*) FROM credit_mc2 m
 WHERE m.status = 'valid' AND m.outcome IN ('created', 'updated', 'pending_subject', 'withdrawn')
"""

# Ownership (exchange-protocol §8): a row for a record another department owns is rejected before the
# merge touches anything, subjects included; in-batch duplicates of it too (conflicts are rejected already).
_OWNED_ELSEWHERE_SQL = f"""
UPDATE credit_stagedrow st SET status = 'owned_elsewhere'
 WHERE {_STAGED_RANGE} AND st.status IN ('valid', 'duplicate')
   AND (SELECT r.department_id FROM credit_record r
         WHERE r.category = %(category)s AND r.natural_key = st.natural_key) <> %(department)s
"""
_OWNED_ELSEWHERE_UNLESS_SENDERS_DUPLICATE_SQL = _OWNED_ELSEWHERE_SQL.rstrip() + f"""
   AND NOT EXISTS {_SENDERS_DUPLICATE}
"""

# The chunk's rejected rows, handed back to the caller, which writes them where a batch's rejections are kept.
# The owning department is named through the table Record.department refers to (credit never imports exchange).
_REJECTIONS_SQL = """
SELECT m.row, CASE WHEN m.status <> 'owned_elsewhere' AND m.op <> 'withdraw' THEN 'uscc'
                    ELSE %(key_field)s END,
       CASE WHEN m.status = 'owned_elsewhere' THEN 'record_owned_by_other_department'
            WHEN m.op <> 'withdraw' THEN 'subject_unresolved' ELSE 'record_not_found' END,
       CASE WHEN m.status = 'owned_elsewhere'
            THEN '该记录（同一类别下自然键为“' || m.natural_key || '”）由' || d.name || '（' || d.code
                 || '）报送，只有报送部门可以更新或撤销它；如需更正，请联系该部门'
            WHEN m.op <> 'withdraw'
            THEN '无法确定该行的行政相对人：仅凭证件号码无法确定个体工商户或组织，'
                 || '请同时填写统一社会信用代码、组织机构代码或工商注册号'
            ELSE '要撤销的记录不存在（同一类别下没有自然键为“' || m.natural_key || '”的记录）' END
  FROM credit_mc2 m
  LEFT JOIN credit_record r ON m.status = 'owned_elsewhere' AND r.id = m.record_id
  LEFT JOIN {departments} d ON d.id = r.department_id
 WHERE m.outcome = 'rejected'
 ORDER BY m.row
"""

# A withdrawn registration takes the subject's registration details out of view; the name stays (its records
# carry it). The public projection shows the subject's columns, so clearing them here is enough.
_REGISTRATION_WITHDRAWN_SQL = """
UPDATE credit_subject s
   SET registered = false, legal_representative = '', status = '', address = '', registration_authority = '',
       registration = '{}'::jsonb, updated_at = %(now)s
  FROM credit_mc2 m
 WHERE m.outcome = 'withdrawn' AND s.id = m.feed_subject_id
"""


def merge_changes_subjects(category: str) -> bool:
    """True for the category whose merge changes subjects other chunks resolve rows to (aliases, pending rows
    attached, name_mismatch of every category): it merges under the exclusive merge lock (credit/locks.py)."""
    return category == "registration"


@dataclass(frozen=True)
class ChunkMerged:
    """What merging a chunk came to: the count of each outcome, and the rejected rows with their reasons."""

    counts: dict[str, int]
    rejections: list[Rejection]
    # wall seconds of resolving and classifying the rows ("classify") and of writing records and history ("write")
    seconds: dict[str, float]


def merge_chunk(*, batch_id: int, department_id: int, category: str, key_field: str, lo: int, hi: int,
                now: dt.datetime, today: dt.date) -> ChunkMerged:
    """Merge staged rows lo < row ≤ hi, all but the new versions: merge_chunk_feed_append writes them (the
    chunk's change-feed entries), last in its transaction. Returns the count of each outcome and the rows
    rejected, which the caller records with its batch."""
    params = {"batch": batch_id, "department": department_id, "category": category, "lo": lo, "hi": hi,
              "now": now, "today": today, "key_field": key_field}
    with connection.cursor() as cursor:
        cursor.execute(_TEMP)
        cursor.execute("SELECT pg_get_serial_sequence('credit_record', 'id')")
        params["seq"] = cursor.fetchone()[0]
        # only a category that has conflicting duplicates pays for looking them up
        cursor.execute("SELECT EXISTS (SELECT 1 FROM credit_conflictingduplicate WHERE category = %s)", [category])
        duplicates = cursor.fetchone()[0]
        statements = [_OWNED_ELSEWHERE_UNLESS_SENDERS_DUPLICATE_SQL if duplicates else _OWNED_ELSEWHERE_SQL]
        statements += _REGISTRATION_SQL if merge_changes_subjects(category) else _SUBJECTS_SQL
        statements.append(_CLASSIFY_WITH_DUPLICATES_SQL if duplicates else _CLASSIFY_SQL)
        classifying = len(statements)
        statements += [_INSERT_RECORDS_SQL, _UPDATE_RECORDS_SQL, *_HISTORY_SQL]
        if merge_changes_subjects(category):
            statements.append(_REGISTRATION_WITHDRAWN_SQL)
        seconds = {"classify": 0.0, "write": 0.0}
        records_written = 0
        for n, sql in enumerate(statements):
            started = time.perf_counter()
            cursor.execute(sql, params)
            took = time.perf_counter() - started
            seconds["classify" if n < classifying else "write"] += took
            log.debug("merge %.3fs %s", took, " ".join(sql.split())[:80])
            if sql in (_INSERT_RECORDS_SQL, _UPDATE_RECORDS_SQL):
                records_written += cursor.rowcount
        cursor.execute(_VERSIONED_SQL)
        versioned = cursor.fetchone()[0]
        if versioned != records_written:  # see _VERSIONED_SQL
            raise RuntimeError(f"batch {batch_id} rows {lo + 1}-{hi}: {versioned} versions to write, but "
                               f"{records_written} records written")
        cursor.execute("SELECT outcome, count(*) FROM credit_mc2 GROUP BY outcome")
        counts = dict.fromkeys(OUTCOMES, 0) | dict(cursor.fetchall())
        rejections = []
        if counts["rejected"]:
            departments = Record._meta.get_field("department").related_model._meta.db_table
            cursor.execute(_REJECTIONS_SQL.format(departments=departments), params)
            rejections = [Rejection(*row) for row in cursor.fetchall()]
    return ChunkMerged(counts, rejections, seconds)


def merge_chunk_feed_append(*, batch_id: int, department_id: int, category: str, now: dt.datetime) -> None:
    """The versions of the chunk merge_chunk just merged, which are its change-feed entries, as the last
    statements of its transaction.

    Feed ids must be handed out in commit order: a reader paging by `id > cursor` must never be handed a
    cursor past an id that commits later. Chunks of two categories merge at the same time (shared merge
    lock), so each takes the feed append lock here, after everything else it writes and after its deferred
    foreign-key checks, inserts its versions with ids drawn from the feed's sequence, and holds the lock to its
    commit: the next chunk's feed ids are drawn only after this chunk's versions are visible. (A rolled-back
    chunk leaves a gap in the ids, which no later row fills.) The old versions were closed before, outside the
    lock; the new ones cannot be inserted earlier, as their ids would then be drawn outside it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence('credit_changefeedentry', 'id')")
        feed_seq = cursor.fetchone()[0]
        # the foreign-key checks queued for COMMIT run now, not under the feed lock; then deferred again, as
        # every deferrable constraint of the schema is declared (INITIALLY DEFERRED)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED")
        feed_append_lock()
        cursor.execute(_VERSIONS_SQL, {"batch": batch_id, "department": department_id, "category": category,
                                       "now": now, "feed_seq": feed_seq})
        cursor.execute("TRUNCATE credit_mc2")

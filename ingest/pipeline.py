"""The batch pipeline: received → validating → merging → completed (or failed).

Every stage works in chunks, one transaction per chunk, and moves the batch's
progress marker (validated_through_row / merged_through_row) and counts in that
same transaction, so a process killed at any point resumes exactly where the
last commit left it: nothing lost, nothing applied twice.

One process runs a batch at a time: it holds a session-level advisory lock on
(BATCH_RUN_CLASS, batch id). A killed worker's connection dies and frees it;
`batches_resume` (beat + worker_ready) re-enqueues unfinished batches whose
lock is free. A batch's end (its outcome and receipt, one commit) is in ingest/finish.py; its rejected
rows, whichever stage found them, are written by ingest/rejections.py.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from credit.locks import BATCH_RUN_CLASS, category_merge_lock, merge_lock
from credit.merge import merge_changes_subjects, merge_chunk, merge_chunk_feed_append
from credit.models import Record, StagedRow, Subject, SubjectAlias
from credit.staging import STAGED_COLUMNS, stage_chunk
from exchange.models import Batch, BatchRejection, BatchStatus
from filestore.storage import StorageUnreachable, stored_file_open
from ingest.finish import batch_complete, batch_fail
from ingest.rejections import rejections_insert, rows_fail
from ingest.stage_clock import StageClock
from validation.batch import BatchParseError, batch_ignored_columns, validate_batch
from validation.catalog import SUBJECT_KEY, Catalog, current_catalog

log = logging.getLogger(__name__)

# one transaction per chunk; the environment variable lets crash tests use smaller chunks
VALIDATE_CHUNK_ROWS = MERGE_CHUNK_ROWS = int(os.environ.get("CREDIT_PIPELINE_CHUNK_ROWS", "50000"))

Progress = Callable[[Batch], None]

# SQLSTATEs a later try can outlive: the connection (class 08), the server shutting down or starting
# (57P01-57P03), too many connections (53300), a deadlock or serialization failure (40P01, 40001)
_TRANSIENT_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300", "40001", "40P01")
# a batch file unreadable for a moment (a remounting volume, a storage hiccup): tries, first pause in seconds
STORAGE_TRIES, STORAGE_BACKOFF = 4, 0.5

# A merge statement running longer than this is cancelled by PostgreSQL (a plan gone wrong must not hold the
# merge locks, and every batch of its category or waiting behind it, for hours); its chunk is rolled back and
# tried once more with fresh statistics, then the batch fails with merge_timeout, which a re-push starts again.
MERGE_STATEMENT_TIMEOUT_SECONDS = float(os.environ.get("MERGE_STATEMENT_TIMEOUT_SECONDS", "300"))
_QUERY_CANCELED = "57014"  # statement_timeout (or an operator's pg_cancel_backend)


class MergeTimedOut(Exception):
    """A chunk's merge ran past MERGE_STATEMENT_TIMEOUT_SECONDS twice, statistics refreshed in between."""

    def __init__(self, lo: int, hi: int):
        super().__init__(f"rows {lo + 1}-{hi}")
        self.lo, self.hi = lo, hi


def database_error_is_transient(exc: DatabaseError) -> bool:
    """True for errors a retry can outlive (the connection lost or refused, the server restarting);
    anything else (a constraint, a value the table refuses, a faulty statement) fails the same way on
    every retry, so retrying it would stall the batch."""
    if isinstance(exc, InterfaceError):
        return True
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    if isinstance(exc, OperationalError) and sqlstate is None:
        return True  # libpq's own: the server is unreachable or closed the connection
    return bool(sqlstate) and sqlstate.startswith(_TRANSIENT_SQLSTATES)


@contextlib.contextmanager
def batch_run_lock(batch_id: int):
    """Session-level advisory lock: yields True when this process may run the batch."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [BATCH_RUN_CLASS, batch_id])
        got = cursor.fetchone()[0]
    try:
        yield got
    finally:
        if got and connection.connection is not None:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [BATCH_RUN_CLASS, batch_id])
            except DatabaseError:
                # the worker keeps its connection for the next task (CELERY_DB_REUSE_MAX): one that cannot
                # unlock is closed, which ends its session and every session lock with it
                connection.close()


def batches_running() -> set[int]:
    """Ids of batches some process holds the run lock of."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objsubid = 2 AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [BATCH_RUN_CLASS],
        )
        return {int(r[0]) for r in cursor.fetchall()}


def batches_unfinished() -> list[int]:
    """Unfinished batches no process is running (a killed worker's, or never picked up)."""
    running = batches_running()
    ids = Batch.objects.exclude(status__in=[BatchStatus.COMPLETED, BatchStatus.FAILED]).order_by("id")
    return [i for i in ids.values_list("id", flat=True) if i not in running]


def batch_process(*, batch_id: int, progress: Progress | None = None) -> Batch | None:
    """Run (or resume) a batch to its end. Returns None when another process is running it."""
    with batch_run_lock(batch_id) as got:
        if not got:
            return None
        batch = Batch.objects.select_related("department").get(pk=batch_id)
        clock = StageClock()
        try:
            if batch.status == BatchStatus.RECEIVED:
                _status_move(batch, BatchStatus.RECEIVED, status=BatchStatus.VALIDATING, started_at=timezone.now())
            # one version for the whole run: the rows are checked and keyed by the catalog they are merged by
            catalog = current_catalog() if batch.status in (BatchStatus.VALIDATING, BatchStatus.MERGING) else None
            if batch.status == BatchStatus.VALIDATING:
                batch_validate(batch=batch, catalog=catalog, progress=progress, clock=clock)
                with clock.timing("dedup"):
                    batch_deduplicate(batch=batch, catalog=catalog)
            if batch.status == BatchStatus.MERGING:
                batch_merge(batch=batch, catalog=catalog, progress=progress, clock=clock)
                with clock.timing("receipt"):
                    batch_complete(batch=batch)
        except BatchParseError as exc:
            batch_fail(batch=batch, code=exc.code, reason=exc.message)
        except MergeTimedOut as exc:
            batch_fail(batch=batch, code="merge_timeout", reason=(
                f"平台合并本批次第 {exc.lo + 1}–{exc.hi} 行时数据库处理超时，已中止：第 {exc.lo + 1} 行及之后的行未入库，"
                "之前的行已入库。平台已记录该问题。请稍后以同一 batch_id 重新报送，平台将从头处理本批次（已入库的行计为未变化）"))
        except StorageUnreachable:
            raise  # the store, not the file: the task tries again later, then the batch waits for batches_resume
        except OSError:
            log.exception("batch %s: its stored file could not be read", batch_id)
            batch_fail(batch=batch, code="storage_error", reason="平台暂时无法读取该批次的文件，请稍后以同一 batch_id 重新报送")
        except Exception as exc:
            if isinstance(exc, DatabaseError) and database_error_is_transient(exc):
                raise  # the task retries a few times; then the batch waits, unfinished, for batches_resume
            # a bug would fail the same way on every resume: end the batch, with a reason, instead
            log.exception("batch %s failed", batch_id)
            batch_fail(batch=batch, code="internal_error", reason="处理该批次时平台内部出错，请联系平台运维人员")
        if clock.seconds:
            log.info("batch %s (%s rows) stages: %s", batch_id, batch.rows, clock.line())
        if progress:
            progress(batch)
        return batch


def _status_move(batch: Batch, current: str, **fields) -> None:
    """Set `fields` on the batch if it is still `current` (one UPDATE, no lock), else read what another
    process made of it."""
    if Batch.objects.filter(pk=batch.pk, status=current).update(**fields):
        for name, value in fields.items():
            setattr(batch, name, value)
    else:
        batch.refresh_from_db()


def batch_validate(*, batch: Batch, catalog: Catalog, progress: Progress | None = None,
                   clock: StageClock | None = None) -> None:
    """Validate the stored file from validated_through_row on; a file that cannot be read is tried again
    a few times (from where the last chunk's commit left off) before the OSError ends the batch."""
    for attempt in range(STORAGE_TRIES):
        try:
            return _validate_from_progress(batch=batch, catalog=catalog, progress=progress, clock=clock or StageClock())
        except OSError:
            if attempt == STORAGE_TRIES - 1:
                raise
            log.warning("batch %s: its stored file could not be read; trying again", batch.id, exc_info=True)
            time.sleep(STORAGE_BACKOFF * 2 ** attempt)


def _validate_from_progress(*, batch: Batch, catalog: Catalog, progress: Progress | None, clock: StageClock) -> None:
    """Validate the stored file from validated_through_row on; stage valid rows, keep rejections.

    Validating and staging (Python, no database) run in a thread one chunk ahead while this thread
    COPYs chunk after chunk: writes and progress stay here, in order, one transaction per chunk."""
    category = catalog.category(batch.category)
    start_after = batch.validated_through_row
    stage = functools.partial(stage_chunk, batch_id=batch.id, category=category, catalog=catalog)
    options = dict(category=batch.category, content_type=batch.content_type, catalog=catalog,
                   chunk_rows=VALIDATE_CHUNK_ROWS, start_after_row=start_after,
                   max_rows=settings.EXCHANGE_MAX_BATCH_ROWS)  # the intake's count errs upwards; this is exact
    with stored_file_open(batch.storage_path) as stream:
        if not start_after:  # the header first: columns it ignores are named in the batch resource and receipt
            ignored = batch_ignored_columns(stream, category=batch.category, content_type=batch.content_type,
                                            catalog=catalog)
            stream.seek(0)
            if ignored != batch.ignored_columns:
                Batch.objects.filter(pk=batch.pk).update(ignored_columns=ignored)
                batch.ignored_columns = ignored
        for staged in clock.timed(_ahead(map(stage, validate_batch(stream, **options))), "validate"):
            if staged.last_row <= start_after:
                continue
            n = staged.last_row - batch.validated_through_row
            try:
                with clock.timing("stage"), transaction.atomic():
                    _copy_staged(staged)
                    rejected = rejections_insert(batch.id, staged.rejections)
                    _validated_through(batch, staged.last_row, n, rejected)
            except DatabaseError as exc:
                if database_error_is_transient(exc):
                    raise
                with transaction.atomic():
                    rejected = rows_fail(batch, stage="validating", lo=batch.validated_through_row,
                                          hi=staged.last_row, exc=exc)
                    _validated_through(batch, staged.last_row, n, rejected)
            batch.validated_through_row, batch.rows, batch.rejected = (
                staged.last_row, batch.rows + n, batch.rejected + rejected)
            del staged
            if progress:
                progress(batch)


def _validated_through(batch: Batch, last_row: int, n: int, rejected: int) -> None:
    moved = Batch.objects.filter(pk=batch.pk, validated_through_row=batch.validated_through_row).update(
        validated_through_row=last_row, rows=batch.rows + n, rejected=batch.rejected + rejected)
    if moved != 1:
        raise RuntimeError(f"batch {batch.pk}: validation progress moved under us")


def _ahead(items: Iterator) -> Iterator:
    """Iterate `items` in a worker thread, one item ahead of the consumer: the thread starts item n+1
    when the consumer takes item n, so at most two items are alive (memory: two chunks, not three).
    The thread must not touch the database (Django connections are per thread). Its exceptions
    re-raise here; when the consumer stops early, the thread is stopped and joined before this returns."""
    handoff: queue.Queue = queue.Queue(maxsize=1)
    taken = threading.Semaphore(1)  # released when the consumer takes an item
    stop = threading.Event()

    def wait_taken() -> bool:
        while not stop.is_set():
            if taken.acquire(timeout=0.2):
                return not stop.is_set()
        return False

    def produce() -> None:
        try:
            while wait_taken():
                try:
                    item = next(items)
                except StopIteration:
                    handoff.put(("done", None))
                    return
                handoff.put(("item", item))
                del item
        except BaseException as exc:  # noqa: BLE001 handed to the consumer
            handoff.put(("error", exc))

    worker = threading.Thread(target=produce, name="batch-validate", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = handoff.get()
            taken.release()
            if kind == "done":
                return
            if kind == "error":
                raise item
            yield item
            del item
    finally:
        stop.set()
        taken.release()  # a producer waiting for a hand-off sees the stop
        worker.join()


def _copy_staged(staged) -> None:
    if not staged.rows:
        return
    # psycopg's own copy(): its errors become Django's, as every other statement's do
    with connection.cursor() as cursor, connection.wrap_database_errors:
        sql = f"COPY {StagedRow._meta.db_table} ({', '.join(STAGED_COLUMNS)}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for row in staged.rows:
                copy.write_row(row)


def batch_deduplicate(*, batch: Batch, catalog: Catalog) -> None:
    """Rule 4: the same natural key twice in one batch. Identical content: later rows count as
    unchanged. Different content: every row of that key is rejected, naming the others."""
    if batch.rows - batch.rejected < 2:  # fewer than two staged rows hold no key twice: only the status moves
        _status_move(batch, BatchStatus.VALIDATING, status=BatchStatus.MERGING)
        return
    category = catalog.category(batch.category)
    key_field = next((k for k in category.natural_key if k != SUBJECT_KEY), "")
    staged = StagedRow._meta.db_table
    with transaction.atomic():
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        if locked.status != BatchStatus.VALIDATING:
            batch.refresh_from_db()
            return
        with connection.cursor() as cursor:
            # no ANALYZE of the staging table (it just grew by a whole batch, so its statistics are stale):
            # hash joins only, every step here is linear in the batch whatever the estimates say
            cursor.execute("SET LOCAL enable_nestloop = off")
            # one hashed pass finds the keys that occur more than once (usually none); only their rows are
            # ranked: a key with more than one content is conflicting, later identical rows duplicate
            cursor.execute(f"""
                WITH repeated AS (
                    SELECT natural_key, min(content_hash) <> max(content_hash) AS conflict
                      FROM {staged} WHERE batch_id = %(b)s
                     GROUP BY natural_key HAVING count(*) > 1
                ), marked AS (
                    SELECT st.row,
                           CASE WHEN k.conflict THEN 'conflict'
                                WHEN row_number() OVER (PARTITION BY st.natural_key ORDER BY st.row) > 1
                                THEN 'duplicate' END AS status
                      FROM {staged} st JOIN repeated k ON k.natural_key = st.natural_key
                     WHERE st.batch_id = %(b)s
                )
                UPDATE {staged} st SET status = marked.status FROM marked
                 WHERE st.batch_id = %(b)s AND st.row = marked.row AND marked.status IS NOT NULL""", {"b": batch.id})
            cursor.execute(f"""
                INSERT INTO {BatchRejection._meta.db_table} (batch_id, row, field, code, message)
                SELECT st.batch_id, st.row, %(field)s, 'conflicting_duplicate',
                       '同一批次中与第' || (SELECT string_agg(o.row::text, '、' ORDER BY o.row)
                                             FROM (SELECT o.row FROM {staged} o
                                                    WHERE o.batch_id = st.batch_id AND o.natural_key = st.natural_key
                                                      AND o.row <> st.row ORDER BY o.row LIMIT 20) o)
                       || '行是同一条记录，但内容不同；请核对后只报送一次'
                  FROM {staged} st WHERE st.batch_id = %(b)s AND st.status = 'conflict'
                ON CONFLICT DO NOTHING""", {"b": batch.id, "field": key_field})
            cursor.execute(f"SELECT count(*) FROM {staged} WHERE batch_id = %s AND status = 'conflict'", [batch.id])
            conflicts = cursor.fetchone()[0]
        locked.rejected += conflicts
        locked.status = BatchStatus.MERGING
        locked.save(update_fields=["rejected", "status"])
    batch.rejected, batch.status = locked.rejected, locked.status


def _statistics_refresh(*models) -> None:
    """ANALYZE the tables of `models` (a sample of each: bounded whatever their size), in its own transaction."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(m._meta.db_table for m in models)}")


def _timed_out(exc: DatabaseError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == _QUERY_CANCELED


def batch_merge(*, batch: Batch, catalog: Catalog, progress: Progress | None = None,
                clock: StageClock | None = None) -> None:
    clock = clock or StageClock()
    category = catalog.category(batch.category)
    key_field = next((k for k in category.natural_key if k != SUBJECT_KEY), "")
    if batch.validated_through_row - batch.merged_through_row > MERGE_CHUNK_ROWS:
        # Statistics of the staging table that predate this batch (autoanalyze runs when it will) put its
        # rows at about one: the planner then takes any index that starts with batch_id for a chunk's
        # range and filters the whole batch by row, in every chunk. Sampled now, they know the batch.
        _statistics_refresh(StagedRow)
    timed_out_once = None  # the chunk (its lo) whose merge ran past the timeout once
    while batch.merged_through_row < batch.validated_through_row:
        lo = batch.merged_through_row
        hi = min(lo + MERGE_CHUNK_ROWS, batch.validated_through_row)
        try:
            with transaction.atomic():
                # categories merge side by side; registrations, which change the subjects every category
                # resolves rows to, alone (the lock order and why: credit/locks.py)
                with clock.timing("locks"), connection.cursor() as cursor:
                    merge_lock(shared=not merge_changes_subjects(batch.category))
                    category_merge_lock(batch.category)
                    # every access path here has an index; statistics of tables that grew since the last
                    # ANALYZE must not talk the planner into scanning millions of rows per chunk
                    # (and no JIT: the disabled-seqscan cost on the temp table would trigger it on every statement);
                    # waiting for another batch's chunk is not running away: no lock wait counts (credit/locks.py)
                    cursor.execute("SET LOCAL enable_seqscan = off; SET LOCAL jit = off; "
                                   f"SET LOCAL statement_timeout = {round(MERGE_STATEMENT_TIMEOUT_SECONDS * 1000)}")
                now = timezone.now()
                merged = merge_chunk(batch_id=batch.id, department_id=batch.department_id, category=batch.category,
                                     key_field=key_field, lo=lo, hi=hi, now=now, today=timezone.localdate(now))
                for stage, seconds in merged.seconds.items():
                    clock.add(stage, seconds)
                with clock.timing("write"):
                    rejections_insert(batch.id, merged.rejections)
                    values = _merged_through(batch, lo, hi, merged.counts)
                # last before the commit: feed ids in commit order (credit/merge.py)
                with clock.timing("feed"):
                    merge_chunk_feed_append(batch_id=batch.id, department_id=batch.department_id,
                                            category=batch.category, now=now)
                committing = time.perf_counter()
            clock.add("commit", time.perf_counter() - committing)
        except DatabaseError as exc:
            if database_error_is_transient(exc):
                raise
            if _timed_out(exc):  # the chunk's transaction is rolled back: nothing of it was applied
                if timed_out_once == lo:
                    log.error("batch %s: the merge of rows %s-%s ran past %s s again; the batch fails",
                              batch.id, lo + 1, hi, MERGE_STATEMENT_TIMEOUT_SECONDS, exc_info=exc)
                    raise MergeTimedOut(lo, hi) from exc
                log.error("batch %s: a merge statement of rows %s-%s ran past %s s and was cancelled; merging "
                          "the chunk again with fresh statistics", batch.id, lo + 1, hi,
                          MERGE_STATEMENT_TIMEOUT_SECONDS, exc_info=exc)
                timed_out_once = lo
                _statistics_refresh(StagedRow, Record, Subject, SubjectAlias)
                continue
            with transaction.atomic():
                rejected = rows_fail(batch, stage="merging", lo=lo, hi=hi, exc=exc)
                values = _merged_through(batch, lo, hi, {"rejected": rejected})
        batch.merged_through_row = hi
        for name, value in values.items():
            setattr(batch, name, value)
        if progress:
            progress(batch)


def _merged_through(batch: Batch, lo: int, hi: int, counts: dict[str, int]) -> dict[str, int]:
    """Move the merge progress and counts by one chunk's outcomes; returns the batch's new counts."""
    values = {name: getattr(batch, name) + counts.get(name, 0) for name in
              ("created", "updated", "unchanged", "withdrawn", "pending_subject")}
    values["accepted"] = batch.accepted + sum(v for k, v in counts.items() if k != "rejected")
    values["rejected"] = batch.rejected + counts.get("rejected", 0)
    moved = Batch.objects.filter(pk=batch.pk, merged_through_row=lo).update(merged_through_row=hi, **values)
    if moved != 1:
        raise RuntimeError(f"batch {batch.pk}: merge progress moved under us")
    return values

"""Validate a batch on every core: this process parses, worker processes check.

    for item in validate_batch_in_workers(stream, category=..., content_type=..., then=stage):
        ...  # stage(chunk) for every ValidatedChunk, computed in a worker, in row order

Parsing stays here, exactly as `validate_batch` does it (row numbers, blank lines,
malformed and over-long rows, `start_after_row`), so the result is the same row for
row; each parsed block of raw columns goes to a worker process, which normalises and
checks it and hands back its chunks, passed through `then` when given (a picklable
module-level function). Giving the worker the next step as well (the pipeline stages
rows there) means the rows never have to travel back as Python objects.

Workers are forked from this process after it has built the suite, so they start
with great-expectations imported and the suite ready. At most `workers + 1` blocks
are in flight (bounded memory). A worker dies with the process that forked it.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import multiprocessing
import multiprocessing.context
import multiprocessing.process
import multiprocessing.util
import os
import signal
from array import array
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import BinaryIO

from validation.batch import ChunkChecker, ValidatedChunk, ValidRow, _category, gc_paused
from validation.catalog import Catalog, Category
from validation.parsing import RawBlock, Rejection, rows_within
from validation.slicing import RawSlice, SliceFormat, batch_slices, slice_parse

__all__ = ["validation_workers", "validate_batch_in_workers"]


def validation_workers() -> int:
    """Worker processes the pipeline validates with: VALIDATION_WORKERS, default 0 (in-process).
    On the 2-core machine the pipeline's second core is already busy (PostgreSQL taking COPY and
    the merge), and workers there measured no faster while holding more memory (bench/README.md);
    a machine with spare cores sets it to cores - 1 (this process checks too, between parsing)."""
    return max(0, int(os.environ.get("VALIDATION_WORKERS", "").strip() or 0))


def validate_batch_in_workers(
    stream: BinaryIO,
    *,
    category: str,
    content_type: str,
    catalog: Catalog | None = None,
    chunk_rows: int = 20000,
    start_after_row: int = 0,
    today: dt.date | None = None,
    workers: int = 2,
    then: Callable[[ValidatedChunk], object] | None = None,
    max_rows: int | None = None,
) -> Iterator:
    """Like `validate_batch`, with the checking in `workers` processes; yields `then(chunk)`
    (or the chunk itself) for every chunk, in order."""
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be positive")
    if workers < 1:
        raise ValueError("workers must be positive")
    catalog, cat = _category(catalog, category)
    today = today or dt.date.today()
    job_rows = chunk_rows * max(1, -(-JOB_ROWS // chunk_rows))
    slice_rows = _slice_rows(chunk_rows)
    fmt, slices = batch_slices(stream, cat, content_type, slice_rows, start_after_row)
    slices = rows_within(slices, max_rows)
    checker = ChunkChecker(catalog, cat, today)  # builds the suite once, before the fork
    state = (checker, then, chunk_rows, fmt)
    jobs = _jobs(slices, job_rows)
    pool = ProcessPoolExecutor(
        workers,
        mp_context=_FORK,
        initializer=_worker_start,
        initargs=(os.getpid(), state),  # fork: inherited, not pickled
    )
    try:
        yield from _in_order(pool, jobs, workers, state)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _in_order(pool: ProcessPoolExecutor, jobs: Iterator[list[tuple]], workers: int, state: tuple) -> Iterator:
    """Results of every job in order. Keeps `workers + 1` jobs submitted; while the oldest is
    still running (every worker busy), this process checks the next job itself instead of
    waiting, at most one ahead (parsing alone leaves it idle much of the time)."""
    queue: deque = deque()  # (True, Future) from a worker or (False, results) checked here
    exhausted = False
    while True:
        while not exhausted and sum(from_worker for from_worker, _ in queue) <= workers:
            job = next(jobs, None)
            if job is None:
                exhausted = True
            else:
                queue.append((True, pool.submit(_worker_check, job)))
            del job
        if not queue:
            return
        from_worker, head = queue[0]
        if from_worker and not head.done() and not exhausted and all(w for w, _ in queue):
            job = next(jobs, None)
            if job is None:
                exhausted = True
            else:
                queue.append((False, _check(state, job)))
            del job
            continue
        queue.popleft()
        results = head.result() if from_worker else head
        del head
        if from_worker and state[1] is None:
            results = map(_unpack, results)
        yield from results
        del results


# Rows per worker job. Smaller than validate_batch's blocks: every job in flight is held
# here and in a worker at once; the suite's per-run cost is small now that results are
# remembered across blocks.
JOB_ROWS = 50_000
SLICE_ROWS = 25_000  # parsed and packed at a time here (the parse's working set)


def _slice_rows(chunk_rows: int) -> int:
    """Slices must tile chunks exactly: the largest divisor of chunk_rows up to SLICE_ROWS
    (chunk_rows itself when that would make slices tiny)."""
    if chunk_rows <= SLICE_ROWS:
        return chunk_rows
    for parts in range(2, chunk_rows // 5_000 + 1):
        if chunk_rows % parts == 0 and chunk_rows // parts <= SLICE_ROWS:
            return chunk_rows // parts
    return chunk_rows


def _jobs(slices: Iterator[RawBlock], job_rows: int) -> Iterator[list[tuple]]:
    """Packed slices grouped into jobs of job_rows rows (whole chunks)."""
    job: list[tuple] = []
    first = None
    while True:
        with gc_paused():
            piece = next(slices, None)
            if piece is None:
                if job:
                    yield job
                return
            last = piece.last_row
            if first is None:
                first = piece.first_row
            job.append(piece if isinstance(piece, RawSlice) else _ship(piece))
            del piece
        if last - first + 1 >= job_rows:
            yield job
            job, first = [], None


# Pickling a block's ~1.6 million short strings one by one costs more than parsing them
# (the pickler memoises and encodes each); each column travels as one joined string instead.
_SEP = "\x00"


def _ship(block: RawBlock) -> tuple:
    columns = {}
    for name, values in block.columns.items():
        try:
            joined = _SEP.join(values)
        except TypeError:  # NDJSON: a missing key is None
            joined = None
        if joined is None or len(values) < 2 or joined.count(_SEP) != len(values) - 1:
            columns[name] = values  # holes, too short to matter, or a NUL inside a value: as is
        else:
            columns[name] = joined
    return block.first_row, block.last_row, array("q", block.rownos), columns, block.rejections


def _unship(job: list, fmt: SliceFormat, category: Category) -> RawBlock:
    """One RawBlock from a job's slices (consecutive rows): raw ones parsed, packed ones unpacked."""
    blocks = [
        slice_parse(fmt, category, piece) if isinstance(piece, RawSlice) else _unpack_block(piece)
        for piece in job
    ]
    if len(blocks) == 1:
        return blocks[0]
    block = RawBlock(blocks[0].first_row, blocks[-1].last_row)
    # NDJSON: a block has the columns some row of it has (None where a row lacks the key)
    names = [name for name in fmt.fields if any(name in part.columns for part in blocks)]
    columns: dict[str, list] = {name: [] for name in names}
    for part in blocks:
        block.rownos.extend(part.rownos)
        block.rejections.extend(part.rejections)
        for name in names:
            values = part.columns.get(name)
            columns[name].extend(values if values is not None else [None] * len(part.rownos))
    block.columns = columns
    return block


def _unpack_block(packed: tuple) -> RawBlock:
    first, last, rownos, columns, rejections = packed
    return RawBlock(
        first,
        last,
        rownos.tolist(),
        {name: v.split(_SEP) if isinstance(v, str) else v for name, v in columns.items()},
        rejections,
    )


# -- in the worker ------------------------------------------------------------------


class _WorkerProcess(multiprocessing.context.ForkProcess):
    def start(self) -> None:
        """Start even from a daemonic process (a Celery prefork pool child is one). multiprocessing
        refuses that so that children cannot outlive a daemon; these die with their parent instead
        (PR_SET_PDEATHSIG, see _die_with_parent) and are joined when the batch's validation ends."""
        config = multiprocessing.process.current_process()._config
        daemonic = config.pop("daemon", None)
        try:
            super().start()
        finally:
            if daemonic is not None:
                config["daemon"] = daemonic

    @staticmethod
    def _after_fork() -> None:
        """Run only multiprocessing's own after-fork hooks. Others belong to clients of the parent's
        connections: kombu's (a Celery worker's broker client) "closes" them by reading from sockets
        the parent still uses, which hangs here and would take the parent's replies. A worker never
        uses them: it parses and checks, nothing else."""
        registry = multiprocessing.util._afterfork_registry
        for key in [
            k for k in registry if not (getattr(k[2], "__module__", "") or "").startswith("multiprocessing")
        ]:
            del registry[key]
        multiprocessing.process.BaseProcess._after_fork()


class _ForkContext(multiprocessing.context.ForkContext):
    Process = _WorkerProcess


_FORK = _ForkContext()

_state: tuple | None = None  # (checker, then, chunk_rows, slice format)


def _worker_start(parent_pid: int, state: tuple) -> None:
    global _state
    _die_with_parent(parent_pid)
    # the parent's handlers (a Celery worker's, say) are not this process's business
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _state = state


def _die_with_parent(parent_pid: int) -> None:
    """Linux: get SIGKILL when the forking process dies (a killed pipeline leaves no orphans)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:  # died before prctl took effect
        os._exit(1)


def _worker_check(job: list[tuple]) -> list:
    """A job's chunks through `then`, or packed to travel back."""
    results = _check(_state, job)
    if _state[1] is None:
        with gc_paused():
            return [_pack(chunk) for chunk in results]
    return results


def _check(state: tuple, job: list[tuple]) -> list:
    """Check a job's rows: its chunks, passed through `then` when given."""
    checker, then, chunk_rows, fmt = state
    with gc_paused():
        block = _unship(job, fmt, checker.category)
        del job
        chunks = list(checker.check(block, chunk_rows))
        del block
        if then is not None:
            return [then(chunk) for chunk in chunks]
        return chunks


def _pack(chunk: ValidatedChunk) -> tuple:
    """Plain tuples, lists and dicts pickle in C; dataclass instances would not."""
    rows = chunk.rows
    return (
        chunk.first_row,
        chunk.last_row,
        [r.row for r in rows],
        [r.op for r in rows],
        [r.values for r in rows],
        [(j.row, j.field, j.code, j.message) for j in chunk.rejections],
    )


def _unpack(packed: tuple) -> ValidatedChunk:
    first, last, rownos, ops, values, rejections = packed
    return ValidatedChunk(
        first, last, list(map(ValidRow, rownos, ops, values)), [Rejection(*j) for j in rejections]
    )

"""Where a batch's run spends its time, stage by stage: one log line when the run ends (bench/ingest prints it).

Wall seconds, measured in the thread that runs the batch. Validation runs in a thread one chunk ahead
(ingest/pipeline.py `_ahead`), so "validate" is only the time the run waited for it: the rest overlapped
with copying the previous chunk into the staging table ("stage"). "locks" is the wait for the merge locks,
"classify" resolving subjects and classifying rows, "write" records and the versions they close, "feed" the
chunk's deferred foreign-key checks and its new versions (its change-feed entries), "commit" the COMMIT itself.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Iterator

STAGES = ("validate", "stage", "dedup", "locks", "classify", "write", "feed", "commit", "receipt")


class StageClock:
    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()

    @contextlib.contextmanager
    def timing(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - started)

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] += max(seconds, 0.0)

    def timed(self, items: Iterator, stage: str) -> Iterator:
        """`items`, the time spent waiting for each counted as `stage`; closed with this iterator (a generator
        that holds a thread, like `_ahead`, stops it then)."""
        try:
            while True:
                with self.timing(stage):
                    item = next(items, StopIteration)
                if item is StopIteration:
                    return
                yield item
        finally:
            if hasattr(items, "close"):
                items.close()

    def line(self) -> str:
        """'validate 1.2 s, stage 0.4 s, …' in the order of a run, every stage the run went through."""
        return ", ".join(f"{stage} {self.seconds[stage]:.2f} s" for stage in STAGES if stage in self.seconds)

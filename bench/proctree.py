"""Peak memory of a process tree, sampled in a thread (bench/validate, bench/ingest).

RSS counts pages shared between processes (forked workers share their parent's) in each of them;
PSS (proportional set size) splits them, so its sum is what the tree takes from the machine.
"""

from __future__ import annotations

import threading
from pathlib import Path


def memory_bytes(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process; (0, 0) once it is gone."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("Pss:"):
                pss = int(line.split()[1]) * 1024
    except OSError:
        pass
    return rss, pss


def tree(pid: int) -> list[int]:
    """pid and its descendants (children of any of its threads)."""
    out = [pid]
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return out
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            out += tree(int(child))
    return out


class TreeMemory(threading.Thread):
    """Peaks, in bytes, of the largest process's RSS and of the tree's summed RSS and PSS."""

    def __init__(self, pid: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_process = self.peak_rss = self.peak_pss = 0
        self.stopped = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            sizes = [memory_bytes(p) for p in tree(self.pid)]
            if sizes:
                self.peak_process = max(self.peak_process, max(rss for rss, _ in sizes))
                self.peak_rss = max(self.peak_rss, sum(rss for rss, _ in sizes))
                self.peak_pss = max(self.peak_pss, sum(pss for _, pss in sizes))

    def close(self) -> None:
        self.stopped.set()
        self.join()

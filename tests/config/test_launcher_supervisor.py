"""`make run`'s supervisor: a child that dies is started again and takes nothing else down with it;
nothing a child started is left behind."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from config.launcher import Child, Supervisor

# a child that starts a grandchild (as celery's main process starts its pool and, with -B, beat)
FAMILY = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
          "time.sleep(600)")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead too
        return stat.read().split(") ", 1)[1][0] != "Z"


def _group(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().split(") ", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                pids.append(int(entry))
    return pids


def _until(condition, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _restarted(supervisor: Supervisor, child: Child, dead_pid: int) -> None:
    """Run the supervisor's rounds until `child` runs again under a new pid."""
    def started_again() -> bool:
        supervisor.check()
        return child.process is not None and child.process.pid != dead_pid

    _until(started_again)


@pytest.fixture
def supervisor(monkeypatch):
    monkeypatch.setattr(Supervisor, "BACKOFF_FIRST", 0.2)
    lines = []
    supervisor = Supervisor([Child("worker", [sys.executable, "-c", FAMILY]),
                             Child("web", [sys.executable, "-c", "import time; time.sleep(600)"])], log=lines.append)
    supervisor.lines = lines
    supervisor.start()
    yield supervisor
    supervisor.stop(grace=5)


def test_a_killed_child_is_started_again_and_the_others_keep_running(supervisor):
    worker, web = supervisor.children
    first = worker.process.pid
    _until(lambda: len(_group(first)) == 2)  # the child and its grandchild
    grandchild = next(pid for pid in _group(first) if pid != first)
    web_pid = web.process.pid

    os.kill(first, signal.SIGKILL)  # the main process only, as an OOM kill or a crash would
    _restarted(supervisor, worker, first)

    assert web.process.pid == web_pid and _alive(web_pid)  # never taken down with the worker
    assert _alive(worker.process.pid)
    _until(lambda: not _alive(grandchild))  # what the dead child started does not outlive it
    assert any("worker exited" in line for line in supervisor.lines)


def test_a_child_that_keeps_dying_is_started_with_growing_backoff(supervisor):
    worker = supervisor.children[0]
    starts = []
    for _ in range(3):
        pid = worker.process.pid
        os.kill(pid, signal.SIGKILL)
        _restarted(supervisor, worker, pid)
        starts.append(time.monotonic())
    assert worker.restarts == 3
    assert starts[2] - starts[1] > starts[1] - starts[0] > 0  # 0.2 s, 0.4 s, 0.8 s


def test_stop_ends_every_child_and_everything_they_started(supervisor):
    worker, web = supervisor.children
    _until(lambda: len(_group(worker.process.pid)) == 2)
    groups = [worker.process.pid, web.process.pid]
    supervisor.stop(grace=5)
    # the groups got SIGKILL at the latest; a process still on its way out of a busy machine's run queue may show
    # for a moment after the leader was reaped
    _until(lambda: all(_group(pgid) == [] for pgid in groups), timeout=5)

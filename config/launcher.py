"""`make run`: everything the platform needs on one machine, until Ctrl-C.

Starts the embedded PostgreSQL and Redis (unless DATABASE_URL / CELERY_BROKER_URL
point elsewhere), migrates, loads the catalog and the demo departments and
batches, then runs a Celery worker, Celery beat and the web server on
127.0.0.1:$PORT, and supervises them: a child that dies is started again (with
backoff) and the others keep running. Ctrl-C stops everything this command started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from config import embedded

PYTHON = sys.executable


def manage(*args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], check=True, cwd=embedded.ROOT)


def gunicorn_command(*, port: int, workers: int, threads: int | None = None, app: str = "config.wsgi"
                     ) -> list[str]:
    """The web server as `make run` serves it (tests and benchmarks start the same one).

    Threaded workers (WEB_THREADS each) that slow clients cannot starve: an idle connection waits in the
    worker's poller, not in a thread; a request head must arrive within WEB_REQUEST_HEAD_SECONDS
    (config/gunicorn_worker.py); an idle kept-alive connection is closed after 5 s. For gthread,
    --timeout is the worker's heartbeat (its main loop beats while threads serve long requests)."""
    threads = threads or int(os.environ.get("WEB_THREADS", "8"))
    # no access log: paths may carry what a careless client put there (GUNICORN_CMD_ARGS adds one)
    return [PYTHON, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--worker-class", "config.gunicorn_worker.ThreadWorker", "--threads", str(threads),
            "--env", f"WEB_THREADS={threads}",  # the application sizes its waiting reads by it (settings.py)
            "--keep-alive", "5", "--timeout", "60",
            # gunicorn's control socket is one path per user: servers started side by side would share it
            "--no-control-socket"]


def celery_worker_command(*, concurrency: int) -> list[str]:
    """The Celery worker as `make run` runs it (beat runs on its own, see run())."""
    return [PYTHON, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO", "--concurrency", str(concurrency)]


def celery_beat_command(*, schedule: Path) -> list[str]:
    """Celery beat as `make run` runs it: on its own, not inside a worker (-B), so there is one beat whatever
    happens to the workers; `schedule` is where it keeps when each periodic task last ran."""
    return [PYTHON, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO", "--schedule", str(schedule)]


@dataclass
class Child:
    """One supervised process, started in a process group of its own (its own children die with it)."""

    name: str
    command: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0
    next_start: float = 0.0  # while it waits out its backoff
    options: dict = field(default_factory=dict)


class Supervisor:
    """Keeps children running: one that exits is started again after a backoff (BACKOFF_FIRST seconds,
    doubled on each quick death up to BACKOFF_MAX; back to the first after STABLE_SECONDS up), and
    its process group is killed first, so nothing it started is left behind. The others are never
    touched. stop() ends every group: SIGTERM, then SIGKILL after `grace` seconds."""

    BACKOFF_FIRST, BACKOFF_MAX, STABLE_SECONDS = 1.0, 30.0, 60.0

    def __init__(self, children: list[Child], *, log: Callable[[str], None] = print):
        self.children, self.log = children, log

    def start(self) -> None:
        for child in self.children:
            self._spawn(child)

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(child.command, start_new_session=True, **child.options)
        child.started_at, child.next_start = time.monotonic(), 0.0

    def check(self) -> None:
        """One round: notice exits, start again those whose backoff is over."""
        now = time.monotonic()
        for child in self.children:
            if child.process is None:
                if now >= child.next_start:
                    self._spawn(child)
                continue
            code = child.process.poll()
            if code is None:
                continue
            _kill_group(child.process.pid, signal.SIGKILL)  # what it left behind (a Celery pool, a beat)
            up = now - child.started_at
            child.restarts = 0 if up >= self.STABLE_SECONDS else child.restarts + 1
            backoff = min(self.BACKOFF_MAX, self.BACKOFF_FIRST * 2 ** max(child.restarts - 1, 0))
            self.log(f"{child.name} exited with {code} after {up:.0f} s; starting it again in {backoff:.0f} s")
            child.process, child.next_start = None, now + backoff

    def stop(self, grace: float = 30.0) -> None:
        running = [c.process for c in self.children if c.process is not None]
        for process in running:
            _kill_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in running:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _kill_group(process.pid, signal.SIGKILL)
            process.wait()


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass  # the whole group is gone already


def run() -> int:
    started_pg = not os.environ.get("DATABASE_URL") and not embedded._pg_running()
    started_redis = not os.environ.get("CELERY_BROKER_URL") and not embedded._redis_ping()
    embedded.ensure_started()
    embedded.ensure_secrets()
    manage("migrate", "--noinput", "-v", "0")
    manage("load_catalog")
    manage("load_demo")
    manage("collectstatic", "--noinput", "-v", "0")

    port = os.environ.get("PORT", "8000")
    workers = os.environ.get("WEB_CONCURRENCY", "4")
    (embedded.VAR / "run").mkdir(parents=True, exist_ok=True)
    here = {"cwd": embedded.ROOT}
    supervisor = Supervisor([
        Child("celery worker", celery_worker_command(concurrency=int(os.environ.get("CELERY_CONCURRENCY", "2"))),
              options=here),
        Child("celery beat", celery_beat_command(schedule=embedded.VAR / "run" / "celerybeat-schedule"), options=here),
        Child("web server", gunicorn_command(port=int(port), workers=int(workers)), options=here),
    ], log=lambda line: print(line, file=sys.stderr, flush=True))
    supervisor.start()
    print(f"\n  Platform running on http://127.0.0.1:{port}/  (Ctrl-C stops it)\n"
          f"  Operators' console: http://127.0.0.1:{port}/admin/  user 'operator', "
          f"password DEMO_OPERATOR_PASSWORD in {embedded.SECRETS_FILE},\n"
          f"  second factor: oathtool --totp <DEMO_OPERATOR_TOTP_KEY of the same file>\n", flush=True)
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            supervisor.check()
            time.sleep(0.5)
    finally:
        supervisor.stop()
        if started_redis or started_pg:
            embedded.stop()
    return 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "run"
    if command != "run":
        print(__doc__)
        sys.exit(2)
    sys.exit(run())

"""`make run`: everything the platform needs on one machine, until Ctrl-C.

Starts the embedded PostgreSQL and Redis (unless DATABASE_URL / CELERY_BROKER_URL
point elsewhere), migrates, loads the catalog and the demo departments and
batches, then runs a Celery worker (with beat) and the web server on
127.0.0.1:$PORT. Ctrl-C stops everything this command started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from config import embedded

PYTHON = sys.executable


def manage(*args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], check=True, cwd=embedded.ROOT)


def gunicorn_command(*, port: int, workers: int, threads: int | None = None) -> list[str]:
    """The web server as `make run` serves it (tests and benchmarks start the same one).

    Threaded workers (WEB_THREADS each) that slow clients cannot starve: an idle connection waits in the
    worker's poller, not in a thread; a request head must arrive within WEB_REQUEST_HEAD_SECONDS
    (config/gunicorn_worker.py); an idle kept-alive connection is closed after 5 s. For gthread,
    --timeout is the worker's heartbeat (its main loop beats while threads serve long requests)."""
    threads = threads or int(os.environ.get("WEB_THREADS", "4"))
    # no access log: paths may carry what a careless client put there (GUNICORN_CMD_ARGS adds one)
    return [PYTHON, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--worker-class", "config.gunicorn_worker.ThreadWorker", "--threads", str(threads),
            "--keep-alive", "5", "--timeout", "60"]


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
    children = [
        subprocess.Popen(
            [PYTHON, "-m", "celery", "-A", "config", "worker", "-B", "--loglevel", "INFO",
             "--concurrency", os.environ.get("CELERY_CONCURRENCY", "2"),
             "--schedule", str(embedded.VAR / "run" / "celerybeat-schedule")],
            cwd=embedded.ROOT,
        ),
        subprocess.Popen(gunicorn_command(port=int(port), workers=int(workers)), cwd=embedded.ROOT),
    ]
    print(f"\n  Platform running on http://127.0.0.1:{port}/  (Ctrl-C stops it)\n"
          f"  Operators' console: http://127.0.0.1:{port}/admin/  user 'operator', "
          f"password DEMO_OPERATOR_PASSWORD in {embedded.SECRETS_FILE}\n", flush=True)
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.5)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
        if started_redis or started_pg:
            embedded.stop()
    failed = [c.args[2] for c in children if c.returncode not in (0, -signal.SIGTERM, None) and not stopping]
    if failed:
        print(f"stopped because {', '.join(failed)} exited", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "run"
    if command != "run":
        print(__doc__)
        sys.exit(2)
    sys.exit(run())

"""The real fault: Redis stopped for 5 s under a supervised Celery worker. Afterwards a worker is running
(the same one, or one the supervisor started again) and a batch pushed then completes."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import pytest
from django.db import connection

from config.launcher import Child, Supervisor, celery_worker_command
from exchange.models import Batch
from tests.conftest import ROOT, celery_publishing_to, subprocess_database_url
from tests.credit.factories import ndjson, penalty

os.environ.setdefault("CREDIT_PIPELINE_CHUNK_ROWS", "4000")  # as the other worker tests: several chunks
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture(autouse=True)
def platform_key_dir():
    """Keep the default storage dirs: the worker process reads the stored batch files."""


class Redis:
    def __init__(self, directory):
        self.directory, self.process = directory, None
        self.socket = directory / "redis.sock"  # the embedded broker's form: a unix socket

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", str(self.socket), "--save", "", "--appendonly", "yes",
             "--dir", str(self.directory)], stdout=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-s", str(self.socket), "ping"], capture_output=True).stdout != b"PONG\n":
            assert time.monotonic() < deadline, "redis did not start"
            time.sleep(0.1)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def outage_platform(tmp_path, settings):
    """Our own Redis, a supervised worker on it, and this process publishing to it."""
    redis = Redis(tmp_path)
    redis.start()
    url = f"redis+socket://{redis.socket}"
    env = {**os.environ, "DATABASE_URL": subprocess_database_url(connection.settings_dict), "CELERY_BROKER_URL": url,
           "CELERY_QUEUE": "outage", "DB_CONN_MAX_AGE": "0"}
    log = open(tmp_path / "worker.log", "w")
    supervisor = Supervisor([Child("celery worker", celery_worker_command(concurrency=1),
                                   options={"cwd": ROOT, "env": env, "stdout": log, "stderr": subprocess.STDOUT})],
                            log=lambda line: print(line, file=log, flush=True))
    with celery_publishing_to(url, "outage"):
        supervisor.start()
        yield redis, supervisor, tmp_path / "worker.log"
        supervisor.stop(grace=10)
    redis.stop()


def _department():
    from exchange.services.departments import department_register

    return department_register(code="HN-SCJG", name="市场监管", write=["admin_penalty"], read=["admin_penalty"]).obj


def _push(department, batch_id: str, rows: int = 1) -> Batch:
    from exchange.services.batches import batch_receive

    body = ndjson([penalty(f"{batch_id}-{i}", i % 50) for i in range(rows)])
    return batch_receive(department=department, category="admin_penalty", batch_id=batch_id,
                         content_type="application/x-ndjson", body=io.BytesIO(body))[0]


def _push_and_wait(department, batch_id: str, timeout: float = 90) -> Batch:
    batch = _push(department, batch_id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch.refresh_from_db()
        if batch.is_finished:
            return batch
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} stuck at {batch.status}")


def test_redis_stopped_for_5_seconds_then_a_pushed_batch_completes(outage_platform):
    redis, supervisor, log = outage_platform
    department = _department()
    assert _push_and_wait(department, "before").status == "completed"  # the worker is up and consuming

    # Redis goes away while the worker runs a batch (its task unacknowledged: acks_late)
    merging = _push(department, "during", rows=40_000)
    deadline = time.monotonic() + 60
    while merging.status == "received" and time.monotonic() < deadline:
        time.sleep(0.1)
        merging.refresh_from_db()
    assert not merging.is_finished, "the batch finished before the fault"
    redis.stop()
    for _ in range(10):  # 5 s, the supervisor doing its rounds as the launcher does
        supervisor.check()
        time.sleep(0.5)
    redis.start()
    deadline = time.monotonic() + 60
    batch = None
    while batch is None and time.monotonic() < deadline:
        supervisor.check()
        try:
            batch = _push_and_wait(department, "after", timeout=5)
        except AssertionError:
            continue
    assert batch is not None and batch.status == "completed", log.read_text()[-3000:]
    merging.refresh_from_db()
    assert merging.is_finished or merging.status != "received"  # its run went on, or waits for batches_resume
    print(log.read_text()[-4000:], file=sys.stderr)

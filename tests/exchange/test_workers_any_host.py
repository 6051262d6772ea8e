"""Workers on any host: a worker given only the database URL, the broker URL, the storage URL (a bucket) and
the secrets, in a working directory of its own (its own var/, nothing shared on disk with the web side or
another worker), runs batches; two such workers share one queue and one database, one is SIGKILLed
mid-merge and every batch still completes exactly once; a bucket unreachable while a worker reads a batch
makes the batch wait, and it completes once the bucket is back."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from credit.locks import BATCH_RUN_CLASS, MERGE_LOCK
from credit.models import ChangeFeedItem, Record, RecordVersion
from exchange.jws import jws_header
from exchange.models import Batch
from exchange.platform_keys import platform_key_current
from tests.conftest import celery_publishing_to, subprocess_database_url
from tests.credit.factories import ndjson, penalty
from tests.exchange.test_faults_survived import _assert_done_once, _wait_for_waiter, holding
from tests.exchange.test_pipeline_worker import _department, _submit, _wait

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]
CHUNK_ROWS = 100  # several merge chunks per batch: a kill lands between two of them


class HostWorker:
    """A `celery worker` as on a host of its own: a fresh working directory and var/ (CREDIT_VAR_DIR), an
    environment holding nothing but the settings a worker needs, its own process group."""

    def __init__(self, name: str, base: Path, queue: str, s3_env: dict, storage_url: str):
        self.name, self.home, self.queue = name, base / name, queue
        self.var = self.home / "var"
        self.var.mkdir(parents=True)
        keys = shutil.copytree(settings.PLATFORM_SIGNING_KEY_DIR, self.home / "keys")  # a mounted secret
        key_file = self.home / "field-encryption-key"
        key_file.write_text(settings.FIELD_ENCRYPTION_KEY + "\n")
        database_url = subprocess_database_url(connection.settings_dict)
        self.env = {
            "PATH": os.environ["PATH"], "LANG": "C.UTF-8",
            "DATABASE_URL": f"{database_url}{'&' if '?' in database_url else '?'}application_name={name}",
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "CELERY_QUEUE": queue,
            "BATCH_STORAGE_URL": storage_url, **s3_env,
            "DJANGO_SECRET_KEY": settings.SECRET_KEY, "BLIND_INDEX_KEY": settings.BLIND_INDEX_KEY,
            "FIELD_ENCRYPTION_KEY_FILE": str(key_file), "PLATFORM_SIGNING_KEY_DIR": str(keys),
            "CREDIT_VAR_DIR": str(self.var), "CREDIT_PIPELINE_CHUNK_ROWS": str(CHUNK_ROWS), "DB_CONN_MAX_AGE": "0",
        }
        self.log = self.home / "worker.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        from config.celery import app

        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", self.queue, "--concurrency", "1",
             "--pool", "prefork", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
             "--without-heartbeat", "-n", f"{self.name}@%h"],
            cwd=self.home, env=self.env, stdout=open(self.log, "a"), stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[f"{self.name}@{os.uname().nodename}"], timeout=0.5):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker {self.name} did not start: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        os.killpg(self.process.pid, 9)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def hosts(tmp_path, s3_server, s3_storage):
    """Start workers on "hosts" of their own, all on one fresh queue; stopped (whatever is left) at the end."""
    queue = f"test-hosts-{uuid.uuid4().hex[:8]}"
    platform_key_current()  # the platform's signing key, made where the web side keeps it, copied to each host
    started: list[HostWorker] = []

    def start(name: str) -> HostWorker:
        worker = HostWorker(name, tmp_path, queue, s3_server.env, settings.BATCH_STORAGE_URL)
        worker.start()
        started.append(worker)
        return worker

    with celery_publishing_to(settings.CELERY_BROKER_URL, queue):
        yield start
    for worker in started:
        worker.stop()


def _run_lock_holder(batch_id: int) -> str | None:
    """The application_name (the worker) of the session that holds this batch's run lock."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                       " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s"
                       " AND l.objsubid = 2", [BATCH_RUN_CLASS, batch_id])
        row = cursor.fetchone()
    return row[0] if row else None


def _mid_merge(batches: list[Batch], timeout: float = 120) -> Batch:
    """A batch some chunks of which are merged and more than one not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for batch in batches:
            batch.refresh_from_db()
            # two chunks or more still to merge: the one merging now is not its last
            if batch.status == "merging" and 0 < batch.merged_through_row < batch.validated_through_row - CHUNK_ROWS:
                return batch
        time.sleep(0.01)
    raise AssertionError(f"no batch caught mid-merge: {[(b.status, b.merged_through_row) for b in batches]}")


def test_two_workers_on_their_own_hosts_one_killed_mid_merge_every_batch_once(hosts, s3_server, s3_storage):
    from ingest.tasks import batches_resume

    department = _department()
    rows_each, n_batches = 1000, 4
    with holding(MERGE_LOCK) as merge_held:  # every batch validated first, then merged chunk by chunk
        workers = {name: hosts(name) for name in ("host-a", "host-b")}
        batches = [_submit(department, "admin_penalty",
                           ndjson([penalty(f"H-{b}-{i}", i % 300) for i in range(rows_each)]), f"hosts-{b}")
                   for b in range(n_batches)]
        _wait_for_waiter(MERGE_LOCK)  # a worker is ready to merge its first chunk
        merge_held.execute("SELECT pg_advisory_unlock(%s)", [MERGE_LOCK])
        victim = _mid_merge(batches)
        merge_held.execute("SELECT pg_advisory_lock(%s)", [MERGE_LOCK])  # after the chunk now merging
        victim.refresh_from_db()
        assert 0 < victim.merged_through_row < victim.validated_through_row, victim.counts
        holder = _run_lock_holder(victim.pk)
        assert holder in workers, holder
        workers[holder].kill()  # SIGKILL, whole process group, while its batch is half merged
        batches_resume.apply_async(kwargs={"retries_left": 10})  # as beat does every 15 s
    for batch in batches:
        _wait(batch, timeout=180)
        _assert_done_once(batch, rows=rows_each)
        assert batch.created == rows_each and batch.rejected == 0, batch.counts
        assert ChangeFeedItem.objects.filter(batch_id=batch.pk).count() == rows_each
    assert Record.objects.count() == RecordVersion.objects.count() == rows_each * n_batches
    assert set(RecordVersion.objects.values_list("version", flat=True)) == {1}
    # the receipts are signed with the platform's key, read by each worker from its own copy
    assert {jws_header(b.receipt)["kid"] for b in batches} == {platform_key_current().kid}
    # and the batch files came from the bucket: nothing was written on either worker's disk
    for worker in workers.values():
        assert [p for p in worker.var.rglob("*")] == []
    assert next(w for name, w in workers.items() if name != holder).process.poll() is None  # the survivor did it


def test_a_bucket_unreachable_while_the_worker_reads_makes_the_batch_wait(hosts, s3_server, s3_storage,
                                                                          monkeypatch):
    monkeypatch.setattr("ingest.handoff.batch_enqueue", lambda *, batch_id: None)
    batch = _submit(_department(), "admin_penalty", ndjson([penalty(f"U-{i}", i) for i in range(200)]), "unreach")
    s3_server.stop()
    try:
        worker = hosts("host-c")  # on start it picks up the unfinished batch (batches_resume), bucket down
        deadline = time.monotonic() + 60
        # past the pipeline's own quick tries (a hiccup): the task itself waits and tries again later
        while "batch storage unreachable" not in worker.log.read_text():
            assert time.monotonic() < deadline, worker.log.read_text()[-3000:]
            time.sleep(0.1)
        time.sleep(1)
        batch.refresh_from_db()
        assert not batch.is_finished, (batch.status, batch.failure_code)
    finally:
        with contextlib.suppress(Exception):
            s3_server.start()
    batch = _wait(batch, timeout=120)
    _assert_done_once(batch, rows=200)
    assert batch.created == 200

"""Shared fixtures. The database is the embedded (or DATABASE_URL) PostgreSQL;
pipeline tests get a real Celery worker process pointed at the test database."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from config import embedded

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"

embedded.ensure_started()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from django.core.management import call_command

    with django_db_blocker.unblock():
        call_command("load_catalog", verbosity=0)


def subprocess_database_url(db: dict) -> str:
    """A DATABASE_URL for processes the tests start (worker, web server) that reaches the test database."""
    host, user, password = db["HOST"], quote(db["USER"], safe=""), quote(db["PASSWORD"] or "", safe="")
    return f"postgresql://{user}:{password}@/{db['NAME']}?host={quote(host)}" if host.startswith("/") else (
        f"postgresql://{user}:{password}@{host}:{db['PORT'] or 5432}/{db['NAME']}")


def web_server_start(env: dict[str, str], *, port: int, log: Path, workers: int, threads: int) -> subprocess.Popen:
    """gunicorn as `make run` serves it, in a process group of its own (os.killpg stops it and its workers), once
    its /healthz answers 200."""
    import requests

    from config.launcher import gunicorn_command

    with open(log, "w") as out:
        process = subprocess.Popen(gunicorn_command(port=port, workers=workers, threads=threads), cwd=ROOT,
                                   env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except requests.RequestException:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"gunicorn did not start: {log.read_text()}")
        time.sleep(0.2)


@contextlib.contextmanager
def celery_publishing_to(broker_url: str, queue: str | None = None):
    """This process's Celery app publishes to another broker (and queue) inside the block. Nothing is
    closed: kombu's pools are shared and keyed by broker, so the app just looks its pools up again."""
    from config.celery import app

    saved = app.conf.broker_url, app.conf.task_default_queue

    def switch(url, default_queue):
        app.conf.broker_url, app.conf.task_default_queue = url, default_queue
        app._pool = None
        app.amqp._producer_pool = None

    switch(broker_url, queue or saved[1])
    try:
        yield
    finally:
        switch(*saved)


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real `celery worker` on its own queue, reading and writing the test database.

    Tests that use it must be `@pytest.mark.django_db(transaction=True)`: the
    worker only sees committed data. Returns a handle with .restart() and .kill()
    for crash tests.
    """
    from django.conf import settings
    from django.db import connection

    from config.celery import app

    queue = f"test-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = queue
    env = {**os.environ, "DATABASE_URL": subprocess_database_url(connection.settings_dict),
           "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
           "CELERY_QUEUE": queue}
    log_dir = tmp_path_factory.mktemp("worker")

    class Worker:
        process: subprocess.Popen | None = None
        queue_name = queue
        logs = log_dir  # one file per start

        def start(self):
            log = open(log_dir / f"worker-{time.time_ns()}.log", "w")
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "--concurrency", "1",
                 "--pool", "prefork", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
                 "--without-heartbeat", "-n", f"{queue}@%h"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
            self._wait_ready()

        def _wait_ready(self):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                replies = app.control.ping(destination=[f"{queue}@{os.uname().nodename}"], timeout=0.5)
                if replies:
                    return
                if self.process.poll() is not None:
                    raise RuntimeError(f"celery worker exited; see {log_dir}")
            raise RuntimeError(f"celery worker did not answer a ping within 60 s; see {log_dir}")

        def kill(self):
            """SIGKILL the whole worker (main process and pool children)."""
            os.killpg(self.process.pid, 9)
            self.process.wait()

        def stop(self):
            if self.process and self.process.poll() is None:
                os.killpg(self.process.pid, 15)
                try:
                    self.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, 9)

        def restart(self):
            self.stop()
            self.start()

    worker = Worker()
    with django_db_blocker.unblock():
        worker.start()
    yield worker
    worker.stop()


class S3Server:
    """moto's S3 API server in this process, on a port of its own. stop() closes its socket (the bucket is
    unreachable: connections refused), start() opens it again on the same port; objects outlive a stop."""

    bucket = "credit-batches"

    def __init__(self, port: int):
        self.port, self.server = port, None
        self.env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_REGION": "us-east-1",
                    "AWS_ACCESS_KEY_ID": "test-key", "AWS_SECRET_ACCESS_KEY": "test-secret"}

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        self.server.stop()
        self.server._server.server_close()  # stop() leaves the socket listening: connections would hang, not fail

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                            aws_access_key_id="test-key", aws_secret_access_key="test-secret")

    def objects(self, prefix: str) -> dict[str, bytes]:
        listed = self.client().list_objects_v2(Bucket=self.bucket, Prefix=prefix).get("Contents", [])
        return {o["Key"]: self.client().get_object(Bucket=self.bucket, Key=o["Key"])["Body"].read() for o in listed}


@pytest.fixture(scope="session")
def s3_server():
    """A real S3 API server (moto's server mode) for the session, its credentials in this process's environment
    (as a deployment gives them). TEST_S3_PORT chooses its port, else a free one."""
    import socket

    port = int(os.environ.get("TEST_S3_PORT") or 0)
    if not port:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    server = S3Server(port)
    saved = {name: os.environ.get(name) for name in server.env}
    os.environ.update(server.env)
    server.start()
    server.client().create_bucket(Bucket=server.bucket)
    yield server
    with contextlib.suppress(Exception):
        server.stop()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def s3_storage(settings, s3_server):
    """BATCH_STORAGE_URL naming a prefix of the test's own in the session's bucket; returns the prefix."""
    prefix = f"t-{uuid.uuid4().hex[:8]}/"
    settings.BATCH_STORAGE_URL = f"s3://{s3_server.bucket}/{prefix}"
    return prefix


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def console_groups(db):
    """The console's groups as exchange migration 0007 makes them (and ops 0002 lets see the scorecards): a
    flush (transactional tests, the public store's teardown) empties auth_group, and only those migrations,
    run again on their own state, make them."""
    import importlib

    from django.contrib.auth.models import Group
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    if not Group.objects.filter(name="viewer").exists():
        loader = MigrationExecutor(connection).loader
        for app, migration, make in (("exchange", "0007_console_groups", "create_groups"),
                                     ("ops", "0002_scorecard_permissions_for_console_groups", "grant")):
            state = loader.project_state((app, migration), at_end=True)
            getattr(importlib.import_module(f"{app}.migrations.{migration}"), make)(state.apps, None)

"""Many departments pushing at once, with real processes: a gunicorn server, a Celery worker, and
client processes signing their own requests.

Every push answers 202 or 200 (never 500), resubmissions of one batch_id in parallel make one batch,
a receipt fetched while the batch completes is the receipt, every batch completes exactly once, and the
exchange log verifies.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import queue
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.db import connection

from exchange.exchange_log import log_verify
from exchange.models import Batch, BatchStatus, ExchangeLogEntry
from tests.conftest import ROOT, subprocess_database_url
from tests.exchange.pushing_department import PUSHES_EACH, department_pushes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]

DEPARTMENTS = 20


@pytest.fixture(autouse=True)
def platform_key_dir():
    """Keep the default key and storage dirs: the server and the worker share them."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def web_server(celery_worker_process, tmp_path):
    """gunicorn as `make run` serves it, on the test database, sending tasks to the test worker's queue."""
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    env = {**os.environ, "DATABASE_URL": subprocess_database_url(connection.settings_dict),
           "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "CELERY_QUEUE": celery_worker_process.queue_name}
    from config.launcher import gunicorn_command

    with open(log, "w") as out:
        process = subprocess.Popen([*gunicorn_command(port=port, workers=4)], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.2)
    else:
        raise RuntimeError(f"gunicorn did not start: {log.read_text()}")
    yield url, log
    os.killpg(process.pid, 15)
    process.wait(timeout=30)


def _register(n: int) -> tuple[str, str]:
    """Department HN-C<n> writes admin_penalty, with a fresh key; returns (keyid, private key PEM)."""
    from exchange.services.departments import department_key_add, department_register

    code, keyid = f"HN-C{n:02d}", f"conc-{n:02d}"
    key = Ed25519PrivateKey.generate()
    department_register(code=code, name=f"并发测试部门{n}", write=["admin_penalty"], read=["admin_penalty"])
    department_key_add(department_code=code, keyid=keyid, public_key_pem=key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return keyid, pem.decode()


def test_twenty_departments_pushing_in_parallel_never_fail_and_every_batch_completes_once(web_server,
                                                                                          celery_worker_process):
    url, server_log = web_server
    worker_logs_before = {log: log.stat().st_size for log in celery_worker_process.logs.glob("worker-*.log")}
    keys = [_register(n) for n in range(DEPARTMENTS)]
    out: mp.Queue = mp.get_context("spawn").Queue()
    context = mp.get_context("spawn")
    clients = [context.Process(target=department_pushes, args=(url, n, keyid, pem, out))
               for n, (keyid, pem) in enumerate(keys)]
    for client in clients:
        client.start()
    results = []
    while len(results) < len(clients):
        try:
            results.append(json.loads(out.get(timeout=5)))
        except queue.Empty:
            assert any(c.is_alive() for c in clients), "a client process died without a result"
    for client in clients:
        client.join(timeout=30)

    pushes = [p for r in results for p in r["pushed"]]
    assert len(pushes) == DEPARTMENTS * (PUSHES_EACH + 2)
    failures = [p for p in pushes if p[1] not in (200, 202)]
    assert failures == []
    # the same batch_id pushed three times at once: one batch, one 202 and two 200s
    for n in range(DEPARTMENTS):
        same = [p for p in pushes if p[0] == f"c{n:02d}-{PUSHES_EACH - 1}"]
        assert sorted(p[1] for p in same) == [200, 200, 202]
        assert len({p[2] for p in same}) == 1

    batches = Batch.objects.filter(department__code__startswith="HN-C")
    assert batches.count() == DEPARTMENTS * PUSHES_EACH
    assert set(batches.values_list("status", flat=True)) == {BatchStatus.COMPLETED}
    for batch in batches:
        assert batch.rows == batch.accepted == batch.created == 1 + int(batch.batch_id.rsplit("-", 1)[1]) % 3
    # every batch was submitted once and completed once, and the receipt each client got is the one issued
    kinds = list(ExchangeLogEntry.objects.filter(department_code__startswith="HN-C").values_list("kind", flat=True))
    assert kinds.count("batch_submitted") == kinds.count("receipt_issued") == DEPARTMENTS * PUSHES_EACH
    issued = {b.pk: b.log_index for b in batches}
    receipts = {int(k): v for r in results for k, v in r["receipts"].items()}
    assert {pk: receipt.get("log_index") for pk, receipt in receipts.items()} == issued
    assert log_verify().ok

    errors = [line for line in Path(server_log).read_text().splitlines() if "Traceback" in line or " ERROR" in line]
    assert errors == []
    written = "".join(log.read_text()[worker_logs_before.get(log, 0):]
                      for log in sorted(celery_worker_process.logs.glob("worker-*.log")))
    worker_errors = [line for line in written.splitlines()
                     if "Traceback" in line or "ERROR/" in line or "deadlock" in line]
    assert worker_errors == []


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))

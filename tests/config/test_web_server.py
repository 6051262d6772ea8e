"""The web server as `make run` starts it cannot be starved by clients that send half a request."""

from __future__ import annotations

import os
import socket
import time

import pytest
import requests
from django.conf import settings
from django.db import connection

from tests.conftest import subprocess_database_url, web_server_start

PORT = 8401  # this test's range: 8401-8409
WORKERS, THREADS, HEAD_SECONDS = 2, 2, 2


@pytest.fixture
def web_server(django_db_setup, django_db_blocker, tmp_path):
    with django_db_blocker.unblock():
        database_url = subprocess_database_url(connection.settings_dict)
    env = {**os.environ, "DATABASE_URL": database_url, "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
           "WEB_REQUEST_HEAD_SECONDS": str(HEAD_SECONDS)}
    process = web_server_start(env, port=PORT, log=tmp_path / "gunicorn.log", workers=WORKERS, threads=THREADS)
    url = f"http://127.0.0.1:{PORT}"
    yield url
    os.killpg(process.pid, 15)
    process.wait(timeout=30)


def test_half_requests_on_every_worker_do_not_starve_a_normal_request(web_server):
    half_open = []
    for _ in range(WORKERS * THREADS + 2):  # more than every worker's every thread
        s = socket.create_connection(("127.0.0.1", PORT))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # and never the rest
        half_open.append(s)
    time.sleep(0.5)  # let the server take them up
    try:
        started = time.monotonic()
        response = requests.get(f"{web_server}/healthz", timeout=15)
        assert response.status_code == 200
        # every thread is taken at first; each frees within HEAD_SECONDS, and a worker's queue may hold
        # two of the half requests before ours (a sync worker, as before, waits for them 600 s)
        assert time.monotonic() - started < 3 * HEAD_SECONDS + 4
        # and the server stopped waiting for the heads it never got
        for s in half_open:
            s.settimeout(HEAD_SECONDS + 5)
            try:
                assert s.recv(1024) == b""  # closed, after nothing
            except ConnectionResetError:
                pass
    finally:
        for s in half_open:
            s.close()

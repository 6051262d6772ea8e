"""Schemathesis against /api/schema/: generated requests, unsigned and signed, find no 5xx."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from config.wsgi import application


def test_application(environ, start_response):
    """The WSGI app as Django's test client runs it: the test's transaction must outlive each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = application(environ, start_response)
        body = b"".join(response)
        response.close()
        return [body]
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


test_application.__test__ = False
schema = schemathesis.openapi.from_wsgi("/api/schema/", test_application)
BOUNDED = settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.fixture
def department(db, settings, tmp_path):
    from tests.exchange.conftest import _department

    settings.BATCH_STORAGE_DIR = tmp_path / "batches"
    settings.PLATFORM_SIGNING_KEY_DIR = tmp_path / "keys"
    return _department("HN-SCJG", "湖南省市场监督管理局", ["admin_penalty"], ["admin_penalty", "registration"],
                       "hn-scjg-2026")


@pytest.mark.slow
@schema.include(path_regex=r"^/api/v1/exchange/|^/\.well-known/").parametrize()  # public/: tests/public (own DB role)
@BOUNDED
def test_no_server_error_unsigned(case, department):
    response = case.call()
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])


@pytest.mark.slow
@schema.include(path_regex="^/api/v1/exchange/").parametrize()
@BOUNDED
def test_no_server_error_signed(case, department):
    from exchange.signatures import content_digest, sign_request
    from tests.exchange.conftest import demo_private_key

    query = urlencode(case.query or {}, doseq=True)
    url = "http://localhost" + case.formatted_path + (f"?{query}" if query else "")
    body = None
    headers = {}
    if case.method.upper() == "POST":
        if isinstance(case.body, bytes):  # a generated raw body (any media type): sent as it is
            body = case.body
        elif case.media_type == "application/json":
            body = json.dumps(case.body).encode()
        else:
            body = str(case.body or "").encode()
        headers["Content-Type"] = case.media_type or "application/x-ndjson"
    signed = sign_request(method=case.method, url=url, headers=headers, private_key=demo_private_key("hn-scjg-2026"),
                          keyid="hn-scjg-2026", body_digest=content_digest(body) if body is not None else None)
    kwargs = {"headers": signed}
    if body is not None:
        kwargs["data"] = body
        case.body = None
    response = case.call(**kwargs)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])

"""PostgreSQL unreachable: 503 (a problem document on the API, a Chinese page elsewhere, with
Retry-After), never a 500."""

from __future__ import annotations

import pytest
from django.db import connections
from django.test import Client

from tests.exchange.conftest import SignedClient

NOBODY_LISTENS = "127.0.0.1:8409"  # a port in this test's range that nothing serves


@pytest.fixture
def database_down(django_db_blocker):
    """Every connection of this process points at a port where no PostgreSQL listens."""
    host, port = NOBODY_LISTENS.split(":")
    saved = {}
    with django_db_blocker.unblock():
        for alias in ("default", "public"):
            connection = connections[alias]
            connection.close()
            saved[alias] = connection.settings_dict
            connection.settings_dict = {**saved[alias], "HOST": host, "PORT": port,
                                        "OPTIONS": {**saved[alias]["OPTIONS"], "connect_timeout": 2}}
        yield
        for alias, settings_dict in saved.items():
            connections[alias].close()
            connections[alias].settings_dict = settings_dict


@pytest.fixture
def web():
    """A client that gets the response a browser would (Django's handler500 included), not the exception."""
    return Client(raise_request_exception=False)


def test_api_answers_503_problem_with_retry_after_when_the_database_is_down(web, database_down):
    department = SignedClient(web, "hn-scjg-2026")  # a signed request: its key is looked up in the database
    for path, get in (("/api/v1/public/subjects?q=长沙", web.get),
                      ("/api/v1/public/subjects/91430100MA4L0XXXXX", web.get),
                      ("/api/v1/exchange/batches/1", department.get)):
        response = get(path)
        assert response.status_code == 503, path
        assert response["Content-Type"] == "application/problem+json"
        assert int(response["Retry-After"]) > 0
        problem = response.json()
        assert problem["code"] == "service_unavailable" and problem["status"] == 503
        assert "暂时" in problem["detail"] and "Traceback" not in response.content.decode()


def test_pages_answer_a_chinese_503_page_when_the_database_is_down(web, database_down):
    for path in ("/?q=长沙", "/subjects/91430100MA4L0XXXXX"):
        response = web.get(path)
        assert response.status_code == 503, path
        assert response["Content-Type"].startswith("text/html")
        assert int(response["Retry-After"]) > 0
        page = response.content.decode()
        assert "服务暂时不可用" in page and "湖南省信用信息共享平台" in page  # the public site's frame
    health = web.get("/healthz")
    assert health.status_code == 503 and health.json()["checks"]["database"] is False

"""The rate limiter's cache (Redis) down: the public lookup stays open (fail open) and says so in the
log, once a minute at most, not once a request."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from tests.public.conftest import PUBLIC_DB

pytestmark = pytest.mark.django_db(databases=PUBLIC_DB)
NOBODY_LISTENS = "redis://127.0.0.1:8407/1"  # a port in this test's range that nothing serves


@pytest.fixture
def cache_down(settings, monkeypatch):
    settings.PUBLIC_RATE_LIMIT = "3/minute"
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": NOBODY_LISTENS}}
    monkeypatch.setattr("public.ratelimit._cache_down_logged_at", float("-inf"), raising=False)


def test_public_pages_and_api_answer_while_the_rate_limit_cache_is_down(store, cache_down, caplog):
    web = Client(raise_request_exception=False)
    with caplog.at_level(logging.WARNING, logger="public.ratelimit"):
        statuses = [web.get("/", {"q": "天翼"}).status_code for _ in range(5)]
        statuses.append(web.get(f"/subjects/{store.tianyi_uscc}").status_code)
        statuses.append(web.get("/api/v1/public/subjects", {"q": "天翼"}).status_code)
    assert statuses == [200] * 7  # over the limit of 3, but nothing counts: open, not 429 or 500
    warnings = [r for r in caplog.records if r.name == "public.ratelimit"]
    assert len(warnings) == 1 and "rate limit not applied" in warnings[0].getMessage()

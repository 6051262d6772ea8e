"""Bad input on the exchange API (issue #11, items 5 and 9): a clear problem document, never a 500, and a
refused upload leaves nothing behind."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from exchange.models import Batch
from tests.exchange.test_exchange_api import stored_files, submit
from tests.exchange.test_signed_requests import CHANGES, assert_refused

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("query", ["cursor=²", "cursor=፩", "limit=²", "limit=١٠"])
def test_unicode_digits_in_the_change_feed_are_a_problem(as_scjg, query):
    path = f"{CHANGES}?{quote(query, safe='=')}"
    code = "invalid_cursor" if query.startswith("cursor") else "invalid_request"
    assert_refused(as_scjg.get(path), 400, code)


@pytest.mark.parametrize("path", ["/api/v1/exchange/batches/{pk}/rejections?cursor=%C2%B2",
                                  "/api/v1/exchange/objections?cursor=%C2%B2"])
def test_unicode_digits_in_a_cursor_are_a_problem(as_scjg, path):
    batch = submit(as_scjg).json()
    assert_refused(as_scjg.get(path.format(pk=batch["id"])), 400, "invalid_cursor")


def test_a_content_type_longer_than_its_column_is_unsupported(as_scjg, settings):
    content_type = "text/csv; charset=utf-8; " + "x" * 100
    response = submit(as_scjg, body=b"decision_no\nA-1\n", content_type=content_type)
    assert_refused(response, 415, "unsupported_media_type")
    assert not Batch.objects.exists() and stored_files(settings) == []

"""Refusals found in an independent review of the exchange API against the protocol and its RFCs."""

from __future__ import annotations

import io
import time

import pytest

from exchange.models import Batch
from exchange.services.batches import BatchIdConflict, BatchTooLarge, batch_receive
from exchange.services.row_count import RowCounter
from tests.exchange import independent_signer
from tests.exchange.conftest import demo_private_key
from tests.exchange.test_signed_requests import CHANGES, assert_refused

pytestmark = pytest.mark.django_db


def signed_by_hand(path: str, params: list) -> dict[str, str]:
    return independent_signer.sign(method="GET", url=f"http://testserver{path}", headers={},
                                   components=["@method", "@authority", "@path", "@query"],
                                   key=demo_private_key("hn-scjg-2026"), params=params)


def test_an_expired_signature_is_stale(client, scjg):
    now = int(time.time())
    headers = signed_by_hand(CHANGES, [("created", now - 10), ("expires", now - 5), ("keyid", "hn-scjg-2026"),
                                       ("nonce", "expired-nonce-1")])
    assert_refused(client.get(CHANGES, headers=headers), 401, "stale")
    headers = signed_by_hand(CHANGES, [("created", now), ("expires", now + 60), ("keyid", "hn-scjg-2026"),
                                       ("nonce", "expires-later-1")])
    assert client.get(CHANGES, headers=headers).status_code == 200


def test_a_duplicated_signature_label_is_malformed(as_scjg):
    headers = as_scjg.headers_for("GET", CHANGES)
    headers["Signature-Input"] = headers["Signature-Input"] + ", " + headers["Signature-Input"]
    headers["Signature"] = headers["Signature"] + ", " + headers["Signature"]
    assert_refused(as_scjg.get(CHANGES, headers=headers), 400, "signature_malformed")


def test_a_chunked_body_without_length_is_refused_not_read_as_empty(as_scjg):
    path = "/api/v1/exchange/batches?category=admin_penalty&batch_id=chunked"
    headers = as_scjg.headers_for("POST", path, b"", "application/x-ndjson")
    headers["Transfer-Encoding"] = "chunked"
    response = as_scjg.client.generic("POST", path, data=b"", content_type="application/x-ndjson",
                                      headers={k: v for k, v in headers.items() if k != "Content-Type"})
    assert_refused(response, 411, "length_required")
    assert not Batch.objects.exists()


@pytest.mark.parametrize("length", ["12abc", "١", "9" * 5000])  # "١": isdigit() but int() refuses it
def test_a_non_numeric_content_length_is_a_problem_not_a_crash(as_scjg, length):
    path = "/api/v1/exchange/batches?category=admin_penalty&batch_id=cl"
    response = as_scjg.client.generic("POST", path, data=b"x", content_type="application/x-ndjson",
                                      CONTENT_LENGTH=length)
    assert_refused(response, 400, "invalid_content_length")


def test_a_disallowed_host_gets_a_signed_problem(as_scjg, settings):
    settings.ALLOWED_HOSTS = ["platform.example"]
    response = as_scjg.client.get(CHANGES, headers=as_scjg.headers_for("GET", CHANGES))
    assert_refused(response, 400, "bad_request")


@pytest.mark.parametrize("is_csv, body, rows", [
    (False, b'{"a": 1}\n{"a": 2}\n', 2),
    (False, b'{"a": 1}\n{"a": 2}', 2),  # a last line without a newline is a row
    (True, b'h1,h2\n1,2\n3,4', 2),
    (True, b'h1,h2\n"multi\nline",2\n3,"x""\n""y"\n', 2),  # newlines inside quotes, escaped quotes
    (True, b"", 0),
])
def test_row_counter(is_csv, body, rows):
    for size in (1, 3, len(body) or 1):  # the same answer however the stream is cut
        counter = RowCounter(is_csv=is_csv)
        for i in range(0, len(body), size):
            counter.feed(body[i:i + size])
        assert counter.rows == rows


@pytest.mark.parametrize("content_type, body", [
    ("application/x-ndjson", b'{"a":1}\n{"a":2}\n{"a":3}\n{"a":4}'),
    ("text/csv; charset=utf-8", b"h\n1\n2\n3\n4\n"),
])
def test_one_row_over_the_limit_is_refused(scjg, settings, tmp_path, content_type, body):
    settings.EXCHANGE_MAX_BATCH_ROWS = 3
    with pytest.raises(BatchTooLarge):
        batch_receive(department=scjg, category="admin_penalty", batch_id="big", content_type=content_type,
                      body=io.BytesIO(body))
    assert not Batch.objects.exists()


def test_the_same_batch_id_and_content_under_another_category_is_a_conflict(scjg):
    body = b'{"decision_no": "A-1"}\n'
    batch_receive(department=scjg, category="admin_penalty", batch_id="same", content_type="application/x-ndjson",
                  body=io.BytesIO(body))
    with pytest.raises(BatchIdConflict):
        batch_receive(department=scjg, category="admin_license", batch_id="same",
                      content_type="application/x-ndjson", body=io.BytesIO(body))
    assert Batch.objects.get().category == "admin_penalty"

"""Bad input on the exchange API (issue #11, items 5 and 9): a clear problem document, never a 500, and a
refused upload leaves nothing behind."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

import pytest
from django.db import DataError
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from exchange.models import Batch
from exchange.services.batches import BatchIdConflict, BatchTooLarge, batch_receive
from exchange.services.row_count import RowCounter
from tests.exchange.test_exchange_api import stored_files, submit
from tests.exchange.test_signed_requests import CHANGES, NDJSON, assert_refused
from validation import parsing

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


def _counted(body: bytes, is_csv: bool, size: int) -> int:
    counter = RowCounter(is_csv=is_csv)
    for i in range(0, len(body), size):
        counter.feed(body[i:i + size])
    return counter.rows


def _parsed_records(body: bytes) -> int:
    """Records (blank ones included) as validation's parser reads them: its lines, then Python's csv."""
    reader, records = csv.reader(parsing._Lines(io.BytesIO(body), "utf-8").it), 0
    while True:
        try:
            next(reader)
        except StopIteration:
            return records
        except csv.Error:  # a field over the limit: the parser rejects that row and goes on
            pass
        records += 1


@pytest.mark.parametrize("is_csv, body, rows", [
    (True, b'h\nx"y\n1\n2\n3\n', 4),  # a stray quote inside a field is a character, not a quoted field
    (True, b'h\n1,x"\n2\n3,"\n"\n', 3),
    (True, b"h\r1\r2\r\n3\r", 3),  # the parser ends lines at CR too
    (False, b'{"a": 1}\r{"a": 2}\r{"a": 3}', 3),
])
def test_rows_are_counted_as_the_parser_reads_them(is_csv, body, rows):
    for size in (1, 2, len(body)):
        assert _counted(body, is_csv, size) == rows


@examples(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"a", b",", b'"', b'""', b',"', b"\n", b"\r", b"\r\n"]), max_size=30),
       st.integers(1, 8))
def test_the_counter_agrees_with_the_parser_on_any_quoting(parts, size):
    body = b"".join(parts)
    assert _counted(body, True, size) == max(0, _parsed_records(body) - 1)


def test_an_unclosed_quote_hides_no_more_rows_than_the_parser_skips():
    """The parser gives up on a quoted field at its field limit and goes on with the next line."""
    body = b'h\n"' + b"1\n" * (parsing.MAX_LINE_BYTES // 2 + 300_000)
    assert _counted(body, True, 1 << 20) >= _parsed_records(body) - 1 > 200_000


def test_a_stray_quote_does_not_hide_rows_from_the_limit(scjg, settings):
    settings.EXCHANGE_MAX_BATCH_ROWS = 3
    with pytest.raises(BatchTooLarge, match="3 行"):
        batch_receive(department=scjg, category="admin_penalty", batch_id="quote", content_type="text/csv",
                      body=io.BytesIO(b'decision_no\nA"1\nA-2\nA-3\nA-4\n'))
    assert not Batch.objects.exists() and stored_files(settings) == []


def _receive(department, batch_id: str, body: bytes, category: str = "admin_penalty"):
    return batch_receive(department=department, category=category, batch_id=batch_id,
                         content_type="application/x-ndjson", body=io.BytesIO(body))


def test_a_refused_upload_leaves_no_file(scjg, settings):
    kept, _ = _receive(scjg, "first", b'{"decision_no": "A-1"}\n')
    with pytest.raises(BatchIdConflict):
        _receive(scjg, "first", b'{"decision_no": "A-2"}\n')
    settings.EXCHANGE_MAX_BATCH_ROWS = 1
    with pytest.raises(BatchTooLarge):
        _receive(scjg, "big", b'{"decision_no": "A-3"}\n{"decision_no": "A-4"}\n')
    assert stored_files(settings) == [settings.BATCH_STORAGE_DIR / kept.storage_path]


def test_a_refused_upload_keeps_the_file_another_batch_shares(scjg, settings):
    body = b'{"decision_no": "A-1"}\n'
    kept, _ = _receive(scjg, "first", body)
    _receive(scjg, "second", b'{"decision_no": "A-2"}\n')
    with pytest.raises(BatchIdConflict):
        _receive(scjg, "second", body)  # other content than "second" had, the same bytes as "first"
    assert (settings.BATCH_STORAGE_DIR / kept.storage_path).exists() and len(stored_files(settings)) == 2


def test_an_upload_the_database_refuses_leaves_no_file(scjg, settings, monkeypatch):
    def refused(**_kw):
        raise DataError("value too long")

    monkeypatch.setattr("exchange.services.batches.log_append", refused)
    with pytest.raises(DataError):
        _receive(scjg, "b1", b'{"decision_no": "A-1"}\n')
    assert not Batch.objects.exists() and stored_files(settings) == []


def test_rows_past_the_limit_fail_the_batch_in_the_pipeline(scjg, settings, monkeypatch):
    """The intake's count may err upwards only; the rows validation parses are held to the limit exactly."""
    from ingest.pipeline import batch_process

    monkeypatch.setattr("ingest.handoff.batch_enqueue", lambda *, batch_id: None)
    batch, _ = _receive(scjg, "rows", b'{"decision_no": "A-1"}\n{"decision_no": "A-2"}\n')
    settings.EXCHANGE_MAX_BATCH_ROWS = 1
    batch_process(batch_id=batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.failure_code) == ("failed", "too_many_rows") and "1 行" in batch.failure_reason


class _ShortInput:
    """A wsgi.input that ends before its Content-Length: a client cut off (or lying) mid-body."""

    def __init__(self, data: bytes):
        self.stream = io.BytesIO(data)

    def read(self, size=-1):
        return self.stream.read(size)

    def readline(self, size=-1):
        return self.stream.readline(size)


@pytest.mark.parametrize("path", ["/api/v1/exchange/batches?category=admin_penalty&batch_id=short",
                                  "/api/v1/exchange/objections/1/decision"])
def test_a_body_shorter_than_its_content_length_is_refused(as_scjg, settings, path):
    sent = b'{"decision_no": "A-1"}\n' if "batches" in path else b'{"decision": "upheld", "reason": "x"}'
    content_type = NDJSON if "batches" in path else "application/json"
    headers = as_scjg.headers_for("POST", path, sent, content_type)
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k.lower() != "content-type"}
    response = as_scjg.client.generic("POST", path, **extra, **{
        "wsgi.input": _ShortInput(sent), "CONTENT_LENGTH": str(len(sent) + 100), "CONTENT_TYPE": content_type})
    assert_refused(response, 400, "body_incomplete")
    assert not Batch.objects.exists() and stored_files(settings) == []

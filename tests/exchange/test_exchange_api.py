"""The endpoints of exchange-protocol §4, signed as a department would sign them."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection
from django.test import Client
from django.test.client import FakePayload
from django.utils import timezone

from credit.models import ChangeFeedEntry, Objection, Record, Subject
from exchange.exchange_log import log_verify
from exchange.jws import jws_verify
from exchange.models import Batch, BatchRejection, ExchangeLogEntry
from exchange.platform_keys import jwks, public_key_from_jwk
from exchange.receipts import batch_receipt_issue
from tests.exchange.conftest import SignedClient

pytestmark = pytest.mark.django_db
NDJSON = "application/x-ndjson"
BODY = b'{"decision_no": "A-1"}\n{"decision_no": "A-2"}\n'


def submit(as_dept, body=BODY, batch_id="b1", category="admin_penalty", content_type=NDJSON):
    return as_dept.post(f"/api/v1/exchange/batches?category={category}&batch_id={batch_id}", body, content_type)


def stored_files(settings) -> list:
    root = settings.BATCH_STORAGE_DIR
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_submit_then_resubmit_then_conflict(as_scjg, scjg):
    first = submit(as_scjg)
    assert first.status_code == 202, first.content
    resource = first.json()
    batch = Batch.objects.get()
    assert resource["id"] == batch.pk and resource["batch_id"] == "b1" and resource["status"] == "received"
    assert batch.department == scjg and batch.content_digest.startswith("sha-256=:")
    assert ExchangeLogEntry.objects.filter(kind="batch_submitted").count() == 1

    again = submit(as_scjg)
    assert again.status_code == 200 and again.json()["id"] == batch.pk

    conflict = submit(as_scjg, body=b'{"decision_no": "B"}\n')
    assert conflict.status_code == 409 and conflict.json()["code"] == "batch_id_conflict"
    assert Batch.objects.count() == 1 and ExchangeLogEntry.objects.filter(kind="batch_submitted").count() == 1


def test_category_the_department_may_not_write(as_gy, settings):
    response = submit(as_gy, category="admin_penalty")
    assert response.status_code == 403 and response.json()["code"] == "category_not_writable"
    assert not Batch.objects.exists() and stored_files(settings) == []


def test_unsupported_media_type(as_scjg):
    response = submit(as_scjg, content_type="application/json")
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"


def test_another_departments_batch_does_not_exist(as_scjg, as_gy):
    batch_pk = submit(as_scjg).json()["id"]
    for suffix in ("", "/rejections", "/receipt"):
        response = as_gy.get(f"/api/v1/exchange/batches/{batch_pk}{suffix}")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert as_scjg.get(f"/api/v1/exchange/batches/{batch_pk}").status_code == 200


def test_rejections_page_with_a_cursor(as_scjg, monkeypatch):
    from api.exchange import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    batch = Batch.objects.get(pk=submit(as_scjg).json()["id"])
    for row in range(1, 6):
        BatchRejection.objects.create(batch=batch, row=row, field="decided_on", code="date_future", message="未来")
    rows, cursor = [], None
    while True:
        page = as_scjg.get(f"/api/v1/exchange/batches/{batch.pk}/rejections" + (f"?cursor={cursor}" if cursor else ""))
        assert page.status_code == 200
        rows += [r["row"] for r in page.json()["results"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert rows == [1, 2, 3, 4, 5]
    assert page.json()["results"][0] == {"row": 5, "field": "decided_on", "code": "date_future", "message": "未来"}


def test_receipt_409_before_finished_then_a_verifiable_jws(as_scjg):
    batch = Batch.objects.get(pk=submit(as_scjg).json()["id"])
    early = as_scjg.get(f"/api/v1/exchange/batches/{batch.pk}/receipt")
    assert early.status_code == 409 and early.json()["code"] == "batch_not_finished"
    Batch.objects.filter(pk=batch.pk).update(status="completed", rows=2, accepted=2, completed_at=timezone.now())
    batch_receipt_issue(batch=Batch.objects.get(pk=batch.pk))
    response = as_scjg.get(f"/api/v1/exchange/batches/{batch.pk}/receipt")
    assert response.status_code == 200 and response["Content-Type"] == "application/jose"
    payload = jws_verify(response.content.decode(), {k["kid"]: public_key_from_jwk(k) for k in jwks()["keys"]})
    assert payload["batch"] == batch.pk and payload["content_digest"] == batch.content_digest
    assert payload["log_index"] == ExchangeLogEntry.objects.get(kind="receipt_issued").index
    assert log_verify().ok


def _lazy_wsgi_post(path: str, headers: dict, size: int):
    """POST `size` bytes generated on demand (never held in memory) through the whole WSGI stack."""

    class Zeros:
        read_so_far = 0

        def read(self, n=-1):
            n = min(n if n >= 0 else 1 << 20, size - self.read_so_far)
            self.read_so_far += n
            return b"\0" * n

    stream = Zeros()
    client = Client()
    payload = FakePayload(b"")
    payload._FakePayload__content = stream  # FakePayload.read() delegates to its content stream
    payload._FakePayload__len = size
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k.lower() != "content-type"}
    response = client.generic("POST", path, content_type=NDJSON, **extra,
                              **{"wsgi.input": payload, "CONTENT_LENGTH": str(size), "CONTENT_TYPE": NDJSON})
    return response, stream


@pytest.mark.slow
def test_a_300_mb_batch_is_refused_with_413_without_reading_or_storing_it(as_scjg, settings):
    path = "/api/v1/exchange/batches?category=admin_penalty&batch_id=huge"
    headers = as_scjg.headers_for("POST", path, body=b"", content_type=NDJSON)  # the digest will not be reached
    response, stream = _lazy_wsgi_post(path, headers, 300 * 1024 * 1024)
    assert response.status_code == 413, response.json()
    assert response.json()["code"] == "batch_too_large"
    assert stream.read_so_far < 1024 * 1024
    assert not Batch.objects.exists() and stored_files(settings) == []


def test_a_batch_over_the_limit_is_stopped_while_streaming(as_scjg, settings):
    settings.EXCHANGE_MAX_BATCH_BYTES = 10  # Content-Length is within it only if we lie; the store counts too
    response = submit(as_scjg, body=b'{"decision_no": "A-1"}\n')
    assert response.status_code == 413 and not Batch.objects.exists() and stored_files(settings) == []


@pytest.mark.django_db(transaction=True)
def test_the_same_batch_posted_twice_at_once_makes_one_batch(client, scjg, monkeypatch):
    monkeypatch.setattr("ingest.handoff.batch_enqueue", lambda **kw: None)
    statuses = []
    barrier = threading.Barrier(2)

    def post():
        try:
            signed = SignedClient(Client(), "hn-scjg-2026")
            barrier.wait()
            statuses.append(submit(signed, batch_id="twice").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 202]
    assert Batch.objects.filter(batch_id="twice").count() == 1
    assert ExchangeLogEntry.objects.filter(kind="batch_submitted", payload__batch_id="twice").count() == 1


def _record(department, category="admin_penalty", uscc="91430000MA4L0000XX"):
    subject = Subject.objects.create(kind="legal_person", uscc=uscc, name="长沙某某有限公司", name_key="长沙某某有限公司")
    record = Record.objects.create(category=category, natural_key=f"{category}-1", subject=subject, payload={},
                                   content_hash="0" * 64, department=department)
    return subject, record


def test_changes_only_in_readable_categories(as_gy, scjg):
    subject, penalty = _record(scjg)
    _, black = _record(scjg, category="black_list", uscc="91430000MA4L0001XX")
    for record in (penalty, black):
        ChangeFeedEntry.objects.create(kind="created", category=record.category, record=record, subject=record.subject,
                                       department=scjg, changed_at=timezone.now())
    page = as_gy.get("/api/v1/exchange/changes").json()
    assert [item["category"] for item in page["results"]] == ["black_list"]
    refused = as_gy.get("/api/v1/exchange/changes?category=admin_penalty")
    assert refused.status_code == 403 and refused.json()["code"] == "category_not_readable"


def test_subject_record_limited_to_readable_categories(as_gy, scjg):
    _record(scjg)
    body = as_gy.get("/api/v1/exchange/subjects/91430000MA4L0000XX").json()
    assert set(body["records"]) == {"registration", "black_list"} and body["records"]["black_list"] == []
    assert as_gy.get("/api/v1/exchange/subjects/NOSUCHCODE").status_code == 404


def test_objections_listed_and_decided_once_with_a_log_entry(as_scjg, as_gy, scjg):
    subject, record = _record(scjg)
    objection = Objection.objects.create(record=record, subject=subject, raised_by="长沙某某有限公司", reason="已更正")
    listing = as_scjg.get("/api/v1/exchange/objections?status=open").json()["results"]
    assert [o["id"] for o in listing] == [objection.pk]
    assert as_gy.get("/api/v1/exchange/objections?status=open").json()["results"] == []

    path = f"/api/v1/exchange/objections/{objection.pk}/decision"
    body = json.dumps({"decision": "corrected", "reason": "已按原决定书更正"}).encode()
    assert as_gy.post(path, body, "application/json").status_code == 404  # not its record
    response = as_scjg.post(path, body, "application/json")
    assert response.status_code == 200 and response.json()["status"] == "corrected"
    objection.refresh_from_db()
    assert objection.decided_at is not None and objection.decided_by == scjg
    entry = ExchangeLogEntry.objects.get(kind="objection_decided")
    assert entry.payload["objection"] == objection.pk and entry.department_code == "HN-SCJG"
    again = as_scjg.post(path, body, "application/json")
    assert again.status_code == 409 and again.json()["code"] == "objection_already_decided"
    bad = as_scjg.post(path, b'{"decision": "maybe"}', "application/json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_request"

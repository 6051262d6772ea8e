"""exchange/receipts.py::batch_receipt_issue."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from exchange.exchange_log import log_verify
from exchange.jws import jws_header, jws_verify
from exchange.models import Batch, ExchangeLogEntry
from exchange.platform_keys import jwks, public_key_from_jwk
from exchange.receipts import batch_receipt_issue

pytestmark = pytest.mark.django_db


def _finished_batch(department, **kw) -> Batch:
    fields = dict(department=department, batch_id="b-1", category="admin_penalty", content_type="application/x-ndjson",
                  content_digest="sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", size_bytes=18,
                  storage_path="x", status="completed", rows=3, accepted=2, rejected=1, created=2,
                  completed_at=timezone.now())
    fields.update(kw)
    return Batch.objects.create(**fields)


def test_receipt_is_a_jws_over_the_protocol_payload_and_points_into_the_log(scjg):
    batch = _finished_batch(scjg)
    with transaction.atomic():
        token = batch_receipt_issue(batch=batch)
    keys = {k["kid"]: public_key_from_jwk(k) for k in jwks()["keys"]}
    payload = jws_verify(token, keys)
    entry = ExchangeLogEntry.objects.get(kind="receipt_issued")
    assert jws_header(token)["alg"] == "EdDSA" and jws_header(token)["kid"] in keys
    assert payload == {
        "batch": batch.pk, "department": "HN-SCJG", "batch_id": "b-1", "category": "admin_penalty",
        "content_digest": "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
        "received_at": payload["received_at"], "completed_at": payload["completed_at"], "status": "completed",
        "counts": {"rows": 3, "accepted": 2, "rejected": 1, "created": 2, "updated": 0, "unchanged": 0,
                   "withdrawn": 0, "pending_subject": 0},
        "log_index": entry.index, "log_head": entry.entry_hash,
    }
    assert payload["received_at"].endswith("Z") and payload["completed_at"].endswith("Z")
    batch.refresh_from_db()
    assert (batch.receipt, batch.log_index, batch.log_head) == (token, entry.index, entry.entry_hash)
    assert log_verify().ok


def test_issuing_twice_returns_the_stored_receipt_and_logs_once(scjg):
    batch = _finished_batch(scjg)
    first = batch_receipt_issue(batch=batch)
    second = batch_receipt_issue(batch=Batch.objects.get(pk=batch.pk))
    assert first == second
    assert ExchangeLogEntry.objects.filter(kind="receipt_issued").count() == 1


def test_no_receipt_before_the_batch_finished(scjg):
    batch = _finished_batch(scjg, status="validating", completed_at=None)
    with pytest.raises(ValueError):
        batch_receipt_issue(batch=batch)
    assert not ExchangeLogEntry.objects.exists()

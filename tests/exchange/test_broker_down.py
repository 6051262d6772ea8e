"""The broker (Redis) down while a batch is pushed: the batch is stored and committed, so the push
answers 202 and batches_resume enqueues the batch once the broker is back."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from exchange.models import Batch, BatchStatus, ExchangeLogEntry
from ingest.pipeline import batches_unfinished
from tests.conftest import celery_publishing_to
from tests.exchange.conftest import SignedClient

NOBODY_LISTENS = "127.0.0.1:8408"  # a port in this test's range that nothing serves


@pytest.fixture
def broker_down():
    """The Celery app publishes to a Redis nobody listens on."""
    with celery_publishing_to(f"redis://{NOBODY_LISTENS}/0"):
        yield


@pytest.mark.django_db(transaction=True)
def test_a_push_while_the_broker_is_down_is_accepted_and_kept(client, scjg, broker_down, caplog):
    body = b'{"decision_no": "A-1"}\n'
    with caplog.at_level(logging.WARNING, logger="exchange.services.batches"):
        response = SignedClient(Client(raise_request_exception=False), "hn-scjg-2026").post(
            "/api/v1/exchange/batches?category=admin_penalty&batch_id=b-down", body, "application/x-ndjson")
    assert response.status_code == 202, response.content
    batch = Batch.objects.get(batch_id="b-down")
    assert batch.status == BatchStatus.RECEIVED and response.json()["id"] == batch.pk
    assert ExchangeLogEntry.objects.filter(kind="batch_submitted").count() == 1
    assert any("not enqueued" in r.getMessage() for r in caplog.records)
    assert batches_unfinished() == [batch.pk]  # what batches_resume enqueues once the broker is back

"""`Prefer: wait=N` (RFC 7240) on a batch's status and receipt: one signed request waits for the batch to finish.

Against a live server (real HTTP, real signatures, the server's own database connection LISTENing); the batch
is finished by the platform's own finishing path from the test, in another transaction, as the worker would.
"""

from __future__ import annotations

import io
import threading
import time

import pytest

from exchange.client.session import ExchangeError, ExchangeSession
from exchange.models import Batch, BatchStatus
from exchange.services.batches import batch_receive
from exchange.waiting import WAIT_MAX_SECONDS, preferred_wait
from ingest.finish import batch_complete
from tests.credit.factories import ndjson, penalty
from tests.exchange.conftest import demo_private_key

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def batch(scjg, enqueued):
    """A batch the worker has taken up and not finished."""
    batch, _ = batch_receive(department=scjg, category="admin_penalty", batch_id="wait-1", content_type="application/x-ndjson",
                             body=io.BytesIO(ndjson([penalty("湘市监罚〔2026〕7号", 1)])))
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.MERGING)
    return Batch.objects.get(pk=batch.pk)


def session(live_server, keyid: str = "hn-scjg-2026") -> ExchangeSession:
    return ExchangeSession(url=live_server.url, keyid=keyid, private_key=demo_private_key(keyid), timeout=60)


def finish_later(batch: Batch, seconds: float = 0.5) -> threading.Thread:
    def finish():
        time.sleep(seconds)
        try:
            batch_complete(batch=Batch.objects.get(pk=batch.pk))
        finally:
            from django.db import connection

            connection.close()

    thread = threading.Thread(target=finish)
    thread.start()
    return thread


def test_a_status_read_that_prefers_to_wait_answers_when_the_batch_completes(live_server, batch, monkeypatch):
    monkeypatch.setattr("exchange.waiting.RECHECK_SECONDS", WAIT_MAX_SECONDS)  # only the notification wakes it
    finisher = finish_later(batch)
    started = time.monotonic()
    response = session(live_server).request("GET", f"batches/{batch.pk}", prefer="wait=20")
    waited = time.monotonic() - started
    finisher.join()

    assert response.json()["status"] == "completed"
    assert response.headers["Preference-Applied"] == "wait=20"
    # woken by the finish (PostgreSQL's notification), not by the 20 s running out
    assert waited < WAIT_MAX_SECONDS / 2


def test_the_receipt_waits_too_instead_of_answering_409(live_server, batch):
    client = session(live_server)
    with pytest.raises(ExchangeError) as not_yet:
        client.request("GET", f"batches/{batch.pk}/receipt")
    assert not_yet.value.status == 409

    finisher = finish_later(batch)
    response = client.request("GET", f"batches/{batch.pk}/receipt", prefer="wait=20")
    finisher.join()
    assert response.headers["Content-Type"] == "application/jose"
    assert response.text == Batch.objects.get(pk=batch.pk).receipt


def test_a_batch_that_does_not_finish_in_time_is_answered_as_it_is(live_server, batch):
    response = session(live_server).request("GET", f"batches/{batch.pk}", prefer="wait=1")
    assert response.json()["status"] == "merging"
    assert response.headers["Preference-Applied"] == "wait=1"


def test_without_the_preference_the_read_answers_at_once(live_server, batch):
    response = session(live_server).request("GET", f"batches/{batch.pk}")
    assert response.json()["status"] == "merging"
    assert "Preference-Applied" not in response.headers


def test_when_every_waiting_place_is_taken_the_read_answers_at_once_without_saying_it_waited(live_server, batch,
                                                                                            monkeypatch):
    monkeypatch.setattr("exchange.waiting._WAITERS", threading.BoundedSemaphore(1))
    from exchange import waiting

    assert waiting._WAITERS.acquire(blocking=False)  # the one place, taken
    response = session(live_server).request("GET", f"batches/{batch.pk}", prefer="wait=20")
    assert response.json()["status"] == "merging"
    assert "Preference-Applied" not in response.headers


def test_another_departments_wait_is_a_plain_404(live_server, batch, gy):
    with pytest.raises(ExchangeError) as refused:
        session(live_server, "hn-gy-2026").request("GET", f"batches/{batch.pk}", prefer="wait=20")
    assert refused.value.status == 404


def test_the_client_waits_with_one_request_per_wait(live_server, batch, monkeypatch):
    client = session(live_server)
    sent = []
    original = client.request
    monkeypatch.setattr(client, "request", lambda *a, **kw: sent.append((a, kw)) or original(*a, **kw))
    finisher = finish_later(batch, seconds=1.5)
    assert client.batch_finished(batch.pk, pause=0.1)["status"] == "completed"
    finisher.join()
    assert len(sent) == 1 and sent[0][1]["prefer"] == "wait=20"


@pytest.mark.parametrize(("header", "seconds"), [
    ("wait=5", 5), ("respond-async, wait=7", 7), ("wait=\"3\"", 3), ("WAIT = 2.5", 2.5),
    ("wait=3600", WAIT_MAX_SECONDS), ("handling=lenient", 0), ("", 0), (None, 0), ("wait=soon", 0),
])
def test_the_preference_is_read_as_rfc_7240_writes_it(header, seconds):
    assert preferred_wait(header) == seconds

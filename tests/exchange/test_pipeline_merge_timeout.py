"""A merge statement that runs away is cancelled (statement_timeout), its chunk rolled back and merged again
once; twice and the batch fails with merge_timeout and its reason, and a re-push completes it. Nothing is
applied twice. Through a real Celery worker, the runaway played by a trigger that sleeps."""

from __future__ import annotations

import io
import os
import time

import pytest
from django.db import connection
from django.db.models import Count

from credit.models import ChangeFeedItem, Record, RecordVersion, StagedRow
from exchange.services.batches import batch_receive
from tests.credit.factories import ndjson, penalty
from tests.exchange.test_pipeline_faults import _assert_counts_add_up, database_faults  # noqa: F401 (fixture)
from tests.exchange.test_pipeline_worker import _department, _submit, _wait

# the worker subprocess inherits these: several chunks per stage, and merge statements cut at 5 s
# (ordinary ones here take milliseconds)
os.environ.setdefault("CREDIT_PIPELINE_CHUNK_ROWS", "4000")
os.environ.setdefault("MERGE_STATEMENT_TIMEOUT_SECONDS", "5")
CHUNK = int(os.environ["CREDIT_PIPELINE_CHUNK_ROWS"])
TIMEOUT = float(os.environ["MERGE_STATEMENT_TIMEOUT_SECONDS"])
RUNAWAY_SECONDS = 60  # what the slow statement would take uncut

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture(autouse=True)
def platform_key_dir():
    """Keep the default storage dirs: the worker process reads the stored batch files."""


def _rows() -> list[dict]:
    rows = [penalty(f"P-{i}", i % 50) for i in range(2 * CHUNK)]
    rows[CHUNK + 10] = penalty("P-SLOW", 2)  # in the second chunk
    return rows


def _nothing_applied_twice() -> None:
    assert Record.objects.count() == 2 * CHUNK
    assert RecordVersion.objects.count() == 2 * CHUNK
    assert not RecordVersion.objects.values("record").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert ChangeFeedItem.objects.count() == 2 * CHUNK
    assert Record.objects.filter(version=1, state="active").count() == 2 * CHUNK


def test_a_runaway_merge_statement_is_cancelled_and_its_chunk_merged_again(celery_worker_process,
                                                                             database_faults):  # noqa: F811
    with connection.cursor() as cursor:
        cursor.execute("CREATE SEQUENCE test_fault_once")
    database_faults("credit_record", "IF NEW.natural_key = 'P-SLOW' AND nextval('test_fault_once') = 1 THEN "
                    f"PERFORM pg_sleep({RUNAWAY_SECONDS}); END IF;")
    started = time.monotonic()
    batch = _wait(_submit(_department(), "admin_penalty", ndjson(_rows()), "runaway-once"),
                  timeout=RUNAWAY_SECONDS - 5)
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value FROM test_fault_once")
        assert cursor.fetchone()[0] >= 2  # the slow statement did run, and the chunk ran again
    assert time.monotonic() - started >= TIMEOUT
    assert batch.status == "completed", (batch.failure_code, batch.failure_reason)
    assert (batch.counts["rows"], batch.counts["created"], batch.counts["rejected"]) == (2 * CHUNK, 2 * CHUNK, 0)
    _assert_counts_add_up(batch)
    _nothing_applied_twice()


def test_a_merge_that_runs_away_every_time_fails_the_batch_with_a_reason_and_a_repush_completes_it(
        celery_worker_process, database_faults):  # noqa: F811
    database_faults("credit_record", f"IF NEW.natural_key = 'P-SLOW' THEN PERFORM pg_sleep({RUNAWAY_SECONDS}); "
                                     "END IF;")
    body = ndjson(_rows())
    department = _department()
    batch = _wait(_submit(department, "admin_penalty", body, "runaway-always"), timeout=RUNAWAY_SECONDS - 5)
    assert (batch.status, batch.failure_code) == ("failed", "merge_timeout")
    assert f"第 {CHUNK + 1}–{2 * CHUNK} 行" in batch.failure_reason and "超时" in batch.failure_reason
    assert "batch_id 重新报送" in batch.failure_reason
    # the first chunk stays merged, the second left nothing behind; no staged rows are kept
    assert batch.merged_through_row == CHUNK
    assert Record.objects.count() == RecordVersion.objects.count() == CHUNK
    assert not Record.objects.filter(natural_key="P-SLOW").exists()
    assert not StagedRow.objects.filter(batch_id=batch.pk).exists()
    assert batch.receipt

    with connection.cursor() as cursor:  # the runaway is gone (a fixed plan, fresh statistics)
        cursor.execute("DROP TRIGGER test_fault_0 ON credit_record")
    again, restarted = batch_receive(department=department, category="admin_penalty", batch_id="runaway-always",
                                     content_type="application/x-ndjson", body=io.BytesIO(body))
    assert restarted and again.pk == batch.pk
    again = _wait(again, timeout=120)
    assert again.status == "completed", (again.failure_code, again.failure_reason)
    # the rows merged before the failure are unchanged this time: nothing applied twice
    assert (again.counts["rows"], again.counts["unchanged"], again.counts["created"]) == (2 * CHUNK, CHUNK, CHUNK)
    _assert_counts_add_up(again)
    _nothing_applied_twice()

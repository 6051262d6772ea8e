"""A batch never stalls: rows the store cannot take are rejected, database errors no retry would change
reject their chunk's rows, a lost connection is retried. Through a real Celery worker."""

from __future__ import annotations

import os

import pytest
from django.db import connection

from exchange.models import BatchRejection
from tests.credit.factories import id_number, ndjson, penalty
from tests.exchange.test_pipeline_worker import _department, _submit, _wait

# as in test_pipeline_worker (the worker is shared): several chunks per stage
os.environ.setdefault("CREDIT_PIPELINE_CHUNK_ROWS", "4000")
CHUNK = int(os.environ["CREDIT_PIPELINE_CHUNK_ROWS"])

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture(autouse=True)
def platform_key_dir():
    """Keep the default storage dirs: the worker process reads the stored batch files."""


@pytest.fixture
def database_faults():
    """Triggers that make the worker's statements fail for chosen rows; dropped afterwards."""
    created = []

    def add(table: str, body: str) -> None:
        name = f"test_fault_{len(created)}"
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} "
                           f"RETURN NEW; END $$")
            cursor.execute(f"CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()")
        created.append((name, table))

    yield add
    with connection.cursor() as cursor:
        for name, table in created:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}; DROP FUNCTION IF EXISTS {name}()")
        cursor.execute("DROP SEQUENCE IF EXISTS test_fault_once")


def _assert_counts_add_up(batch) -> None:
    c = batch.counts
    assert c["rows"] == c["accepted"] + c["rejected"], c
    assert c["accepted"] == c["created"] + c["updated"] + c["unchanged"] + c["withdrawn"] + c["pending_subject"], c
    assert BatchRejection.objects.filter(batch=batch).values("row").distinct().count() == c["rejected"]


def test_an_individual_business_known_only_by_an_id_number_is_a_row_rejection(celery_worker_process):
    rows = [penalty(f"P-{i}", i) for i in range(5)]
    rows.insert(2, penalty("P-ID", None, subject_name="长沙某某小吃店", subject_type="individual_business",
                           id_type="resident_id", id_number=id_number(7)))
    batch = _wait(_submit(_department(), "admin_penalty", ndjson(rows), "unresolved"), timeout=60)
    assert batch.status == "completed"
    assert (batch.counts["rows"], batch.counts["created"], batch.counts["rejected"]) == (6, 5, 1)
    _assert_counts_add_up(batch)
    rejection = BatchRejection.objects.get(batch=batch)
    assert (rejection.row, rejection.field, rejection.code) == (3, "uscc", "subject_unresolved")
    assert "统一社会信用代码" in rejection.message


def test_a_chunk_the_database_refuses_rejects_its_rows_and_the_batch_completes(celery_worker_process,
                                                                                database_faults):
    """One chunk fails while staging, another while merging: their rows become internal_error rejections,
    the third chunk is merged, the batch completes."""
    database_faults("credit_stagedrow", "IF NEW.natural_key = 'P-BAD-STAGE' THEN RAISE EXCEPTION 'fault'; END IF;")
    database_faults("credit_record", "IF NEW.natural_key = 'P-BAD-MERGE' THEN RAISE EXCEPTION 'fault'; END IF;")
    rows = [penalty(f"P-{i}", i % 50) for i in range(3 * CHUNK)]
    rows[1] = penalty("P-BAD-STAGE", 1)
    rows[CHUNK + 10] = penalty("P-BAD-MERGE", 2)
    batch = _wait(_submit(_department(), "admin_penalty", ndjson(rows), "faults"), timeout=120)
    assert batch.status == "completed"
    assert (batch.counts["rows"], batch.counts["rejected"], batch.counts["created"]) == (3 * CHUNK, 2 * CHUNK, CHUNK)
    _assert_counts_add_up(batch)
    rejected = BatchRejection.objects.filter(batch=batch)
    assert set(rejected.values_list("code", flat=True)) == {"internal_error"}
    assert sorted(rejected.values_list("row", flat=True)) == list(range(1, 2 * CHUNK + 1))
    assert batch.receipt


def test_a_connection_lost_mid_merge_is_retried_and_the_batch_completes(celery_worker_process, database_faults):
    with connection.cursor() as cursor:
        cursor.execute("CREATE SEQUENCE test_fault_once")
    # the worker's own backend is terminated once, inside the merge of the second chunk
    database_faults("credit_record", "IF NEW.natural_key = 'P-KILL' AND nextval('test_fault_once') = 1 THEN "
                    "PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5); END IF;")
    rows = [penalty(f"P-{i}", i % 50) for i in range(2 * CHUNK)]
    rows[CHUNK + 10] = penalty("P-KILL", 2)
    batch = _wait(_submit(_department(), "admin_penalty", ndjson(rows), "lost"), timeout=120)
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value FROM test_fault_once")
        assert cursor.fetchone()[0] >= 2  # the fault did fire, and the chunk ran again
    assert batch.status == "completed"
    assert (batch.counts["rows"], batch.counts["created"], batch.counts["rejected"]) == (2 * CHUNK, 2 * CHUNK, 0)
    _assert_counts_add_up(batch)

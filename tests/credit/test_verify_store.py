"""credit.verify_store / `manage.py verify_store`: a store the real pipeline built verifies clean; each kind of
damage, made on purpose (foreign keys dropped where the database would refuse it), is named."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from credit.models import Objection, Record, RecordVersion, RepairRequest
from credit.verify_store import store_verify
from exchange.models import Batch
from exchange.services.batches import batch_restart
from ingest.pipeline import batch_process
from tests.credit.factories import ingest, org_code, penalty, registration

pytestmark = pytest.mark.django_db

CLEAN = "4 subjects, 8 records, 10 versions, 11 feed entries: all consistent"


@pytest.fixture
def store(scjg, sthj):
    """Registrations; penalties created, pending, rejected; then updated, withdrawn, unchanged; a registration
    that attaches the pending one; an objection and a repair request."""
    ingest(scjg, "registration", [registration(n) for n in (1, 2, 3)], "r1")
    first = ingest(sthj, "admin_penalty", [
        penalty("P-1", 1), penalty("P-2", 2), penalty("P-3", 3),
        penalty("P-7", None, subject_name="湖南测试7有限公司", org_code=org_code(7)),
        {"op": "withdraw", "decision_no": "P-404"},
    ], "p1")
    assert first.counts == {"rows": 5, "accepted": 4, "rejected": 1, "created": 3, "updated": 0, "unchanged": 0,
                            "withdrawn": 0, "pending_subject": 1}
    second = ingest(sthj, "admin_penalty", [
        penalty("P-1", 1, content="罚款一万元"), {"op": "withdraw", "decision_no": "P-2"}, penalty("P-3", 3),
    ], "p2")
    assert (second.updated, second.withdrawn, second.unchanged) == (1, 1, 1)
    ingest(scjg, "registration", [registration(7)], "r7")
    assert not Record.objects.filter(subject__isnull=True).exists()  # P-7 attached
    p1 = Record.objects.get(category="admin_penalty", natural_key="P-1")
    Objection.objects.create(record=p1, subject=p1.subject, raised_by="湖南测试1有限公司", reason="处罚金额有误")
    RepairRequest.objects.create(record=p1, subject=p1.subject, filed_by="湖南测试1有限公司", reason="已整改",
                                 commitment=True)
    assert store_verify().ok
    return {"first": first, "second": second, "p1": p1, "p2": Record.objects.get(natural_key="P-2"),
            "sthj": sthj}


def _damage(sql: str, params: dict | None = None) -> list[tuple]:
    """Run `sql` as the database would never let the platform: with no foreign key left to refuse it (dropped,
    like everything here, inside the test's transaction, which is rolled back after it). The checks the store's
    rows queued for COMMIT run first: a table with pending ones cannot be altered."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname)"
                       "  FROM pg_constraint WHERE contype = 'f' AND connamespace = current_schema()::regnamespace")
        for (drop,) in cursor.fetchall():
            cursor.execute(drop)
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _problem() -> str:
    check = store_verify()
    assert not check.ok, "the damage went unnoticed"
    return check.problem


def _version(record: Record, version: int) -> RecordVersion:
    return RecordVersion.objects.get(record=record, version=version)


def test_a_store_built_by_the_pipeline_verifies_clean_from_the_command_line(store):
    out = io.StringIO()
    call_command("verify_store", stdout=out)
    assert out.getvalue().strip() == CLEAN


def test_the_command_names_the_first_broken_thing_and_exits_1(store):
    p1 = store["p1"]
    _damage("UPDATE credit_recordversion SET version = 3 WHERE record_id = %(r)s AND version = 2", {"r": p1.id})
    with pytest.raises(CommandError) as failure:
        call_command("verify_store", stdout=io.StringIO())
    assert failure.value.returncode == 1
    assert str(failure.value) == (f"store broken: record {p1.id} (admin_penalty P-1): version 2 is missing from its "
                                  "history (versions 1, 3)")


# a column of the store, the table it names a row of, and how the check names the damage
REFERENCES = {
    "credit_record.subject_id": ("credit_subject", "record {row} names subject {missing}"),
    "credit_record.department_id": ("exchange_department", "record {row} names department {missing}"),
    "credit_recordversion.record_id": ("credit_record", "version row {row} names record {missing}"),
    "credit_recordversion.department_id": ("exchange_department", "version row {row} names department {missing}"),
    "credit_recordversion.batch_id": ("exchange_batch", "version row {row} names batch {missing}"),
    "credit_recordversion.subject_id": ("credit_subject", "version row {row} names subject {missing}"),
    "credit_recordsource.record_id": ("credit_record", "source {row} names record {missing}"),
    "credit_recordsource.department_id": ("exchange_department", "source {row} names department {missing}"),
    "credit_recordsource.first_batch_id": ("exchange_batch", "source {row} names first batch {missing}"),
    "credit_recordsource.last_batch_id": ("exchange_batch", "source {row} names last batch {missing}"),
    "credit_changefeedentry.record_id": ("credit_record", "feed entry {row} names record {missing}"),
    "credit_changefeedentry.subject_id": ("credit_subject", "feed entry {row} names subject {missing}"),
    "credit_changefeedentry.department_id": ("exchange_department", "feed entry {row} names department {missing}"),
    "credit_changefeedentry.batch_id": ("exchange_batch", "feed entry {row} names batch {missing}"),
    "credit_objection.record_id": ("credit_record", "objection {row} names record {missing}"),
    "credit_objection.subject_id": ("credit_subject", "objection {row} names subject {missing}"),
    "credit_repairrequest.record_id": ("credit_record", "repair request {row} names record {missing}"),
    "credit_repairrequest.subject_id": ("credit_subject", "repair request {row} names subject {missing}"),
}


@pytest.mark.parametrize("reference", REFERENCES)
def test_a_dangling_reference_is_named(store, scjg, reference):
    table, column = reference.split(".")
    target, expected = REFERENCES[reference]
    if table == "credit_recordsource":  # a source no version gives: the new owner's identical row after a transfer
        _damage("""INSERT INTO credit_recordsource (record_id, department_id, first_batch_id, last_batch_id, last_row,
                                                    first_seen_at, last_seen_at)
                   SELECT %(r)s, %(d)s, %(b)s, %(b)s, 1, clock_timestamp(), clock_timestamp()""",
                {"r": store["p1"].id, "d": scjg.id, "b": store["second"].id})
    [(row, missing)] = _damage(
        f"UPDATE {table} SET {column} = (SELECT max(id) + 1000 FROM {target})"
        f" WHERE id = (SELECT max(id) FROM {table} WHERE {column} IS NOT NULL) RETURNING id, {column}")
    assert _problem() == expected.format(row=row, missing=missing) + ", which does not exist"


def test_a_subject_deleted_under_its_records_is_named_at_its_first_record(store):
    subject_id = store["p1"].subject_id
    _damage("DELETE FROM credit_subject WHERE id = %(s)s", {"s": subject_id})
    first = Record.objects.filter(subject_id=subject_id).order_by("id").first()
    assert _problem() == f"record {first.id} names subject {subject_id}, which does not exist"


def test_a_gap_in_a_version_chain_is_named(store):
    p1 = store["p1"]
    _damage("UPDATE credit_recordversion SET version = 3 WHERE record_id = %(r)s AND version = 2", {"r": p1.id})
    assert _problem() == f"record {p1.id} (admin_penalty P-1): version 2 is missing from its history (versions 1, 3)"


def test_a_version_number_twice_is_named(store):
    p1 = store["p1"]
    # versions are partitioned by month (credit 0015): no unique index refuses a number twice across partitions
    _damage("""INSERT INTO credit_recordversion (record_id, version, op, payload, content_hash, batch_id, row,
                                                 department_id, valid_from, valid_to, category)
               SELECT record_id, 1, op, payload, content_hash, batch_id, row + 1000, department_id,
                      valid_from - interval '2 months', valid_to, category
                 FROM credit_recordversion WHERE record_id = %(r)s AND version = 2""", {"r": p1.id})
    assert _problem() == (f"record {p1.id} (admin_penalty P-1): version 1 appears twice in its history "
                          "(versions 1, 1, 2)")


def test_a_batch_row_that_made_two_versions_is_named(store):
    """No unique index keeps (batch, row) unique (versions are partitioned, credit 0015): P-2's withdrawal given
    the row of P-1's update in the same batch leaves every chain and every count whole."""
    p1, p2, second = store["p1"], store["p2"], store["second"]
    _damage("""UPDATE credit_recordversion SET row = (SELECT row FROM credit_recordversion
                                                       WHERE record_id = %(p1)s AND batch_id = %(b)s)
                WHERE record_id = %(p2)s AND batch_id = %(b)s""", {"p1": p1.id, "p2": p2.id, "b": second.id})
    row = _version(p1, 2).row
    assert _problem() == (f"batch {second.id} (HN-STHJ p2): its row {row} made 2 versions (record {p1.id} v2, "
                          f"{p2.id} v2); a batch's row is merged once")


def test_two_open_versions_are_named(store):
    p1 = store["p1"]
    _damage("UPDATE credit_recordversion SET valid_to = NULL WHERE record_id = %(r)s AND version = 1", {"r": p1.id})
    assert _problem() == (f"record {p1.id} (admin_penalty P-1) has 2 open versions (no valid_to); exactly one, "
                          "its last, must be open")


def test_a_withdrawn_record_without_an_open_version_is_named(store):
    p2 = store["p2"]  # a withdrawal is a version too, and stays open
    _damage("UPDATE credit_recordversion SET valid_to = now() WHERE record_id = %(r)s AND version = 2", {"r": p2.id})
    assert _problem() == f"record {p2.id} (admin_penalty P-2) has no open version; its last version must be open"


def test_a_record_whose_current_version_is_not_its_last_is_named(store):
    p1 = store["p1"]
    _damage("UPDATE credit_record SET version = 3 WHERE id = %(r)s", {"r": p1.id})
    assert _problem() == (f"record {p1.id} (admin_penalty P-1) says its current version is 3, but its history ends "
                          "at version 2")


def test_a_version_closed_before_the_next_began_is_named(store):
    p1 = store["p1"]
    closed = _version(p1, 1).valid_to
    _damage("UPDATE credit_recordversion SET valid_to = valid_to - interval '1 hour'"
            " WHERE record_id = %(r)s AND version = 1", {"r": p1.id})
    problem = _problem()
    assert problem.startswith(f"record {p1.id}: version 1 closed at ")
    assert problem.endswith(f", but version 2 began at {closed}; a version closes when the next one begins")


def test_an_open_version_followed_by_another_is_named(store):
    p1 = store["p1"]
    _damage("""UPDATE credit_recordversion SET valid_to = CASE version WHEN 1 THEN NULL ELSE now() END
                WHERE record_id = %(r)s""", {"r": p1.id})
    assert _problem() == f"record {p1.id}: version 1 is open, but version 2 follows it"


@pytest.mark.parametrize(("record", "state", "expected"), [
    ("p1", "withdrawn", "is withdrawn, but its last version 2 does not withdraw it"),
    ("p2", "active", "is active, but its last version 2 withdraws it"),
])
def test_a_state_its_last_version_does_not_give_is_named(store, record, state, expected):
    record = store[record]
    _damage("UPDATE credit_record SET state = %(s)s WHERE id = %(r)s", {"s": state, "r": record.id})
    assert _problem() == f"record {record.id} (admin_penalty {record.natural_key}) {expected}"


def test_content_that_is_not_its_last_versions_is_named(store):
    p1 = store["p1"]
    _damage("""UPDATE credit_record SET payload = payload || '{"content": "警告"}' WHERE id = %(r)s""", {"r": p1.id})
    assert _problem() == f"record {p1.id} (admin_penalty P-1): its content is not that of its last version 2"


def test_a_source_row_of_a_department_whose_versions_came_first_is_named(store):
    """Its versions name the department a source already; a row is only for one none of whose rows made one."""
    p1 = store["p1"]
    [(first_seen_at,)] = _damage("""
        INSERT INTO credit_recordsource (record_id, department_id, first_batch_id, last_batch_id, last_row,
                                         first_seen_at, last_seen_at)
        SELECT record_id, department_id, batch_id, batch_id, row, clock_timestamp(), clock_timestamp()
          FROM credit_recordversion WHERE record_id = %(r)s AND version = 2 RETURNING first_seen_at""", {"r": p1.id})
    began = _version(p1, 1).valid_from
    assert _problem() == (f"record {p1.id}: department {store['sthj'].id} has a source row first seen at "
                          f"{first_seen_at}, but its version 1 began before, at {began}; a source row is only for a "
                          "department none of whose rows had made a version")


def test_a_batch_whose_counts_are_not_its_receipts_is_named(store):
    first = store["first"]
    _damage("UPDATE exchange_batch SET created = created - 1, updated = updated + 1 WHERE id = %(b)s",
            {"b": first.id})
    assert _problem() == f"batch {first.id} (HN-STHJ p1): its receipt counts 3 created, the batch 2"


def test_a_receipt_that_cannot_be_read_is_named(store):
    first = store["first"]
    _damage("UPDATE exchange_batch SET receipt = 'not a receipt' WHERE id = %(b)s", {"b": first.id})
    assert _problem() == f"batch {first.id} (HN-STHJ p1): its receipt cannot be read"


def test_a_rejected_row_without_its_reason_is_named(store):
    first = store["first"]
    _damage("DELETE FROM exchange_batchrejection WHERE batch_id = %(b)s", {"b": first.id})
    assert _problem() == f"batch {first.id} (HN-STHJ p1) counts 1 rejected rows, but 0 rows have a rejection reason"


def test_versions_fewer_than_the_receipt_counts_are_named(store):
    first, second = store["first"], store["second"]
    p3 = Record.objects.get(natural_key="P-3")  # unchanged in the second batch: its row there made no version
    _damage("UPDATE credit_recordversion SET batch_id = %(to)s WHERE record_id = %(r)s AND batch_id = %(b)s",
            {"to": second.id, "r": p3.id, "b": first.id})
    assert _problem() == (f"batch {first.id} (HN-STHJ p1) counts 4 rows created, updated or pending_subject, but "
                          "the store holds 3 versions that upsert from it")


def test_a_batch_pushed_again_after_a_platform_failure_verifies_clean(store):
    """Its first run's versions stay and its rows count unchanged the second time: the store holds more
    versions from it than it counts changed, which is what a restarted batch is allowed."""
    third = ingest(store["sthj"], "admin_penalty", [penalty("P-8", 1), penalty("P-9", 2)], "p3")
    assert third.created == 2
    Batch.objects.filter(pk=third.pk).update(status="failed", failure_code="merge_timeout", failure_reason="超时")
    third.refresh_from_db()
    again, restarted = batch_restart(batch=third)
    assert restarted
    batch_process(batch_id=again.pk)
    again.refresh_from_db()
    assert (again.status, again.unchanged, again.created) == ("completed", 2, 0)
    check = store_verify()
    assert check.ok, check.problem


def test_a_feed_entry_naming_a_missing_version_is_named(store):
    p7 = Record.objects.get(natural_key="P-7")  # attached by its registration: a feed entry, not a version
    [(entry,)] = _damage("UPDATE credit_changefeedentry SET version = 9 WHERE record_id = %(r)s AND version = 1"
                         " RETURNING id", {"r": p7.id})
    assert _problem() == f"feed entry {entry} (updated) names version 9 of record {p7.id}, which does not exist"


def test_a_version_missing_from_the_feed_is_named(store):
    p1, second = store["p1"], store["second"]
    _damage("UPDATE credit_recordversion SET feed_id = NULL WHERE record_id = %(r)s AND version = 2", {"r": p1.id})
    assert _problem() == (f"record {p1.id}: version 2 (upsert, batch {second.id}) has no entry in the change feed")


def test_a_version_older_than_the_feed_on_versions_may_have_no_feed_id(store):
    """Before credit 0013 a version's feed row was an entry; one no entry announced stayed out of the feed."""
    p1 = store["p1"]
    _damage("""UPDATE credit_recordversion SET feed_id = NULL WHERE record_id = %(r)s AND version = 2;
               UPDATE django_migrations SET applied = clock_timestamp()
                WHERE app = 'credit' AND name = '0013_versions_carry_the_feed'""", {"r": p1.id})
    check = store_verify()
    assert check.ok, check.problem


def test_a_feed_id_held_twice_is_named(store):
    p1 = store["p1"]
    [(feed_id,)] = _damage("UPDATE credit_recordversion SET feed_id = (SELECT max(id) FROM credit_changefeedentry)"
                           " WHERE record_id = %(r)s AND version = 2 RETURNING feed_id", {"r": p1.id})
    assert _problem() == f"feed id {feed_id} is held by 1 versions and 1 feed entries; every change has its own"


def test_a_version_in_another_categorys_feed_is_named(store):
    p1 = store["p1"]
    _damage("UPDATE credit_recordversion SET category = 'admin_license' WHERE record_id = %(r)s AND version = 2",
            {"r": p1.id})
    assert _problem() == (f"record {p1.id}: version 2 is in the feed of admin_license, but the record is of "
                          "admin_penalty")


def test_of_two_broken_things_the_first_in_order_is_named(store):
    """References come before version chains, and the lower record before the higher."""
    p1, p2 = store["p1"], store["p2"]
    _damage("UPDATE credit_record SET version = 7 WHERE id IN (%(a)s, %(b)s)", {"a": p1.id, "b": p2.id})
    assert re.match(f"record {p1.id} .* says its current version is 7", _problem())
    [(entry, missing)] = _damage(
        "UPDATE credit_changefeedentry SET batch_id = (SELECT max(id) + 1 FROM exchange_batch)"
        " WHERE id = (SELECT max(id) FROM credit_changefeedentry) RETURNING id, batch_id")
    assert _problem() == f"feed entry {entry} names batch {missing}, which does not exist"

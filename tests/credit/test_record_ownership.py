"""Ownership (exchange-protocol §8): a record belongs to the department whose row created it; another
department's upsert or withdraw of it is a row rejection and leaves the store as it was."""

from __future__ import annotations

import pytest

from credit.models import ChangeFeedItem, Record, RecordSender, RecordVersion, Subject, SubjectAlias
from exchange.models import BatchRejection
from tests.credit.conftest import _department
from tests.credit.factories import ingest, org_code, penalty, registration, uscc

pytestmark = pytest.mark.django_db

OWNED = "record_owned_by_other_department"
ZERO = {"rows": 0, "accepted": 0, "rejected": 0, "created": 0, "updated": 0, "unchanged": 0, "withdrawn": 0,
        "pending_subject": 0}


def counts(**kw):
    return ZERO | kw


def store_snapshot() -> dict:
    """Everything a merge may touch, as plain values."""
    return {
        "subjects": sorted(Subject.objects.values_list("uscc", "name", "registered", "legal_representative",
                                                       "registration")),
        "aliases": sorted(SubjectAlias.objects.values_list("subject__uscc", "kind", "value")),
        "records": sorted(Record.objects.values_list("category", "natural_key", "subject_id", "pending_key", "state",
                                                     "content_hash", "version", "department__code", "is_public",
                                                     "updated_at")),
        "versions": sorted(RecordVersion.objects.values_list("record_id", "version", "batch_id", "valid_to")),
        "sources": sorted(RecordSender.objects.values_list("record_id", "department__code", "last_batch_id")),
        "feed": list(ChangeFeedItem.objects.order_by("id").values_list("id", "kind", "record_id",
                                                                         "department__code")),
    }


def rejections(batch) -> list[tuple]:
    return list(BatchRejection.objects.filter(batch=batch).order_by("row").values_list("row", "field", "code"))


def test_another_departments_update_withdraw_and_identical_row_are_rejected_and_change_nothing(scjg, sthj):
    ingest(sthj, "admin_penalty", [penalty("P-1", 1), penalty("P-2", 1), penalty("P-3", 1)], "own")
    before = store_snapshot()

    batch = ingest(scjg, "admin_penalty", [
        penalty("P-1", 5, content="改为另一家公司"),  # would move the penalty to another company
        {"op": "withdraw", "decision_no": "P-2"},
        penalty("P-3", 1),  # identical to the owner's
        penalty("P-4", 1),  # its own new record
    ], "foreign")

    assert batch.status == "completed"
    assert batch.counts == counts(rows=4, accepted=1, rejected=3, created=1)
    assert rejections(batch) == [(1, "decision_no", OWNED), (2, "decision_no", OWNED), (3, "decision_no", OWNED)]
    message = BatchRejection.objects.filter(batch=batch, row=2).get().message
    assert "HN-STHJ" in message and "P-2" in message
    after = store_snapshot()
    new = Record.objects.get(natural_key="P-4")
    assert new.department == scjg
    for part in before:  # the rejected rows left no trace; P-4 is the only change
        got = after[part]
        if part == "records":
            got = [r for r in got if r[1] != "P-4"]
        elif part in ("versions", "sources"):
            got = [r for r in got if r[0] != new.id]
        elif part == "feed":
            got = [r for r in got if r[2] != new.id]
        assert got == before[part], part
    assert not Subject.objects.filter(uscc=uscc(5)).exists()


def test_the_owner_still_updates_and_withdraws_and_stays_the_owner(scjg, sthj):
    ingest(sthj, "admin_penalty", [penalty("P-1", 1), penalty("P-2", 1)], "own")
    ingest(scjg, "admin_penalty", [penalty("P-1", 1, content="他人更改")], "foreign")
    batch = ingest(sthj, "admin_penalty", [penalty("P-1", 1, content="本部门更正"),
                                           {"op": "withdraw", "decision_no": "P-2"}], "own-2")
    assert batch.counts == counts(rows=2, accepted=2, updated=1, withdrawn=1)
    assert dict(Record.objects.values_list("natural_key", "department__code")) == {"P-1": "HN-STHJ",
                                                                                  "P-2": "HN-STHJ"}
    assert Record.objects.get(natural_key="P-1").payload["content"] == "本部门更正"
    assert Record.objects.get(natural_key="P-2").state == "withdrawn"
    assert set(RecordSender.objects.values_list("department__code", flat=True)) == {"HN-STHJ"}


def test_in_batch_duplicates_of_another_departments_record_count_once_each(scjg, sthj):
    ingest(sthj, "admin_penalty", [penalty("P-1", 1), penalty("P-2", 1)], "own")
    before = store_snapshot()
    batch = ingest(scjg, "admin_penalty", [
        penalty("P-1", 1, content="改"), penalty("P-1", 1, content="改"),  # the second is an in-batch duplicate
        penalty("P-2", 1, content="甲"), penalty("P-2", 1, content="乙"),  # conflicting: rejected already
    ], "foreign")
    assert batch.counts == counts(rows=4, rejected=4)
    assert rejections(batch) == [(1, "decision_no", OWNED), (2, "decision_no", OWNED),
                                 (3, "decision_no", "conflicting_duplicate"),
                                 (4, "decision_no", "conflicting_duplicate")]
    assert store_snapshot() == before


def test_a_pending_subject_record_is_owned_too_and_keeps_its_owner_when_it_attaches(scjg, sthj):
    waiting = penalty("P-7", None, subject_name="湖南测试7有限公司", org_code=org_code(7))
    assert ingest(sthj, "admin_penalty", [waiting], "own").counts == counts(rows=1, accepted=1, pending_subject=1)
    before = store_snapshot()
    foreign = ingest(scjg, "admin_penalty", [dict(waiting, content="他人更改")], "foreign")
    assert foreign.counts == counts(rows=1, rejected=1)
    assert rejections(foreign) == [(1, "decision_no", OWNED)]
    assert store_snapshot() == before

    ingest(scjg, "registration", [registration(7)], "reg")  # the subject arrives: the record attaches
    record = Record.objects.get(natural_key="P-7")
    assert (record.subject.uscc, record.department.code) == (uscc(7), "HN-STHJ")
    attached = ChangeFeedItem.objects.filter(record=record).order_by("id").last()
    assert (attached.kind, attached.department.code) == ("updated", "HN-STHJ")


def test_another_departments_registration_changes_neither_record_nor_subject(scjg):
    xzsp = _department("HN-XZSP", ["registration"])
    ingest(scjg, "registration", [registration(8)], "reg")
    before = store_snapshot()
    batch = ingest(xzsp, "registration", [registration(8, name="湖南冒名8有限公司", legal_representative="赵六")],
                   "foreign")
    assert batch.counts == counts(rows=1, rejected=1)
    assert rejections(batch) == [(1, "uscc", OWNED)]
    assert store_snapshot() == before

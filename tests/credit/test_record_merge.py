"""credit.merge / ingest.pipeline rules, run in-process against real PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection

from credit.identity import id_number_decrypt, id_number_index
from credit.models import (
    ChangeFeedEntry,
    ChangeFeedItem,
    Record,
    RecordSender,
    RecordSource,
    RecordVersion,
    Subject,
    SubjectAlias,
)
from credit.selectors import change_feed_page, record_sources, subject_find, subject_unified_record
from exchange.models import BatchRejection
from exchange.services.departments import records_transfer
from tests.credit.factories import id_number, ingest, org_code, penalty, registration, uscc

pytestmark = pytest.mark.django_db

ZERO = {"rows": 0, "accepted": 0, "rejected": 0, "created": 0, "updated": 0, "unchanged": 0, "withdrawn": 0,
        "pending_subject": 0}


def counts(**kw):
    return ZERO | kw


def test_registration_creates_subject_with_legacy_codes_as_aliases(scjg):
    batch = ingest(scjg, "registration", [registration(1, former_names="湖南旧名1有限公司")], "r1")
    assert batch.status == "completed"
    assert batch.counts == counts(rows=1, accepted=1, created=1)
    subject = Subject.objects.get(uscc=uscc(1))
    assert (subject.name, subject.registered, subject.status) == ("湖南测试1有限公司", True, "active")
    assert set(subject.aliases.values_list("kind", "value")) == {
        ("org_code", org_code(1)), ("registration_no", "430100000000001"), ("former_name", "湖南旧名1有限公司")}
    assert batch.receipt  # issued in the finishing transaction


def test_rule1_legacy_code_row_waits_as_pending_subject_then_attaches(scjg, sthj):
    by_org = penalty("湘环罚〔2025〕1号", subject_name="湖南测试7有限公司", org_code=org_code(7))
    by_reg = penalty("湘环罚〔2025〕2号", subject_name="湖南测试7有限公司", registration_no="430100000000007")
    batch = ingest(sthj, "admin_penalty", [by_org, by_reg], "p1")
    assert batch.counts == counts(rows=2, accepted=2, pending_subject=2)
    pending = Record.objects.order_by("natural_key")
    assert [(r.subject_id, r.pending_key) for r in pending] == [
        (None, f"org_code:{org_code(7)}"), (None, "registration_no:430100000000007")]

    ingest(scjg, "registration", [registration(7)], "r1")
    subject = Subject.objects.get(uscc=uscc(7))
    assert list(Record.objects.filter(category="admin_penalty").values_list("subject_id", "pending_key")) == [
        (subject.id, ""), (subject.id, "")]
    assert ChangeFeedItem.objects.filter(category="admin_penalty", kind="updated").count() == 2
    # a later row by legacy code resolves straight away
    later = penalty("湘环罚〔2025〕3号", subject_name="湖南测试7有限公司", org_code=org_code(7))
    assert ingest(sthj, "admin_penalty", [later], "p2").counts == counts(rows=1, accepted=1, created=1)


def test_rule1_legal_person_with_uscc_but_no_registration_is_created_from_the_row(sthj):
    batch = ingest(sthj, "admin_penalty", [penalty("P-1", 3)], "p1")
    assert batch.counts == counts(rows=1, accepted=1, created=1)
    subject = Subject.objects.get(uscc=uscc(3))
    assert (subject.name, subject.registered) == ("湖南测试3有限公司", False)


def test_rule1_natural_person_by_blind_index_never_stored_in_plain(sthj):
    number = id_number(5)
    row = penalty("P-N1", subject_name="李四", subject_type="natural_person", id_type="resident_id",
                  id_number=number)
    again = penalty("P-N2", subject_name="李四", subject_type="natural_person", id_type="身份证", id_number=number)
    batch = ingest(sthj, "admin_penalty", [row, again], "p1")
    assert batch.counts == counts(rows=2, accepted=2, created=2), list(BatchRejection.objects.values())
    subject = Subject.objects.get(kind="natural_person")
    assert subject.id_number_index == id_number_index(number)
    assert id_number_decrypt(subject.id_number_encrypted) == number
    assert subject.id_number_masked == number[:4] + "*" * 10 + number[-4:]
    assert Record.objects.filter(subject=subject).count() == 2
    with connection.cursor() as cursor:
        for table in ("credit_subject", "credit_record", "credit_recordversion", "credit_changefeedentry",
                      "credit_stagedrow", "exchange_batchrejection", "exchange_exchangelogentry"):
            cursor.execute(f"SELECT count(*) FROM {table} t WHERE t::text LIKE %s", [f"%{number}%"])
            assert cursor.fetchone()[0] == 0, table
    assert subject_find(code=number, by_id_number=True) == subject  # found through the blind index
    assert subject_unified_record(code=number, categories=["admin_penalty"]) is None  # but never from a URL


def test_rule2_name_mismatch_is_flagged_never_split(scjg, sthj):
    ingest(scjg, "registration", [registration(2, name="湖南测试(二)有限公司", former_names="湖南老二有限公司")], "r1")
    rows = [
        penalty("P-1", 2, subject_name="湖南测试（二）有限公司"),  # brackets differ only
        penalty("P-2", 2, subject_name="湖南老二有限公司"),  # a former name
        penalty("P-3", 2, subject_name="完全不同有限公司"),
    ]
    batch = ingest(sthj, "admin_penalty", rows, "p1")
    assert batch.counts == counts(rows=3, accepted=3, created=3)
    assert dict(Record.objects.filter(category="admin_penalty").values_list("natural_key", "name_mismatch")) == {
        "P-1": False, "P-2": False, "P-3": True}
    assert Subject.objects.filter(uscc=uscc(2)).count() == 1
    assert Record.objects.filter(category="admin_penalty", subject__uscc=uscc(2)).count() == 3


def test_rule3_unchanged_updated_withdrawn_with_history(sthj):
    first = ingest(sthj, "admin_penalty", [penalty("P-1", 1), penalty("P-2", 1), penalty("P-3", 1)], "p1")
    assert first.counts == counts(rows=3, accepted=3, created=3)
    second = ingest(sthj, "admin_penalty", [
        penalty("P-1", 1),  # identical
        penalty("P-2", 1, content="警告并责令改正"),  # changed
        {"op": "withdraw", "decision_no": "P-3"},
        {"op": "withdraw", "decision_no": "P-404"},  # unknown record
    ], "p2")
    assert second.counts == counts(rows=4, accepted=3, rejected=1, updated=1, unchanged=1, withdrawn=1)
    assert list(BatchRejection.objects.filter(batch=second).values_list("row", "field", "code")) == [
        (4, "decision_no", "record_not_found")]
    p2 = Record.objects.get(natural_key="P-2")
    assert (p2.version, p2.payload["content"]) == (2, "警告并责令改正")
    versions = list(RecordVersion.objects.filter(record=p2).order_by("version"))
    assert [(v.version, v.batch_id, v.row, v.valid_to is None) for v in versions] == [
        (1, first.id, 2, False), (2, second.id, 2, True)]
    assert versions[0].valid_to == versions[1].valid_from
    p3 = Record.objects.get(natural_key="P-3")
    assert (p3.state, p3.is_public, p3.publicity_reason, p3.version) == ("withdrawn", False, "withdrawn", 2)
    assert RecordVersion.objects.filter(record__natural_key="P-1").count() == 1
    kinds = list(ChangeFeedItem.objects.filter(batch=second).order_by("id").values_list("kind", "record__natural_key"))
    assert kinds == [("updated", "P-2"), ("withdrawn", "P-3")]


def test_rule4_in_batch_duplicates(sthj):
    rows = [penalty("P-1", 1), penalty("P-1", 1), penalty("P-2", 1), penalty("P-2", 1, content="不同"),
            penalty("P-3", 1)]
    batch = ingest(sthj, "admin_penalty", rows, "p1")
    assert batch.counts == counts(rows=5, accepted=3, rejected=2, created=2, unchanged=1)
    assert list(BatchRejection.objects.filter(batch=batch).values_list("row", "field", "code", "message")) == [
        (3, "decision_no", "conflicting_duplicate", "同一批次中与第4行是同一条记录，但内容不同；请核对后只报送一次"),
        (4, "decision_no", "conflicting_duplicate", "同一批次中与第3行是同一条记录，但内容不同；请核对后只报送一次"),
    ]
    assert not Record.objects.filter(natural_key="P-2").exists()


def test_rule5_registration_updates_golden_fields_old_name_becomes_former(scjg):
    ingest(scjg, "registration", [registration(4)], "r1")
    batch = ingest(scjg, "registration", [registration(4, name="湖南新名4有限公司", legal_representative="王五",
                                                        address="长沙市岳麓区")], "r2")
    assert batch.counts == counts(rows=1, accepted=1, updated=1)
    subject = Subject.objects.get(uscc=uscc(4))
    assert (subject.name, subject.legal_representative, subject.address) == ("湖南新名4有限公司", "王五", "长沙市岳麓区")
    assert list(SubjectAlias.objects.filter(subject=subject, kind="former_name").values_list("value", flat=True)) == [
        "湖南测试4有限公司"]


def test_the_same_record_from_another_department_is_rejected_and_sources_stay_the_owner(scjg, sthj):
    ingest(scjg, "admin_penalty", [penalty("P-1", 1)], "a")
    batch = ingest(sthj, "admin_penalty", [penalty("P-1", 1)], "b")  # identical, but not its record
    assert batch.counts == counts(rows=1, rejected=1)
    assert list(BatchRejection.objects.filter(batch=batch).values_list("code", flat=True)) == [
        "record_owned_by_other_department"]
    record = Record.objects.get()
    assert list(RecordSender.objects.filter(record=record).values_list("department__code", flat=True)) == [
        "HN-SCJG"]
    unified = subject_unified_record(code=uscc(1), categories=["admin_penalty"])
    assert unified["records"]["admin_penalty"][0]["sources"] == ["HN-SCJG"]


def test_resubmitting_a_batch_changes_nothing(sthj):
    rows = [penalty("P-1", 1), penalty("P-2", 2)]
    first = ingest(sthj, "admin_penalty", rows, "p1")
    again = ingest(sthj, "admin_penalty", rows, "p1")  # same batch_id, same digest
    assert again.pk == first.pk
    other = ingest(sthj, "admin_penalty", rows, "p1-again")
    assert other.counts == counts(rows=2, accepted=2, unchanged=2)
    assert RecordVersion.objects.count() == 2 and ChangeFeedItem.objects.count() == 2


def test_unified_record_by_legacy_codes_limited_to_categories(scjg):
    ingest(scjg, "registration", [registration(9)], "r1")
    ingest(scjg, "admin_penalty", [penalty("P-9", 9)], "p1")
    for code in (uscc(9), org_code(9), "430100000000009", uscc(9).lower()):
        found = subject_unified_record(code=code, categories=["registration"])
        assert found["subject"]["uscc"] == uscc(9)
        assert list(found["records"]) == ["registration"]
    assert subject_unified_record(code="91430100MA4L00000X", categories=["registration"]) is None


def test_a_new_record_costs_a_record_and_a_version_only(sthj):
    """The version is the record's change-feed entry and names its department a source: no feed row, no
    source row of their own."""
    batch = ingest(sthj, "admin_penalty", [penalty(f"P-{i}", i) for i in (1, 2, 3)], "p1")
    assert batch.counts["created"] == 3
    assert (Record.objects.count(), RecordVersion.objects.count()) == (3, 3)
    assert (ChangeFeedEntry.objects.count(), RecordSource.objects.count()) == (0, 0)
    versions = list(RecordVersion.objects.order_by("row").values_list("feed_id", "category", "subject__uscc"))
    assert [(c, s) for _, c, s in versions] == [("admin_penalty", uscc(i)) for i in (1, 2, 3)]
    items, _ = change_feed_page(categories=["admin_penalty"], cursor=None, limit=10)
    assert [(i["id"], i["kind"], i["natural_key"], i["batch"]) for i in items] == [
        (feed_id, "created", f"P-{i}", batch.id) for i, (feed_id, _, _) in enumerate(versions, start=1)]
    assert record_sources(list(Record.objects.all())) == {r.id: ["HN-STHJ"] for r in Record.objects.all()}


def test_a_new_owners_identical_row_after_a_transfer_is_the_one_source_row(scjg, sthj):
    ingest(sthj, "admin_penalty", [penalty("P-1", 1)], "a")
    records_transfer(from_code="HN-STHJ", to_code="HN-SCJG", category="admin_penalty")
    same = ingest(scjg, "admin_penalty", [penalty("P-1", 1), penalty("P-1", 1)], "b")  # identical, twice
    assert (same.unchanged, same.rejected) == (2, 0)
    record = Record.objects.get()
    assert list(RecordSource.objects.values_list("department__code", "first_batch_id", "last_row")) == [
        ("HN-SCJG", same.id, 1)]
    changed = ingest(scjg, "admin_penalty", [penalty("P-1", 1, content="更正")], "c")
    assert changed.updated == 1 and RecordSource.objects.count() == 1
    assert record_sources([record]) == {record.id: ["HN-STHJ", "HN-SCJG"]}
    assert list(RecordSender.objects.filter(record=record).values_list(
        "department__code", "first_batch_id", "last_batch_id", "last_row")) == [
        ("HN-STHJ", record.versions.get(version=1).batch_id, record.versions.get(version=1).batch_id, 1),
        ("HN-SCJG", same.id, changed.id, 1)]

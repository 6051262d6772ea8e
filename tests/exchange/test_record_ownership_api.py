"""Ownership and authorised rows as two departments see them through the signed exchange API
(exchange-protocol §8): another department's update or withdraw is a row rejection, only the owner
sees and decides objections, a deactivated department is refused, an operator transfers its records,
and `usage_scope = authorized` rows reach no other department."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from credit.models import ChangeFeedItem, Objection, Record, RecordSource, RecordVersion
from exchange.exchange_log import log_verify
from exchange.models import Batch, ExchangeLogEntry
from ingest.pipeline import batch_process
from tests.credit.factories import ndjson, penalty, uscc
from tests.exchange.conftest import SignedClient, _department

pytestmark = pytest.mark.django_db
NDJSON = "application/x-ndjson"


@pytest.fixture
def sthj(db):
    """HN-STHJ: writes licences and penalties, reads penalties and registrations."""
    return _department("HN-STHJ", "湖南省生态环境厅", ["admin_license", "admin_penalty"],
                       ["registration", "admin_penalty"], "hn-sthj-2026")


@pytest.fixture
def as_sthj(client, sthj):
    return SignedClient(client, "hn-sthj-2026")


def push(as_dept, rows: list[dict], batch_id: str, category: str = "admin_penalty") -> dict:
    """Submit through the API, run the pipeline in-process (what the worker would do), return the batch."""
    response = as_dept.post(f"/api/v1/exchange/batches?category={category}&batch_id={batch_id}", ndjson(rows),
                            NDJSON)
    assert response.status_code == 202, response.content
    batch_process(batch_id=response.json()["id"])
    return as_dept.get(f"/api/v1/exchange/batches/{response.json()['id']}").json()


def record_state() -> list[tuple]:
    return sorted(Record.objects.values_list("natural_key", "state", "content_hash", "version", "department__code"))


def test_another_departments_update_and_withdraw_are_rejected_the_owner_still_can(as_sthj, as_scjg):
    push(as_sthj, [penalty("P-1", 1), penalty("P-2", 1)], "own")
    before = (record_state(), RecordVersion.objects.count(), ChangeFeedItem.objects.count())

    foreign = push(as_scjg, [penalty("P-1", 1, content="他人改动"), {"op": "withdraw", "decision_no": "P-2"}], "foreign")
    assert foreign["status"] == "completed"
    assert (foreign["counts"]["rows"], foreign["counts"]["accepted"], foreign["counts"]["rejected"]) == (2, 0, 2)
    rejected = as_scjg.get(f"/api/v1/exchange/batches/{foreign['id']}/rejections").json()["results"]
    assert [(r["row"], r["field"], r["code"]) for r in rejected] == [
        (1, "decision_no", "record_owned_by_other_department"), (2, "decision_no", "record_owned_by_other_department")]
    assert "HN-STHJ" in rejected[0]["message"]
    assert (record_state(), RecordVersion.objects.count(), ChangeFeedItem.objects.count()) == before

    own = push(as_sthj, [penalty("P-1", 1, content="本部门更正"), {"op": "withdraw", "decision_no": "P-2"}], "own-2")
    assert (own["counts"]["updated"], own["counts"]["withdrawn"], own["counts"]["rejected"]) == (1, 1, 0)
    assert [(k, s, d) for k, s, _, _, d in record_state()] == [("P-1", "active", "HN-STHJ"),
                                                               ("P-2", "withdrawn", "HN-STHJ")]


def test_objections_are_listed_and_decided_by_the_owner_only(as_sthj, as_scjg, sthj, scjg):
    push(as_sthj, [penalty("P-1", 1)], "own")
    record = Record.objects.get()
    # another department that once sent the same record (before ownership) is a source, not the owner
    RecordSource.objects.create(record=record, department=scjg, first_batch_id=0, last_batch_id=0, last_row=1,
                                first_seen_at=record.created_at, last_seen_at=record.created_at)
    objection = Objection.objects.create(record=record, subject=record.subject, raised_by="湖南测试1有限公司",
                                         reason="处罚已撤销")
    assert as_scjg.get("/api/v1/exchange/objections").json()["results"] == []
    assert [o["id"] for o in as_sthj.get("/api/v1/exchange/objections").json()["results"]] == [objection.pk]

    path = f"/api/v1/exchange/objections/{objection.pk}/decision"
    body = json.dumps({"decision": "upheld", "reason": "维持原决定"}).encode()
    refused = as_scjg.post(path, body, "application/json")
    assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    assert refused.json()["detail"] == "没有这个异议，或它不涉及本部门报送的记录。"
    objection.refresh_from_db()
    assert objection.status == "open" and not ExchangeLogEntry.objects.filter(kind="objection_decided").exists()

    decided = as_sthj.post(path, body, "application/json")
    assert decided.status_code == 200 and decided.json()["status"] == "upheld"
    again = as_sthj.post(path, body, "application/json")
    assert again.status_code == 409 and again.json()["code"] == "objection_already_decided"
    assert again.json()["title"] == "异议已处理" and "不能再次处理" in again.json()["detail"]


def test_a_deactivated_department_is_refused_and_its_records_wait_for_a_transfer(as_sthj, as_scjg, sthj, scjg):
    push(as_sthj, [penalty("P-1", 1), penalty("P-2", 2)], "own")
    licence = {"subject_name": "湖南测试1有限公司", "subject_type": "legal_person", "uscc": uscc(1),
               "decision_no": "L-1", "license_category": "普通", "content": "排污许可", "decided_on": "2025-06-01",
               "valid_from": "2025-06-01", "authority": "湖南省生态环境厅", "state": "valid",
               "authority_uscc": penalty("x", 1)["authority_uscc"]}
    assert push(as_sthj, [licence], "lic", category="admin_license")["counts"]["created"] == 1
    objection = Objection.objects.create(record=Record.objects.get(natural_key="P-1"), raised_by="某公司", reason="有误")

    out = io.StringIO()
    call_command("deactivate_department", "HN-STHJ", reason="机构改革，职能划入市场监管", stdout=out)
    assert "HN-STHJ" in out.getvalue()
    refused = as_sthj.get("/api/v1/exchange/changes")
    assert refused.status_code == 401 and refused.json()["code"] == "department_inactive"
    assert as_scjg.get("/api/v1/exchange/changes").status_code == 200
    entry = ExchangeLogEntry.objects.get(kind="department_deactivated")
    assert (entry.department_code, entry.payload["reason"]) == ("HN-STHJ", "机构改革，职能划入市场监管")
    # its records stay as they were, and nobody else may change them
    foreign = push(as_scjg, [penalty("P-1", 1, content="改")], "before-transfer")
    assert foreign["counts"]["rejected"] == 1

    gy = _department("HN-GY", "湖南省高级人民法院", ["black_list"], ["black_list"], "hn-gy-2026")
    with pytest.raises(CommandError, match="admin_penalty"):
        call_command("transfer_records", "HN-STHJ", "HN-GY", "--category", "admin_penalty")
    with pytest.raises(CommandError, match="admin_license"):  # every category of its records, by default
        call_command("transfer_records", "HN-STHJ", "HN-GY")
    assert not Record.objects.filter(department=gy).exists()

    out = io.StringIO()
    call_command("transfer_records", "HN-STHJ", "HN-SCJG", "--category", "admin_penalty", stdout=out)
    assert "2" in out.getvalue() and "HN-SCJG" in out.getvalue()
    assert dict(Record.objects.values_list("natural_key", "department__code")) == {
        "P-1": "HN-SCJG", "P-2": "HN-SCJG", "L-1": "HN-STHJ"}
    entry = ExchangeLogEntry.objects.get(kind="records_transferred")
    assert entry.payload == {"from": "HN-STHJ", "to": "HN-SCJG", "category": "admin_penalty", "records": 2,
                             "open_objections": 1}
    assert log_verify().ok

    # the new owner sees the open objection and may now correct the record
    assert [o["id"] for o in as_scjg.get("/api/v1/exchange/objections").json()["results"]] == [objection.pk]
    corrected = push(as_scjg, [penalty("P-1", 1, content="改")], "after-transfer")
    assert (corrected["counts"]["updated"], corrected["counts"]["rejected"]) == (1, 0)


def test_authorized_rows_reach_no_other_department(as_sthj, as_scjg):
    push(as_sthj, [penalty("P-PUBLIC", 1), penalty("P-AUTH", 1, usage_scope="authorized"),
                   penalty("P-SHARED", 1, usage_scope="shared")], "own")
    assert Batch.objects.get().rejected == 0

    subject = as_scjg.get(f"/api/v1/exchange/subjects/{uscc(1)}").json()
    assert sorted(r["natural_key"] for r in subject["records"]["admin_penalty"]) == ["P-PUBLIC", "P-SHARED"]
    owner_view = as_sthj.get(f"/api/v1/exchange/subjects/{uscc(1)}").json()
    assert sorted(r["natural_key"] for r in owner_view["records"]["admin_penalty"]) == [
        "P-AUTH", "P-PUBLIC", "P-SHARED"]

    feed = [e.id for e in ChangeFeedItem.objects.order_by("id")]
    page = as_scjg.get("/api/v1/exchange/changes?category=admin_penalty&limit=1").json()
    assert [i["natural_key"] for i in page["results"]] == ["P-PUBLIC"]
    page = as_scjg.get(f"/api/v1/exchange/changes?category=admin_penalty&limit=1&cursor={page['next_cursor']}").json()
    assert [i["natural_key"] for i in page["results"]] == ["P-SHARED"]
    assert page["next_cursor"] == str(feed[2])  # past the authorised row's entry
    page = as_scjg.get(f"/api/v1/exchange/changes?category=admin_penalty&cursor={page['next_cursor']}").json()
    assert page == {"results": [], "next_cursor": str(feed[2])}
    owner_feed = as_sthj.get("/api/v1/exchange/changes?category=admin_penalty").json()
    assert [i["natural_key"] for i in owner_feed["results"]] == ["P-PUBLIC", "P-AUTH", "P-SHARED"]


def test_a_changes_page_of_hidden_rows_only_still_moves_the_cursor(as_sthj, as_scjg):
    push(as_sthj, [penalty(f"P-{i}", 1, usage_scope="authorized") for i in range(3)], "own")
    last = ChangeFeedItem.objects.order_by("id").last().id
    page = as_scjg.get("/api/v1/exchange/changes?category=admin_penalty&limit=2").json()
    assert page["results"] == [] and int(page["next_cursor"]) == last

"""Credit repair (portal.md §4): an enterprise files a request (credit/repairs.py), the department that
supplied the record lists and decides it through the signed exchange API (`GET repairs`, `POST
repairs/{id}/decision`, both in the exchange log); approval ends publicity that day with `publicity_ended`
in the change feed, and the record and its history stay."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from credit.models import ChangeFeedItem, Record, RecordVersion, RepairRequest
from credit.publicity import add_duration
from credit.refusals import Invalid, NotFound, Refused
from credit.repairs import repair_file
from exchange.exchange_log import log_verify
from exchange.models import ExchangeLogEntry
from tests.credit.factories import authority_uscc, ingest, penalty

pytestmark = pytest.mark.django_db
JSON = "application/json"


def _ago(days: int) -> str:
    return (timezone.localdate() - dt.timedelta(days=days)).isoformat()


@pytest.fixture
def penalties(scjg):
    ingest(scjg, "admin_penalty", [
        penalty("P-OLD", 1, decided_on=_ago(120)),  # general: 3 months passed
        penalty("P-NEW", 1, decided_on=_ago(30)),
        penalty("P-SERIOUS", 1, decided_on=_ago(120), severity="serious"),  # serious: 6 months not yet
        penalty("P-SIMPLE", 1, decided_on=_ago(120), procedure="simple"),  # never public
        penalty("P-OTHER", 2, decided_on=_ago(120)),
    ], "p1")
    return {r.natural_key: r for r in Record.objects.all()}


def file(record, **kw) -> RepairRequest:
    return repair_file(subject=record.subject, record_id=record.id, **({"reason": "已整改完毕并缴纳罚款",
                                                                         "commitment": True, "filed_by": "portal:张三"}
                                                                        | kw))


def refusal(record, **kw) -> Refused:
    with pytest.raises(Refused) as refused:
        file(record, **kw)
    return refused.value


def test_too_early_answers_the_earliest_day_general_and_serious(penalties):
    new, serious = penalties["P-NEW"], penalties["P-SERIOUS"]
    early = refusal(new)
    assert (early.code, early.extra) == ("repair_too_early",
                                         {"earliest": add_duration(dt.date.fromisoformat(_ago(30)), "P3M").isoformat()})
    early = refusal(serious)
    assert (early.code, early.extra) == ("repair_too_early",
                                         {"earliest": add_duration(dt.date.fromisoformat(_ago(120)), "P6M").isoformat()})
    assert not RepairRequest.objects.exists()


def test_not_public_or_another_category_is_not_applicable(penalties, scjg):
    assert refusal(penalties["P-SIMPLE"]).code == "repair_not_applicable"
    licence = {"subject_name": "湖南测试1有限公司", "subject_type": "legal_person", "uscc": penalties["P-OLD"].subject.uscc,
               "decision_no": "湘许〔2024〕7号", "license_category": "普通", "content": "食品经营许可",
               "decided_on": _ago(120), "valid_from": _ago(120), "authority": "长沙市市场监督管理局",
               "authority_uscc": authority_uscc(), "state": "valid"}
    assert ingest(scjg, "admin_license", [licence], "l1").counts["created"] == 1
    assert refusal(Record.objects.get(category="admin_license")).code == "repair_not_applicable"
    assert not RepairRequest.objects.exists()


def test_commitment_required_one_open_request_and_own_records_only(penalties):
    old = penalties["P-OLD"]
    with pytest.raises(Invalid) as refused:
        file(old, commitment=False)
    assert refused.value.code == "commitment_required"
    with pytest.raises(NotFound):
        repair_file(subject=penalties["P-OTHER"].subject, record_id=old.id, reason="理由", commitment=True,
                    filed_by="portal:李四")
    first = file(old)
    assert first.status == "open"
    assert refusal(old).code == "repair_open"
    assert RepairRequest.objects.count() == 1


def test_the_owner_lists_and_approves_publicity_ends_today_history_stays(penalties, as_scjg, as_gy):
    old = penalties["P-OLD"]
    repair = file(old)
    versions_before = list(RecordVersion.objects.filter(record=old).values_list("version", "payload"))

    assert as_gy.get("/api/v1/exchange/repairs?status=open").json()["results"] == []
    listing = as_scjg.get("/api/v1/exchange/repairs?status=open").json()
    assert [(r["id"], r["record"], r["status"], r["commitment"]) for r in listing["results"]] == [
        (repair.pk, old.id, "open", True)]
    assert ExchangeLogEntry.objects.filter(kind="repairs_listed", department_code="HN-SCJG",
                                           payload__repairs=[repair.pk]).count() == 1

    path = f"/api/v1/exchange/repairs/{repair.pk}/decision"
    body = json.dumps({"decision": "approved", "reason": "已履行处罚决定，准予修复"}).encode()
    assert as_gy.post(path, body, JSON).status_code == 404  # not its record
    old.refresh_from_db()
    assert old.is_public
    answer = as_scjg.post(path, body, JSON)
    assert answer.status_code == 200, answer.content
    assert (answer.json()["status"], answer.json()["decision_reason"]) == ("approved", "已履行处罚决定，准予修复")

    old.refresh_from_db()
    assert (old.is_public, old.publicity_reason, old.repaired_at, old.state) == (
        False, "repaired", timezone.localdate(), "active")
    assert list(RecordVersion.objects.filter(record=old).values_list("version", "payload")) == versions_before
    assert list(ChangeFeedItem.objects.filter(kind="publicity_ended").values_list("record_id", flat=True)) == [old.id]
    entry = ExchangeLogEntry.objects.get(kind="repair_decided")
    assert (entry.department_code, entry.payload["repair"], entry.payload["decision"]) == (
        "HN-SCJG", repair.pk, "approved")
    assert log_verify().ok

    again = as_scjg.post(path, body, JSON)
    assert again.status_code == 409 and again.json()["code"] == "repair_already_decided"
    assert as_scjg.get("/api/v1/exchange/repairs?status=open").json()["results"] == []


def test_rejection_keeps_the_record_public(penalties, as_scjg):
    old = penalties["P-OLD"]
    repair = file(old)
    body = json.dumps({"decision": "rejected", "reason": "尚未履行"}).encode()
    answer = as_scjg.post(f"/api/v1/exchange/repairs/{repair.pk}/decision", body, JSON)
    assert answer.status_code == 200 and answer.json()["status"] == "rejected"
    old.refresh_from_db()
    assert (old.is_public, old.repaired_at) == (True, None)
    assert not ChangeFeedItem.objects.filter(kind="publicity_ended").exists()
    assert file(old).status == "open"  # a rejected request leaves room for a new one


@pytest.mark.parametrize("query, body", [("?status=maybe", None), ("?cursor=x", None)])
def test_bad_listing_queries(as_scjg, query, body):
    answer = as_scjg.get(f"/api/v1/exchange/repairs{query}")
    assert answer.status_code == 400 and answer.json()["code"] in {"invalid_request", "invalid_cursor"}


def test_bad_decisions(penalties, as_scjg):
    repair = file(penalties["P-OLD"])
    bad = as_scjg.post(f"/api/v1/exchange/repairs/{repair.pk}/decision", b'{"decision": "maybe"}', JSON)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_request"
    missing = as_scjg.post(f"/api/v1/exchange/repairs/{2**63}/decision",
                           b'{"decision": "approved", "reason": "x"}', JSON)
    assert missing.status_code == 404
    repair.refresh_from_db()
    assert repair.status == "open"

"""portal.md §2 through the API: every record of the account's subject with every field, and nothing of another's."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from credit.models import Objection, Record, RecordVersion, RepairRequest
from portal.models import PortalAuditEvent
from tests.credit.factories import ingest, penalty
from tests.portal.conftest import bearer, make_account
from tests.portal.test_pages import sign_in

pytestmark = pytest.mark.django_db

RECORDS = "/api/v1/portal/records"


@pytest.fixture
def first_headers(client, enterprises):
    return bearer(client, make_account(enterprises[0].uscc, "first@example.cn"))


def by_no(records: list[dict]) -> dict[str, dict]:
    return {r["data"]["decision_no"]: r for r in records if r["category"] == "admin_penalty"}


def test_every_record_public_or_not_with_why(client, enterprises, first_headers):
    first, _ = enterprises
    response = client.get(RECORDS, **first_headers)
    assert response.status_code == 200
    body = response.json()
    assert body["subject"]["uscc"] == first.uscc and body["subject"]["name"] == first.name
    records = by_no(body["records"])
    assert {no: (r["public"], r["not_public_reason"]) for no, r in records.items()} == {
        "P-PUBLIC": (True, None),
        "P-SIMPLE": (False, "simple_procedure"),
        "P-SHARED": (False, "usage_scope_shared"),
        "P-AUTHORIZED": (False, "usage_scope_authorized"),
        "P-ENDED": (False, "publicity_ended"),
        "P-WITHDRAWN": (False, "withdrawn"),
        "P-NOT-YET": (False, "not_yet_public"),
        "P-REPAIRED": (False, "repaired"),
    }
    assert [r["category"] for r in body["records"]].count("registration") == 1
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_record_has_every_field_of_the_contract(client, enterprises, first_headers):
    first, _ = enterprises
    record = Record.objects.get(pk=first.records["P-PUBLIC"])
    objection = Objection.objects.create(record=record, subject=first.subject, raised_by="企业", reason="有误")
    shown = by_no(client.get(RECORDS, **first_headers).json()["records"])["P-PUBLIC"]
    assert set(shown) >= {"id", "category", "data", "public", "not_public_reason", "publicity_until", "department",
                          "versions", "objection", "repair"}
    assert shown["id"] == record.pk and shown["category"] == "admin_penalty"
    assert shown["data"] == record.payload and shown["data"]["content"] == "罚款一万元"  # the current version
    assert shown["publicity_until"] == record.publicity_until.isoformat()
    assert shown["department"] == {"code": "HN-SCJG", "name": "湖南省市场监督管理局"}
    assert [(v["version"], v["op"]) for v in shown["versions"]] == [(1, "upsert"), (2, "upsert")]
    assert shown["versions"][0]["data"]["content"] == "警告" and shown["versions"][1]["data"]["content"] == "罚款一万元"
    assert all(v["valid_from"] for v in shown["versions"])
    assert shown["objection"] == {"id": objection.pk, "status": "open"}
    assert shown["repair"] is None


def test_the_latest_repair_request_is_shown(client, enterprises, first_headers):
    first, _ = enterprises
    record = Record.objects.get(pk=first.records["P-PUBLIC"])
    RepairRequest.objects.create(record=record, subject=first.subject, filed_by="x", reason="已整改",
                                 commitment=True, status="rejected", decision_reason="未满期限",
                                 decided_at=record.updated_at)
    latest = RepairRequest.objects.create(record=record, subject=first.subject, filed_by="x", reason="再次申请",
                                          commitment=True)
    shown = by_no(client.get(RECORDS, **first_headers).json()["records"])["P-PUBLIC"]
    assert shown["repair"] == {"id": latest.pk, "status": "open"}


def test_withdrawn_and_authorised_records_keep_their_whole_history(client, enterprises, first_headers):
    first, _ = enterprises
    records = by_no(client.get(RECORDS, **first_headers).json()["records"])
    assert [v["op"] for v in records["P-WITHDRAWN"]["versions"]] == ["upsert", "withdraw"]
    # a department other than the owner would not see this version; the subject itself does
    assert len(records["P-AUTHORIZED"]["versions"]) == RecordVersion.objects.filter(
        record_id=first.records["P-AUTHORIZED"]).count() == 1


def test_category_filter(client, enterprises, first_headers):
    body = client.get(RECORDS, {"category": "registration"}, **first_headers).json()
    assert [r["category"] for r in body["records"]] == ["registration"]
    assert client.get(RECORDS, {"category": "red_list"}, **first_headers).json()["records"] == []


def test_unknown_category_is_a_problem(client, enterprises, first_headers):
    response = client.get(RECORDS, {"category": "nonsense"}, **first_headers)
    assert response.status_code == 400 and response.json()["code"] == "unknown_category"


def test_reading_is_audited(client, enterprises, first_headers):
    first, _ = enterprises
    client.get(RECORDS, {"category": "admin_penalty"}, **first_headers)
    event = PortalAuditEvent.objects.get(action="records_viewed")
    assert event.subject == first.subject and event.ip == "127.0.0.1" and event.detail["category"] == "admin_penalty"


def test_more_records_versions_and_requests_add_no_statement(client, enterprises, first_headers, department):
    """Own records are read set-based, on the API and the page alike: a subject with four times the records,
    more versions, objections and repair requests is read in as many SQL statements (no query per record)."""
    first, _ = enterprises
    pages = Client()
    assert sign_in(pages, make_account(first.uscc, "web@example.cn")).status_code == 302

    def statements() -> tuple[int, int]:
        counted = []
        for reader, path, headers in ((client, RECORDS, first_headers), (pages, "/portal/records", {})):
            with CaptureQueriesContext(connection) as queries:
                assert reader.get(path, **headers).status_code == 200
            counted.append(len(queries.captured_queries))
        return tuple(counted)

    before = statements()
    ingest(department, "admin_penalty", [penalty(f"P-MORE-{i}", 1) for i in range(30)], "more-1")
    ingest(department, "admin_penalty", [penalty(f"P-MORE-{i}", 1, content="罚款五千元") for i in range(0, 30, 3)],
           "more-2")
    for record in Record.objects.filter(natural_key__contains="P-MORE-")[:5]:
        Objection.objects.create(record=record, subject=first.subject, raised_by="x", reason="事实有误")
        RepairRequest.objects.create(record=record, subject=first.subject, filed_by="x", reason="已整改",
                                     commitment=True)
    assert len(client.get(RECORDS, **first_headers).json()["records"]) == len(first.records) + 1 + 30
    assert statements() == before


def test_one_subjects_token_never_reads_anothers_records(client, enterprises, first_headers):
    first, second = enterprises
    second_headers = bearer(client, make_account(second.uscc, "second@example.cn"))
    theirs = client.get(RECORDS, **second_headers).json()
    assert theirs["subject"]["uscc"] == second.uscc
    assert {r["id"] for r in theirs["records"] if r["category"] == "admin_penalty"} == {second.records["P-OTHER"]}
    assert not {r["id"] for r in theirs["records"]} & set(first.records.values())
    ours = client.get(RECORDS, **first_headers).json()
    assert second.records["P-OTHER"] not in {r["id"] for r in ours["records"]}

"""portal.md §3–§5 through the portal API: objections, credit repair and authorisations, every answer of the
contract, each action audited. A second enterprise's token and session: tests/portal/test_isolation.py."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.utils import timezone
from PIL import Image

from credit.models import Authorization, Objection, Record, RepairRequest
from credit.objections import objection_evidence_read
from credit.publicity import add_duration
from exchange.services.objections import objection_decide
from portal.models import PortalAuditEvent
from tests.portal.conftest import bearer, make_account

pytestmark = pytest.mark.django_db
API = "/api/v1/portal/"
REASON = "处罚决定书记载的违法事实有误，请核实更正。"


@pytest.fixture
def accounts(client, enterprises):
    first, second = enterprises
    return (bearer(client, make_account(first.uscc, "first@example.cn")),
            bearer(client, make_account(second.uscc, "second@example.cn")))


def post(client, path: str, body: dict, headers: dict):
    return client.post(API + path, json.dumps(body), content_type="application/json", **headers)


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    return response.json()


def _ago(days: int) -> str:
    return (timezone.localdate() - dt.timedelta(days=days)).isoformat()


# --- objections (§3) ------------------------------------------------------------------------------------------

def test_file_an_objection_then_see_the_departments_decision(client, enterprises, accounts, department):
    first, _ = enterprises
    headers, _ = accounts
    record = first.records["P-PUBLIC"]
    filed = post(client, "objections", {"record": record, "reason": REASON}, headers)
    assert filed.status_code == 201, filed.content
    body = filed.json()
    assert (body["status"], body["record"]) == ("open", record)
    assert dt.date.fromisoformat(body["due_on"]) > timezone.localdate()
    objection = Objection.objects.get(pk=body["id"])
    assert "first@example.cn" in objection.raised_by and first.name in objection.raised_by

    problem(post(client, "objections", {"record": record, "reason": REASON}, headers), 409, "objection_open")

    objection_decide(department=department, objection_id=objection.pk, decision="corrected", reason="已更正违法事实")
    listed = client.get(API + "objections", **headers).json()["results"]
    assert [(o["id"], o["status"], o["decision"], o["decision_reason"]) for o in listed] == [
        (objection.pk, "corrected", "corrected", "已更正违法事实")]
    assert listed[0]["decided_at"]
    assert client.get(f"{API}objections/{objection.pk}", **headers).json()["status"] == "corrected"
    actions = list(PortalAuditEvent.objects.filter(email="first@example.cn").values_list("action", flat=True))
    assert actions.count("objection_filed") == 1 and "request_refused" in actions and "objections_viewed" in actions


def test_objection_refusals(client, enterprises, accounts):
    first, second = enterprises
    headers, _ = accounts
    problem(post(client, "objections", {"record": first.records["P-PUBLIC"], "reason": "太短"}, headers),
            400, "invalid_reason")
    problem(post(client, "objections", {"record": second.records["P-OTHER"], "reason": REASON}, headers),
            404, "not_found")
    problem(post(client, "objections", {"record": "x", "reason": REASON}, headers), 400, "invalid_request")
    assert not Objection.objects.exists()
    assert client.get(API + "objections").status_code == 401


def test_evidence_by_multipart_checked_by_content(client, enterprises, accounts):
    first, _ = enterprises
    headers, _ = accounts
    png = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(png, format="PNG")
    fake = io.BytesIO(b"MZ\x90\x00 not a picture")
    fake.name = "scan.png"
    refused = client.post(API + "objections", {"record": first.records["P-PUBLIC"], "reason": REASON,
                                               "evidence": fake}, **headers)
    problem(refused, 400, "evidence_type_not_allowed")
    upload = io.BytesIO(png.getvalue())
    upload.name = "evidence.bin"  # the name says nothing: the content is a PNG
    filed = client.post(API + "objections", {"record": first.records["P-PUBLIC"], "reason": REASON,
                                             "evidence": upload}, **headers)
    assert filed.status_code == 201, filed.content
    objection = Objection.objects.get(pk=filed.json()["id"])
    assert (objection.evidence_type, filed.json()["evidence"]) == ("image/png", "image/png")
    assert objection_evidence_read(objection) == png.getvalue()


# --- credit repair (§4) ---------------------------------------------------------------------------------------

def test_repair_answers(client, enterprises, accounts, department):
    from tests.credit.factories import ingest, penalty

    first, _ = enterprises
    headers, _ = accounts
    ingest(department, "admin_penalty", [penalty("P-OLD", 1, decided_on=_ago(200)),
                                         penalty("P-OLD-SERIOUS", 1, decided_on=_ago(120), severity="serious")], "old")
    old = Record.objects.get(natural_key="P-OLD").pk
    serious = Record.objects.get(natural_key="P-OLD-SERIOUS").pk
    ok = {"reason": "已全部履行处罚决定并完成整改", "commitment": True}

    early = problem(post(client, "repairs", {"record": first.records["P-PUBLIC"], **ok}, headers), 409,
                    "repair_too_early")
    assert early["earliest"] == add_duration(dt.date.fromisoformat(_ago(30)), "P3M").isoformat()  # general
    serious_early = problem(post(client, "repairs", {"record": serious, **ok}, headers), 409, "repair_too_early")
    assert serious_early["earliest"] == add_duration(dt.date.fromisoformat(_ago(120)), "P6M").isoformat()
    problem(post(client, "repairs", {"record": first.records["P-SIMPLE"], **ok}, headers), 409, "repair_not_applicable")
    problem(post(client, "repairs", {"record": Record.objects.get(category="registration", subject=first.subject).pk,
                                     **ok}, headers), 409, "repair_not_applicable")
    problem(post(client, "repairs", {"record": old, "reason": ok["reason"], "commitment": False}, headers), 400,
            "commitment_required")
    problem(post(client, "repairs", {"record": old, "reason": ok["reason"]}, headers), 400, "invalid_request")

    filed = post(client, "repairs", {"record": old, **ok}, headers)
    assert filed.status_code == 201 and filed.json()["status"] == "open"
    problem(post(client, "repairs", {"record": old, **ok}, headers), 409, "repair_open")
    assert RepairRequest.objects.count() == 1
    listed = client.get(API + "repairs", **headers).json()["results"]
    assert [(r["id"], r["status"]) for r in listed] == [(filed.json()["id"], "open")]


# --- authorisations (§5) --------------------------------------------------------------------------------------

def test_grant_list_and_revoke(client, enterprises, accounts):
    headers, _ = accounts
    until = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    granted = post(client, "authorizations", {"department": "HN-SCJG", "until": until}, headers)
    assert granted.status_code == 201, granted.content
    body = granted.json()
    assert (body["department"]["code"], body["until"], body["status"]) == ("HN-SCJG", until, "current")
    assert [a["id"] for a in client.get(API + "authorizations", **headers).json()["results"]] == [body["id"]]

    revoked = client.delete(f"{API}authorizations/{body['id']}", **headers)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert Authorization.objects.get(pk=body["id"]).revoked_at is not None

    problem(post(client, "authorizations", {"department": "HN-NOPE", "until": until}, headers), 400,
            "unknown_department")
    problem(post(client, "authorizations", {"department": "HN-SCJG", "until": _ago(1)}, headers), 400, "invalid_until")
    problem(post(client, "authorizations", {"department": "HN-SCJG", "until": "tomorrow"}, headers), 400,
            "invalid_request")
    assert list(PortalAuditEvent.objects.filter(action__startswith="authorization_").values_list("action", flat=True)
                .order_by("id")) == ["authorization_granted", "authorization_revoked"]

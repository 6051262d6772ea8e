"""The portal's pages for objections, credit repair, authorisations and credit reports (portal.md §3–§6):
each form files through the same services as the API, refusals are shown in words with the API's status,
and one subject's pages never show or touch another's objects."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.test import Client
from django.utils import timezone
from PIL import Image

from credit.models import Authorization, CreditReport, Objection, RepairRequest
from exchange.services.objections import objection_decide
from tests.portal.conftest import make_account
from tests.portal.test_pages import sign_in

pytestmark = pytest.mark.django_db
REASON = "处罚决定书记载的违法事实有误，请核实更正。"


@pytest.fixture
def first_client(client, enterprises):
    assert sign_in(client, make_account(enterprises[0].uscc, "first@example.cn")).status_code == 302
    return client


@pytest.fixture
def second_client(enterprises):
    other = Client()
    assert sign_in(other, make_account(enterprises[1].uscc, "second@example.cn")).status_code == 302
    return other


def test_pages_need_a_signed_in_account(client, enterprises):
    for path in ("/portal/objections", "/portal/repairs", "/portal/authorizations", "/portal/report"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/portal/login"), path


def test_file_an_objection_with_evidence_and_see_the_decision(first_client, enterprises, department):
    first, _ = enterprises
    record = first.records["P-PUBLIC"]
    form = first_client.get(f"/portal/objections?record={record}")
    assert form.status_code == 200 and f'value="{record}"' in form.content.decode()
    png = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(png, format="PNG")
    png.seek(0)
    png.name = "scan.png"
    response = first_client.post("/portal/objections", {"record": record, "reason": REASON, "evidence": png})
    assert response.status_code == 302
    objection = Objection.objects.get()
    assert (objection.record_id, objection.evidence_type) == (record, "image/png")

    again = first_client.post("/portal/objections", {"record": record, "reason": REASON})
    assert again.status_code == 409 and "已有一件未处理的异议" in again.content.decode()

    objection_decide(department=department, objection_id=objection.pk, decision="corrected", reason="已更正违法事实")
    html = first_client.get("/portal/objections").content.decode()
    assert "已更正" in html and "已更正违法事实" in html and objection.due_on.isoformat() in html


def test_refusals_in_words(first_client, enterprises):
    first, second = enterprises
    short = first_client.post("/portal/objections", {"record": first.records["P-PUBLIC"], "reason": "太短"})
    assert short.status_code == 400 and "10–2000" in short.content.decode()
    foreign = first_client.post("/portal/objections", {"record": second.records["P-OTHER"], "reason": REASON})
    assert foreign.status_code == 404
    early = first_client.post("/portal/repairs", {"record": first.records["P-PUBLIC"], "reason": "已整改",
                                                  "commitment": "true"})
    assert early.status_code == 409 and "最早可申请日期" in early.content.decode()
    uncommitted = first_client.post("/portal/repairs", {"record": first.records["P-PUBLIC"], "reason": "已整改"})
    assert uncommitted.status_code == 400 and "信用承诺" in uncommitted.content.decode()
    assert not Objection.objects.exists() and not RepairRequest.objects.exists()


def test_grant_and_revoke_an_authorisation(first_client, second_client, enterprises):
    until = (timezone.localdate() + dt.timedelta(days=10)).isoformat()
    assert first_client.post("/portal/authorizations", {"department": "hn-scjg", "until": until}).status_code == 302
    authorization = Authorization.objects.get()
    assert authorization.department.code == "HN-SCJG"
    assert "湖南省市场监督管理局" in first_client.get("/portal/authorizations").content.decode()

    assert second_client.post(f"/portal/authorizations/{authorization.pk}/revoke").status_code == 404
    assert "湖南省市场监督管理局" not in second_client.get("/portal/authorizations").content.decode()
    authorization.refresh_from_db()
    assert authorization.revoked_at is None

    assert first_client.post(f"/portal/authorizations/{authorization.pk}/revoke").status_code == 302
    authorization.refresh_from_db()
    assert authorization.revoked_at is not None
    assert "已撤销" in first_client.get("/portal/authorizations").content.decode()


def test_an_own_report_downloads_as_pdf(first_client, enterprises):
    assert first_client.get("/portal/report").status_code == 200
    response = first_client.post("/portal/report", {"scope": "own"})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert CreditReport.objects.get().number == response["Report-Number"]


def test_another_subjects_objections_are_not_shown(first_client, second_client, enterprises):
    first, _ = enterprises
    first_client.post("/portal/objections", {"record": first.records["P-PUBLIC"], "reason": REASON})
    assert Objection.objects.count() == 1
    assert REASON not in second_client.get("/portal/objections").content.decode()


def test_the_records_page_links_each_record_to_its_forms(first_client, enterprises):
    first, _ = enterprises
    html = first_client.get("/portal/records").content.decode()
    assert f'/portal/objections?record={first.records["P-PUBLIC"]}' in html
    assert f'/portal/repairs?record={first.records["P-PUBLIC"]}' in html
    assert f'/portal/repairs?record={first.records["P-SIMPLE"]}' not in html  # not public: no repair

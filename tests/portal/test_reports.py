"""Credit reports (portal.md §6): a PDF whose text extracts (the CJK font embedded), page one naming the
number, the subject and its USCC, the issue time and the scope; `public` exactly what the public site shows,
`own` every record with its publicity state; the digest and a JWS kept; anyone verifies a copy by its
number (API and page), an unknown number is 404 and a changed byte gives another digest."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from pypdf import PdfReader

from credit.models import CreditReport, Objection, Record
from exchange.jws import jws_verify
from exchange.platform_keys import jwks
from portal.models import PortalAuditEvent
from tests.portal.conftest import bearer, make_account

# the public site's reads (the `public` alias, its own connection) see committed rows only
pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "public"])
REPORT = "/api/v1/portal/report"


@pytest.fixture
def first(client, enterprises):
    account = make_account(enterprises[0].uscc, "first@example.cn")
    return enterprises[0], bearer(client, account)


def text_of(pdf: bytes) -> tuple[str, str]:
    """Page one's text and the whole document's (spaces and line breaks removed)."""
    pages = [re.sub(r"\s+", "", page.extract_text()) for page in PdfReader(io.BytesIO(pdf)).pages]
    return pages[0], "".join(pages)


def test_public_report_pdf_text_digest_and_signature(client, first):
    enterprise, headers = first
    response = client.get(REPORT, **headers)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    number, pdf = response["Report-Number"], response.content
    assert re.fullmatch(r"CR[0-9A-Z]{20}", number)
    page_one, everything = text_of(pdf)
    for expected in (number, enterprise.name, enterprise.uscc, "公开信息版"):
        assert expected in page_one
    assert "P-PUBLIC" in everything  # the only public penalty; none of the others
    for hidden in ("P-SIMPLE", "P-SHARED", "P-AUTHORIZED", "P-ENDED", "P-WITHDRAWN", "P-NOT-YET", "P-REPAIRED"):
        assert hidden not in everything

    report = CreditReport.objects.get(number=number)
    assert (report.subject_id, report.scope) == (enterprise.subject.pk, "public")
    assert report.sha256 == hashlib.sha256(pdf).hexdigest()
    keys = {k["kid"]: k for k in jwks()["keys"]}
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from exchange.jws import b64url_decode, jws_header

    kid = jws_header(report.jws)["kid"]
    claims = jws_verify(report.jws, {kid: Ed25519PublicKey.from_public_bytes(b64url_decode(keys[kid]["x"]))})
    assert (claims["number"], claims["sha256"], claims["scope"], claims["uscc"]) == (
        number, report.sha256, "public", enterprise.uscc)
    assert PortalAuditEvent.objects.filter(action="report_issued", detail__report=number).count() == 1


def test_own_report_has_every_record_with_its_publicity_state(client, first):
    enterprise, headers = first
    response = client.get(f"{REPORT}?scope=own", **headers)
    assert response.status_code == 200
    page_one, everything = text_of(response.content)
    assert "企业自查版" in page_one
    for no in ("P-PUBLIC", "P-SIMPLE", "P-SHARED", "P-AUTHORIZED", "P-ENDED", "P-WITHDRAWN", "P-NOT-YET", "P-REPAIRED"):
        assert no in everything
    assert "P-OTHER" not in everything  # the other enterprise's
    assert "向社会公示中" in everything and "适用简易程序" in everything and "已完成信用修复" in everything


def test_public_report_marks_a_record_under_objection(client, first):
    enterprise, headers = first
    record = Record.objects.get(pk=enterprise.records["P-PUBLIC"])
    Objection.objects.create(record=record, subject=enterprise.subject, raised_by="甲", reason="处罚决定已撤销")
    _, everything = text_of(client.get(REPORT, **headers).content)
    assert "该信息正在异议处理中" in everything


def test_an_unknown_scope_is_refused(client, first):
    _, headers = first
    response = client.get(f"{REPORT}?scope=all", **headers)
    assert response.status_code == 400 and response.json()["code"] == "invalid_scope"
    assert not CreditReport.objects.exists()


def test_anyone_verifies_a_report_by_its_number_api_and_page(client, first):
    enterprise, headers = first
    response = client.get(REPORT, **headers)
    number, pdf = response["Report-Number"], response.content
    client.logout()
    verified = client.get(f"/api/v1/public/reports/{number}")
    assert verified.status_code == 200
    assert verified.json() == {"number": number, "uscc": enterprise.uscc, "name": enterprise.name, "scope": "public",
                               "issued_at": CreditReport.objects.get(number=number).issued_at.isoformat(),
                               "sha256": hashlib.sha256(pdf).hexdigest()}
    changed = bytearray(pdf)
    changed[len(changed) // 2] ^= 0x01
    assert hashlib.sha256(bytes(changed)).hexdigest() != verified.json()["sha256"]

    page = client.get(f"/reports/{number}")
    assert page.status_code == 200
    html = page.content.decode()
    assert number in html and hashlib.sha256(pdf).hexdigest() in html and enterprise.name in html


@pytest.mark.parametrize("number", ["CR00000000000000000000", "nonsense", "CR" + "Z" * 200])
def test_an_unknown_number_is_404(client, first, number):
    client.get(REPORT, **first[1])
    assert client.get(f"/api/v1/public/reports/{number}").status_code == 404
    assert client.get(f"/reports/{number}").status_code == 404


def test_a_report_is_a_snapshot(client, first):
    """Verifying later answers for the PDF as issued, whatever has changed in the store since."""
    enterprise, headers = first
    response = client.get(REPORT, **headers)
    digest = hashlib.sha256(response.content).hexdigest()
    Record.objects.filter(pk=enterprise.records["P-PUBLIC"]).update(is_public=False, publicity_reason="repaired")
    assert client.get(f"/api/v1/public/reports/{response['Report-Number']}").json()["sha256"] == digest
    assert client.get(REPORT, **headers)["Report-Number"] != response["Report-Number"]


def test_the_public_role_may_run_the_verification_and_nothing_more():
    from django.conf import settings
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT has_function_privilege(%s, 'public_view.report(text)', 'EXECUTE'),"
                       " has_table_privilege(%s, 'credit_creditreport', 'SELECT')",
                       [settings.PUBLIC_DATABASE_ROLE, settings.PUBLIC_DATABASE_ROLE])
        assert cursor.fetchone() == (True, False)

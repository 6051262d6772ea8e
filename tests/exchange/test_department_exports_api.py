"""Exports as they are (exchange-protocol §8): an Excel batch of the standard's headings through the signed API
gives the records its NDJSON gives, names its ignored columns (batch resource, receipt) and stores no ID number
of theirs; the catalog endpoint and its .xlsx templates, signed."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.db import connection

from credit.models import Record
from exchange.jws import jws_verify
from exchange.platform_keys import jwks, public_key_from_jwk
from ingest.pipeline import batch_process
from tests.exchange.test_signed_requests import assert_signed
from tests.validation.test_department_exports import LEGAL_REP_ID, NEWER, ROWS, as_ndjson, cell, xlsx

pytestmark = pytest.mark.django_db
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def push(as_dept, body: bytes, content_type: str, batch_id: str) -> dict:
    response = as_dept.post(f"/api/v1/exchange/batches?category=admin_penalty&batch_id={batch_id}", body,
                            content_type)
    assert response.status_code == 202, response.content
    batch_process(batch_id=response.json()["id"])
    return as_dept.get(f"/api/v1/exchange/batches/{response.json()['id']}").json()


def stored_records() -> dict[str, dict]:
    return {r.natural_key: r.payload for r in Record.objects.filter(category="admin_penalty")}


def tables_holding(text: str) -> list[str]:
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT 1 FROM "{table}" t WHERE t::text LIKE %s LIMIT 1', [f"%{text}%"])
            if cursor.fetchone():
                found.append(table)
    return found


def test_an_excel_export_is_taken_as_it_is_and_its_extra_columns_are_named(as_scjg):
    headings = [h for h, _ in NEWER]
    workbook = xlsx(headings, [[cell(r, f, h) for h, f in NEWER] for r in ROWS])

    batch = push(as_scjg, workbook, XLSX, "export-xlsx")

    assert (batch["status"], batch["counts"]["accepted"], batch["counts"]["rejected"]) == ("completed", 2, 0)
    assert batch["ignored_columns"] == [h for h, f in NEWER if f is None]
    token = as_scjg.get(f"/api/v1/exchange/batches/{batch['id']}/receipt").content.decode()
    receipt = jws_verify(token, {k["kid"]: public_key_from_jwk(k) for k in jwks()["keys"]})
    assert receipt["ignored_columns"] == batch["ignored_columns"]
    assert tables_holding(LEGAL_REP_ID) == []  # 法定代表人证件号码 was never read, so never stored
    from_excel = stored_records()
    assert len(from_excel) == 2

    # the same rows as NDJSON with the catalog's names change nothing: they are the very same records
    again = push(as_scjg, as_ndjson(ROWS), "application/x-ndjson", "export-ndjson")
    assert again["status"] == "completed" and again["ignored_columns"] == []
    assert (again["counts"]["unchanged"], again["counts"]["updated"], again["counts"]["created"]) == (2, 0, 0)
    assert stored_records() == from_excel


def test_the_catalog_lists_the_categories_the_department_writes_with_their_headings(as_scjg, scjg):
    response = as_scjg.get("/api/v1/exchange/catalog")
    assert response.status_code == 200
    assert_signed(response)
    catalog = response.json()
    assert [c["name"] for c in catalog["categories"]] == list(scjg.write_categories)
    penalty = next(c for c in catalog["categories"] if c["name"] == "admin_penalty")
    uscc = next(f for f in penalty["fields"] if f["name"] == "uscc")
    assert uscc["headings"][0] == "行政相对人代码_1（统一社会信用代码）" and "CF_XDR_SHXYM" in uscc["headings"]
    assert uscc["label"] == "统一社会信用代码" and uscc["type"] == "uscc"
    decided_on = next(f for f in penalty["fields"] if f["name"] == "decided_on")
    assert decided_on["required"] and decided_on["not_future"] and "YYYY-MM-DD" in decided_on["date_formats"]


@pytest.mark.parametrize("path", ["/api/v1/exchange/catalog/admin_penalty.xlsx",
                                  "/api/v1/exchange/catalog/admin_penalty?format=xlsx"])
def test_a_category_template_is_a_signed_workbook_headed_by_the_standard(as_scjg, path):
    response = as_scjg.get(path)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == XLSX
    assert_signed(response)  # the binary body's Content-Digest and the signature verify
    sheet = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0]
    headings = [c.value for c in next(sheet.iter_rows(max_row=1))]
    assert "行政相对人代码_1（统一社会信用代码）" in headings and "行政处罚决定书文号" in headings
    # the template, filled in, is a batch the platform takes
    filled = openpyxl.load_workbook(io.BytesIO(response.content))
    filled.active.append([ROWS[0].get(f) or None for f in _template_fields(headings)])
    out = io.BytesIO()
    filled.save(out)
    batch = push(as_scjg, out.getvalue(), XLSX, "from-template")
    assert (batch["status"], batch["counts"]["accepted"], batch["ignored_columns"]) == ("completed", 1, [])


def _template_fields(headings: list[str]) -> list[str | None]:
    by_heading = {h: f for h, f in NEWER if f}
    return [by_heading.get(h) or {"操作": None, "程序类型": None, "失信严重程度": None, "信息使用范围": None}.get(h, h)
            for h in headings]


def test_a_template_of_a_category_the_department_may_not_write_is_refused(as_gy):
    response = as_gy.get("/api/v1/exchange/catalog/admin_penalty.xlsx")
    assert response.status_code == 403 and response.json()["code"] == "category_not_writable"
    assert_signed(response)

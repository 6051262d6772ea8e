"""The public JSON API: same data and rules as the pages, problems for errors, documented in OpenAPI."""

from __future__ import annotations

import pytest

from tests.public.conftest import PUBLIC_DB

pytestmark = pytest.mark.django_db(databases=PUBLIC_DB)


def test_search_json(client, store):
    response = client.get("/api/v1/public/subjects", {"q": "天翼 (长沙)"})
    assert response.status_code == 200 and response["Cache-Control"] == "public, max-age=60"
    body = response.json()
    assert body["total"] == 1 and body["pages"] == 1 and body["capped"] is False
    assert body["total_text"] == "1" and body["hint"] is None
    assert body["results"] == [{
        "code": store.tianyi_uscc, "url": f"/api/v1/public/subjects/{store.tianyi_uscc}",
        "name": "湖南天翼（长沙）科技有限公司", "kind": "legal_person", "status": "active", "id_number_masked": None,
        "former_name": None, "match": "contains", "penalties": 1, "black_listed": True, "red_listed": False,
        "under_objection": True,
    }]
    person = client.get("/api/v1/public/subjects", {"q": "赵六"}).json()["results"]
    assert [(p["name"], p["id_number_masked"]) for p in person] == [("赵六", store.person_masked)]


def test_subject_json_holds_back_what_the_pages_hold_back(client, store):
    response = client.get(f"/api/v1/public/subjects/{store.tianyi_uscc}")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "湖南天翼（长沙）科技有限公司" and body["former_names"] == ["长沙天翼电子有限公司"]
    assert [r["fields"]["decision_no"] for r in body["records"]["admin_penalty"]] == ["湘市监罚〔2025〕1号"]
    assert body["records"]["admin_penalty"][0]["under_objection"] is True
    assert body["records"]["admin_penalty"][0]["source_department"] == "湖南省市场监督管理局"
    assert [r["fields"]["decision_no"] for r in body["records"]["admin_license"]] == ["湘许〔2024〕7号"]
    assert [r["fields"]["case_no"] for r in body["records"]["black_list"]] == ["(2025)湘01执123号"]
    assert body["records"]["red_list"] == []
    assert body["registration"]["source_department"] == "湖南省市场监督管理局"
    assert (body["penalties"], body["black_listed"], body["under_objection"]) == (1, True, True)
    text = response.content.decode()
    for absent in ["湘市监罚〔2020〕9号", "湘市监罚〔2025〕2号", "湘市监罚〔2025〕3号", "湘市监罚〔2025〕4号",
                   "usage_scope", "id_number\""]:
        assert absent not in text
    etag = response["ETag"]
    assert client.get(f"/api/v1/public/subjects/{store.tianyi_uscc}", HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_person_json_shows_only_the_masked_id(client, store):
    code = client.get("/api/v1/public/subjects", {"q": "赵六"}).json()["results"][0]["code"]
    response = client.get(f"/api/v1/public/subjects/{code}")
    assert response.json()["id_number_masked"] == store.person_masked
    assert store.person_id not in response.content.decode()


def test_errors_are_problems(client, store):
    short = client.get("/api/v1/public/subjects", {"q": "长"})
    assert short.status_code == 400 and short["Content-Type"] == "application/problem+json"
    assert short.json()["code"] == "query_too_short"
    missing = client.get("/api/v1/public/subjects/91430100MA4L000000")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    with_nul = client.get(f"/api/v1/public/subjects/{store.tianyi_uscc}%00x")
    assert with_nul.status_code == 404 and with_nul.json()["code"] == "not_found"


def test_openapi_documents_the_public_api(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    search = schema["paths"]["/api/v1/public/subjects"]["get"]
    assert search["operationId"] == "public_subject_search"
    assert set(search["responses"]) == {"200", "400", "429"}
    detail = schema["paths"]["/api/v1/public/subjects/{code}"]["get"]
    assert set(detail["responses"]) == {"200", "304", "404", "429"}
    assert "SubjectOut" in schema["components"]["schemas"] and "Problem" in schema["components"]["schemas"]

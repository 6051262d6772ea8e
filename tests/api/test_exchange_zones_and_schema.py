"""Zones (an internet process has no exchange or admin), and the OpenAPI schema of the exchange."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

EXCHANGE_AND_ADMIN_URLS = [
    "/api/v1/exchange/batches", "/api/v1/exchange/batches/1", "/api/v1/exchange/batches/1/rejections",
    "/api/v1/exchange/batches/1/receipt", "/api/v1/exchange/subjects/91430000MA4L0000XX",
    "/api/v1/exchange/changes", "/api/v1/exchange/objections", "/api/v1/exchange/objections/1/decision",
    "/.well-known/jwks.json", "/admin/", "/admin/login/", "/api/docs/",
]


@pytest.mark.parametrize("url", EXCHANGE_AND_ADMIN_URLS)
def test_an_internet_process_answers_404_for_exchange_and_admin_urls(client, settings, url):
    settings.PLATFORM_ZONE, settings.ROOT_URLCONF = "internet", "config.urls.internet"
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        assert response.status_code == 404, (method, url)
        assert "Signature" not in response


def test_the_extranet_serves_the_exchange_and_not_the_console(client, settings):
    settings.ROOT_URLCONF = "config.urls.extranet"
    assert client.get("/.well-known/jwks.json").status_code == 200
    assert client.get("/api/v1/exchange/changes").json()["code"] == "signature_missing"
    assert client.get("/admin/").status_code == 404


def test_schema_documents_signature_headers_and_problems_on_every_exchange_operation(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operations = [(path, method, op) for path, item in schema["paths"].items() if path.startswith("/api/v1/exchange/")
                  for method, op in item.items()]
    assert {op["operationId"] for _, _, op in operations} >= {
        "batch_submit", "batch_status", "batch_rejections", "batch_receipt", "subject_record", "change_feed",
        "objections", "objection_decide"}
    for path, method, op in operations:
        headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
        assert {"Signature", "Signature-Input"} <= headers, (path, method)
        if method == "post":
            assert "Content-Digest" in headers
        assert {"400", "401"} <= set(op["responses"]), (path, method)
    assert "/.well-known/jwks.json" in schema["paths"]

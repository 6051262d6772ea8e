"""The signature base is exactly RFC 9421's: Appendix B.2.6, and an independent signer from the RFC text."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, algorithms

from exchange.signatures.messages import Request
from exchange.signatures.signing import _OneKey
from exchange.signatures.verify import check_signature
from tests.exchange import independent_signer

VECTOR = (Path(__file__).resolve().parents[2].parent / "shared" / "data" / "rfc9421-ed25519-b26.txt")
PRIVATE = b"""-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----"""
COMPONENTS = ["date", "@method", "@path", "@authority", "content-type", "content-length"]
BASE = (
    '"date": Tue, 20 Apr 2021 02:07:55 GMT\n"@method": POST\n"@path": /foo\n"@authority": example.com\n'
    '"content-type": application/json\n"content-length": 18\n'
    '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"'
)
SIGNATURE_INPUT = ('sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")'
                   ';created=1618884473;keyid="test-key-ed25519"')
SIGNATURE = "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:"
URL = "https://example.com/foo?param=Value&Pet=dog"


def b26_request() -> Request:
    return Request("POST", URL, {
        "Host": "example.com", "Date": "Tue, 20 Apr 2021 02:07:55 GMT", "Content-Type": "application/json",
        "Content-Digest": "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
        "Content-Length": "18"})


def key():
    return serialization.load_pem_private_key(PRIVATE, password=None)


def test_the_vector_file_is_the_one_these_constants_come_from():
    if VECTOR.exists():
        text = VECTOR.read_text()
        assert SIGNATURE in text and SIGNATURE_INPUT in text and "MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF" in text


def test_library_builds_the_b26_signature_base_and_signature():
    signer = HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=_OneKey(key()))
    kwargs = dict(key_id="test-key-ed25519", created=dt.datetime.fromtimestamp(1618884473, dt.UTC), include_alg=False,
                  label="sig-b26", covered_component_ids=COMPONENTS, use_existing_digest=True)
    message = b26_request()
    assert signer.prepare(message, **kwargs).signature_base.decode() == BASE
    signer.sign(message, **kwargs)
    assert message.headers["Signature-Input"] == SIGNATURE_INPUT
    assert message.headers["Signature"] == SIGNATURE  # Ed25519 is deterministic: byte-for-byte the RFC's


def test_library_verifies_the_rfc_signature_and_refuses_a_changed_request():
    message = b26_request()
    message.headers.update({"Signature-Input": SIGNATURE_INPUT, "Signature": SIGNATURE})
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=_OneKey(key()))
    verifier.max_clock_skew = dt.timedelta(days=36500)
    assert verifier.verify(message, max_age=None)[0].parameters["keyid"] == "test-key-ed25519"
    check_signature(message, key().public_key())
    message.url = "https://example.com/bar?param=Value&Pet=dog"
    with pytest.raises(Exception, match="签名无效"):
        check_signature(message, key().public_key())


def test_independent_signer_reproduces_b26():
    params = [("created", 1618884473), ("keyid", "test-key-ed25519")]
    value = independent_signer.signature_params(COMPONENTS, params)
    assert independent_signer.signature_base("POST", URL, b26_request().headers, COMPONENTS, value).decode() == BASE
    headers = independent_signer.sign(method="POST", url=URL, headers=b26_request().headers, components=COMPONENTS,
                                      key=key(), params=params, label="sig-b26")
    assert headers == {"Signature-Input": SIGNATURE_INPUT, "Signature": SIGNATURE}


@pytest.mark.django_db
def test_platform_accepts_requests_from_the_independent_signer(client, scjg):
    from tests.exchange.conftest import demo_private_key

    body = b'{"decision": "upheld", "reason": "x"}'
    path = "/api/v1/exchange/objections/999/decision"
    headers = {"Content-Type": "application/json", "Content-Digest": independent_signer.content_digest(body)}
    components = ["@method", "@authority", "@path", "@query", "content-digest", "content-type"]
    headers.update(independent_signer.sign(
        method="POST", url=f"http://testserver{path}", headers=headers, components=components,
        key=demo_private_key("hn-scjg-2026"),
        params=[("created", int(time.time())), ("keyid", "hn-scjg-2026"), ("nonce", "indep-nonce-1")]))
    response = client.post(path, data=body, content_type="application/json",
                           headers={k: v for k, v in headers.items() if k != "Content-Type"})
    assert response.status_code == 404 and response.json()["code"] == "not_found"  # past every signature check

    get_path = "/api/v1/exchange/changes?category=black_list"
    get_headers = independent_signer.sign(
        method="GET", url=f"http://testserver{get_path}", headers={}, components=components[:4],
        key=demo_private_key("hn-scjg-2026"),
        params=[("created", int(time.time())), ("keyid", "hn-scjg-2026"), ("nonce", "indep-nonce-2")])
    response = client.get(get_path, headers=get_headers)
    assert response.status_code == 200, response.content
    assert response.json()["results"] == []

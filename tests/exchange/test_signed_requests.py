"""Every refusal of exchange-protocol §2, each with its own code; and every response signed (§3)."""

from __future__ import annotations

import base64
import time

import pytest
from django.utils import timezone

from exchange.models import Batch, SignatureNonce
from exchange.platform_keys import jwks, public_key_from_jwk
from exchange.services.signed_requests import nonce_prune
from exchange.signatures import REQUIRED_COMPONENTS
from exchange.signatures.messages import Response
from exchange.signatures.verify import verify_response

pytestmark = pytest.mark.django_db

CHANGES = "/api/v1/exchange/changes"
BATCHES = "/api/v1/exchange/batches?category=admin_penalty&batch_id=b1"
NDJSON = "application/x-ndjson"
BODY = b'{"decision_no": "x"}\n'


def assert_refused(response, status: int, code: str):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert_signed(response)


def assert_signed(response):
    keys = {k["kid"]: public_key_from_jwk(k) for k in jwks()["keys"]}
    verify_response(Response(response.status_code, dict(response.headers)), response.content, keys)


def test_a_signed_request_passes_and_its_response_is_signed(as_scjg):
    response = as_scjg.get(CHANGES)
    assert response.status_code == 200
    assert_signed(response)
    assert response["Signature-Input"].startswith('platform=("@status" "content-digest" "content-type")')


def test_unsigned(client, scjg):
    assert_refused(client.get(CHANGES), 401, "signature_missing")


@pytest.mark.parametrize("signature_input", [
    "sig1=(@method", 'sig1=("@method");created=1;keyid="hn-scjg-2026"', "a=1, b=2",
])
def test_malformed_signature_input(as_scjg, signature_input):
    headers = as_scjg.headers_for("GET", CHANGES)
    headers["Signature-Input"] = signature_input
    assert_refused(as_scjg.get(CHANGES, headers=headers), 400, "signature_malformed")


def test_nonce_required_and_bounded(as_scjg):
    headers = as_scjg.headers_for("GET", CHANGES, nonce="short")
    assert_refused(as_scjg.get(CHANGES, headers=headers), 400, "signature_malformed")


def test_unknown_key(as_scjg):
    headers = as_scjg.headers_for("GET", CHANGES, keyid="nobody-2026")
    assert_refused(as_scjg.get(CHANGES, headers=headers), 401, "unknown_key")


def test_revoked_and_not_yet_valid_keys(as_scjg, scjg):
    key = scjg.keys.get()
    key.revoked_at = timezone.now()
    key.save()
    assert_refused(as_scjg.get(CHANGES), 401, "key_revoked")
    key.revoked_at, key.not_before = None, timezone.now() + timezone.timedelta(days=1)
    key.save()
    assert_refused(as_scjg.get(CHANGES), 401, "key_revoked")


@pytest.mark.parametrize("left_out", REQUIRED_COMPONENTS)
def test_component_missing(as_scjg, left_out):
    components = tuple(c for c in REQUIRED_COMPONENTS if c != left_out)
    assert_refused(as_scjg.get(CHANGES, components=components), 401, "component_missing")


def test_body_components_required(as_scjg):
    response = as_scjg.post(BATCHES, BODY, NDJSON, components=REQUIRED_COMPONENTS + ("content-digest",))
    assert_refused(response, 401, "component_missing")
    assert not Batch.objects.exists()


def test_digest_missing(as_scjg):
    headers = as_scjg.headers_for("POST", BATCHES, content_type=NDJSON, components=REQUIRED_COMPONENTS + (
        "content-type",))
    assert "Content-Digest" not in headers
    assert_refused(as_scjg.request("POST", BATCHES, body=BODY, content_type=NDJSON, headers=headers), 401,
                   "digest_missing")
    assert not Batch.objects.exists()


def test_body_changed_after_signing_is_a_digest_mismatch_and_nothing_is_stored(as_scjg, settings):
    response = as_scjg.post(BATCHES, BODY, NDJSON, send_body=BODY.replace(b"x", b"y"))
    assert_refused(response, 401, "digest_mismatch")
    assert not Batch.objects.exists()
    stored = [p for p in settings.BATCH_STORAGE_DIR.rglob("*") if p.is_file()] if settings.BATCH_STORAGE_DIR.exists() \
        else []
    assert stored == []


def test_digest_mismatch_on_a_small_body(as_scjg):
    path = "/api/v1/exchange/objections/1/decision"
    body = b'{"decision": "upheld", "reason": "ok"}'
    response = as_scjg.post(path, body, "application/json", send_body=body.replace(b"ok", b"no"))
    assert_refused(response, 401, "digest_mismatch")


def test_tampered_signature(as_scjg):
    headers = as_scjg.headers_for("GET", CHANGES)
    label, _, value = headers["Signature"].partition("=")
    raw = bytearray(base64.b64decode(value.strip(":")))
    raw[0] ^= 1
    headers["Signature"] = f"{label}=:{base64.b64encode(bytes(raw)).decode()}:"
    assert_refused(as_scjg.get(CHANGES, headers=headers), 401, "signature_invalid")


def test_replayed_to_another_path(as_scjg):
    headers = as_scjg.headers_for("GET", CHANGES)
    assert_refused(as_scjg.get("/api/v1/exchange/objections", headers=headers), 401, "signature_invalid")


def test_signed_by_someone_else_under_this_keyid(as_scjg, as_gy):
    headers = as_gy.headers_for("GET", CHANGES, keyid="hn-scjg-2026")
    assert_refused(as_scjg.get(CHANGES, headers=headers), 401, "signature_invalid")


# 30 s beyond the window: a loaded machine may take seconds between signing and checking
@pytest.mark.parametrize("offset", [-330, 330])
def test_stale(as_scjg, offset):
    assert_refused(as_scjg.get(CHANGES, created=int(time.time()) + offset), 401, "stale")


def test_replay(as_scjg):
    headers = as_scjg.headers_for("GET", CHANGES)
    assert as_scjg.get(CHANGES, headers=headers).status_code == 200
    assert_refused(as_scjg.get(CHANGES, headers=headers), 401, "replay")
    assert SignatureNonce.objects.filter(keyid="hn-scjg-2026").count() == 1


def test_a_nonce_outside_the_window_is_pruned_and_may_come_again(as_scjg):
    SignatureNonce.objects.create(keyid="hn-scjg-2026", nonce="old-nonce-123",
                                  seen_at=timezone.now() - timezone.timedelta(seconds=601))
    assert as_scjg.get(CHANGES, nonce="old-nonce-123").status_code == 200
    SignatureNonce.objects.filter(nonce="old-nonce-123").update(seen_at=timezone.now() - timezone.timedelta(hours=1))
    assert nonce_prune() == 1


def test_unknown_exchange_url_answers_a_signed_problem(as_scjg):
    assert_refused(as_scjg.get("/api/v1/exchange/nothing-here"), 404, "not_found")


def test_jwks_is_a_jwk_set(client):
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/jwk-set+json"
    (key,) = response.json()["keys"]
    assert {key["kty"], key["crv"], key["alg"]} == {"OKP", "Ed25519", "EdDSA"} and "d" not in key

"""JWS compact serialization (RFC 7515) with EdDSA/Ed25519 (RFC 8037): receipts."""

from __future__ import annotations

import base64
import json

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class JWSError(Exception):
    pass


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jws_sign(*, payload: dict, private_key: Ed25519PrivateKey, kid: str) -> str:
    header = b64url(json.dumps({"alg": "EdDSA", "kid": kid, "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64url(json.dumps(payload, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode())
    signing_input = f"{header}.{body}".encode()
    return f"{header}.{body}.{b64url(private_key.sign(signing_input))}"


def jws_header(token: str) -> dict:
    try:
        return json.loads(b64url_decode(token.split(".")[0]))
    except (ValueError, IndexError) as exc:
        raise JWSError("not a JWS in compact serialization") from exc


def jws_verify(token: str, keys: dict[str, Ed25519PublicKey]) -> dict:
    """Verify against {kid: public key}; return the payload."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise JWSError("not a JWS in compact serialization")
    header = jws_header(token)
    if header.get("alg") != "EdDSA":
        raise JWSError(f"unexpected alg {header.get('alg')!r}")
    key = keys.get(header.get("kid", ""))
    if key is None:
        raise JWSError(f"no key {header.get('kid')!r} in the JWK Set")
    try:
        key.verify(b64url_decode(parts[2]), f"{parts[0]}.{parts[1]}".encode())
    except (InvalidSignature, ValueError) as exc:
        raise JWSError("the receipt's signature does not verify") from exc
    return json.loads(b64url_decode(parts[1]))

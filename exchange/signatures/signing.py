"""Signing requests (department side) and responses (platform side)."""

from __future__ import annotations

import datetime as dt
import secrets

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms

from exchange.signatures.messages import Request, Response

REQUIRED_COMPONENTS = ("@method", "@authority", "@path", "@query")
REQUIRED_BODY_COMPONENTS = ("content-digest", "content-type")
RESPONSE_COMPONENTS = ("@status", "content-digest", "content-type")


class _OneKey(HTTPSignatureKeyResolver):
    def __init__(self, private_key: Ed25519PrivateKey):
        self.private_key = private_key

    def resolve_private_key(self, key_id: str):
        return self.private_key

    def resolve_public_key(self, key_id: str):
        return self.private_key.public_key()


def _signer(private_key: Ed25519PrivateKey) -> HTTPMessageSigner:
    return HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=_OneKey(private_key))


def sign_request(*, method: str, url: str, headers: dict[str, str], private_key: Ed25519PrivateKey, keyid: str,
                 body_digest: str | None = None, created: int | None = None, nonce: str | None = None,
                 components: tuple[str, ...] | None = None, label: str = "sig1", include_alg: bool = True
                 ) -> dict[str, str]:
    """Return `headers` plus Content-Digest (when `body_digest`), Signature-Input and Signature.

    `body_digest` is the Content-Digest value of the body ("sha-256=:…:"), computed by the
    caller so a large file can be hashed while streaming it from disk.
    """
    headers = dict(headers)
    if body_digest is not None:
        headers["Content-Digest"] = body_digest
    if components is None:
        components = REQUIRED_COMPONENTS + (REQUIRED_BODY_COMPONENTS if body_digest is not None else ())
    message = Request(method=method.upper(), url=url, headers=headers)
    _signer(private_key).sign(
        message, key_id=keyid, label=label, include_alg=include_alg, covered_component_ids=components,
        use_existing_digest=body_digest is not None,
        created=dt.datetime.fromtimestamp(created if created is not None else int(dt.datetime.now(dt.UTC).timestamp()),
                                          dt.UTC),
        nonce=nonce if nonce is not None else secrets.token_urlsafe(18),
    )
    return message.headers


def sign_response(*, status: int, headers: dict[str, str], private_key: Ed25519PrivateKey, kid: str,
                  created: int | None = None) -> dict[str, str]:
    """Signature-Input and Signature for a response whose headers carry Content-Digest and Content-Type."""
    message = Response(status_code=status, headers=dict(headers))
    _signer(private_key).sign(
        message, key_id=kid, label="platform", include_alg=True, covered_component_ids=RESPONSE_COMPONENTS,
        use_existing_digest=True,
        created=dt.datetime.fromtimestamp(created if created is not None else int(dt.datetime.now(dt.UTC).timestamp()),
                                          dt.UTC),
    )
    return {"Signature-Input": message.headers["Signature-Input"], "Signature": message.headers["Signature"]}

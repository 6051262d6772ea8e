"""HTTP Message Signatures (RFC 9421) and Content-Digest (RFC 9530) for the exchange.

One module used by the server (request verification, response signing), the
department client (request signing, response verification) and the tests, so
all three build signature bases the same way. The signature base is built by
the http-message-signatures library; tests/exchange/test_signature_base.py pins
it to RFC 9421 Appendix B.2.6 and to an independent signer written from the RFC.
"""

from exchange.signatures.digest import content_digest, digest_header, parse_content_digest
from exchange.signatures.signing import (
    REQUIRED_BODY_COMPONENTS,
    REQUIRED_COMPONENTS,
    RESPONSE_COMPONENTS,
    sign_request,
    sign_response,
)

__all__ = [
    "REQUIRED_BODY_COMPONENTS", "REQUIRED_COMPONENTS", "RESPONSE_COMPONENTS", "content_digest", "digest_header",
    "parse_content_digest", "sign_request", "sign_response",
]

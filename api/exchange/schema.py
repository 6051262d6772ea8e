"""OpenAPI for the exchange: every operation documents the signature headers and the problems it may answer."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from api.problems import ProblemDocument

SIGNATURE_HEADERS = [
    OpenApiParameter("Signature-Input", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                     description='RFC 9421 Signature-Input: one signature covering "@method" "@authority" "@path" '
                                 '"@query" (+ "content-digest" "content-type" with a body); keyid, created, nonce.'),
    OpenApiParameter("Signature", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                     description="RFC 9421 Signature: the Ed25519 signature, as a byte sequence."),
]
CONTENT_DIGEST = OpenApiParameter(
    "Content-Digest", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
    description="RFC 9530 Content-Digest of the body as sent, with sha-256 (sha-512 may be added).")

Problem = ProblemDocument  # the one problem shape; each operation names the codes it may answer

def _problem(text: str) -> OpenApiResponse:
    return OpenApiResponse(Problem, description=text + " (application/problem+json)")


SIGNATURE_PROBLEMS = {
    400: _problem("signature_malformed, or bad parameters"),
    401: _problem("signature_missing, unknown_key, key_revoked, department_inactive, component_missing, "
                  "digest_missing, digest_mismatch, signature_invalid, stale or replay"),
}


def exchange_schema(*, responses: dict, body: bool = False, **kwargs):
    """extend_schema with the signature headers and signature problems every exchange operation shares."""
    parameters = SIGNATURE_HEADERS + ([CONTENT_DIGEST] if body else []) + kwargs.pop("parameters", [])
    return extend_schema(parameters=parameters, responses={**SIGNATURE_PROBLEMS, **responses}, tags=["exchange"],
                         **kwargs)

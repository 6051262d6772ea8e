"""Who sent this request: exchange-protocol §2 against the department key registry.

The department is whoever signed — taken from the verified key, never from a
header or parameter. (keyid, nonce) pairs are kept in PostgreSQL
(exchange.SignatureNonce) so replay detection holds across restarts and across
every web process; the unique constraint decides, never a check-then-insert.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.encoding import escape_uri_path

from exchange.models import Department, DepartmentKey, SignatureNonce
from exchange.signatures.messages import Request
from exchange.signatures.verify import SignatureInput, SignatureRefused, verify_request

PRUNE_PROBABILITY = 0.01  # prune old nonces on about one request in a hundred


@dataclass
class SignedRequest:
    department: Department
    keyid: str
    digests: dict[str, bytes] | None  # what the body must hash to (None: no body, or verification skipped)


def request_message(request) -> Request:
    """The request as RFC 9421 sees it: method, absolute target URI as received, header fields."""
    meta = request.META
    raw = meta.get("RAW_URI", "")  # gunicorn: the request target exactly as sent
    if raw.startswith("/"):
        target = raw
    else:
        target = escape_uri_path(request.path)
        if meta.get("QUERY_STRING"):
            target += "?" + meta["QUERY_STRING"]
    host = meta.get("HTTP_HOST") or f"{meta.get('SERVER_NAME', 'localhost')}:{meta.get('SERVER_PORT', '80')}"
    headers = {key[5:].replace("_", "-").lower(): value for key, value in meta.items() if key.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if meta.get(key):
            headers[key.replace("_", "-").lower()] = meta[key]
    return Request(method=request.method, url=f"{request.scheme}://{host}{target}", headers=headers)


def request_has_body(request) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return length > 0 or "HTTP_TRANSFER_ENCODING" in request.META


class _Resolver:
    def __init__(self):
        self.key: DepartmentKey | None = None

    def __call__(self, parsed: SignatureInput) -> Ed25519PublicKey:
        key = DepartmentKey.objects.select_related("department").filter(keyid=parsed.keyid).first()
        if key is None:
            raise SignatureRefused("unknown_key", f"没有 keyid 为 {parsed.keyid!r} 的已登记密钥。")
        now = timezone.now()
        if key.revoked_at is not None and key.revoked_at <= now:
            raise SignatureRefused("key_revoked", f"密钥 {parsed.keyid!r} 已于 {key.revoked_at:%Y-%m-%d %H:%M} 吊销。")
        if key.not_before > now:
            raise SignatureRefused("key_revoked", f"密钥 {parsed.keyid!r} 在 {key.not_before:%Y-%m-%d %H:%M} 之前无效。")
        if not key.department.active:
            raise SignatureRefused("department_inactive",
                                   f"部门 {key.department.code} 已停用，其密钥不再被接受；如有疑问请联系平台运维人员。")
        self.key = key
        return Ed25519PublicKey.from_public_bytes(bytes(key.public_key))


def nonce_record(*, keyid: str, nonce: str) -> bool:
    """True if the pair is new (or last seen outside the window); False for a replay."""
    window = settings.EXCHANGE_NONCE_WINDOW_SECONDS
    table = SignatureNonce._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {table} (keyid, nonce, seen_at) VALUES (%s, %s, now())
                ON CONFLICT (keyid, nonce) DO UPDATE SET seen_at = EXCLUDED.seen_at
                WHERE {table}.seen_at < now() - make_interval(secs => %s)
                RETURNING 1""",
            [keyid, nonce, window],
        )
        fresh = cursor.fetchone() is not None
    if random.random() < PRUNE_PROBABILITY:
        nonce_prune()
    return fresh


def nonce_prune() -> int:
    cutoff = timezone.now() - timedelta(seconds=settings.EXCHANGE_NONCE_WINDOW_SECONDS)
    return SignatureNonce.objects.filter(seen_at__lt=cutoff).delete()[0]


def signed_request_check(request) -> SignedRequest:
    """Raise SignatureRefused with the failing check's code, or return the signer's department."""
    resolver = _Resolver()
    parsed, digests = verify_request(
        request_message(request), has_body=request_has_body(request), resolve_key=resolver,
        record_nonce=lambda p: nonce_record(keyid=p.keyid, nonce=p.nonce), now=time.time(),
        skew=settings.EXCHANGE_CLOCK_SKEW_SECONDS, skip_crypto=settings.EXCHANGE_BENCH_SKIP_VERIFICATION,
    )
    return SignedRequest(department=resolver.key.department, keyid=parsed.keyid, digests=digests)

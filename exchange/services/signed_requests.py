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


_DEPARTMENT_FIELDS = [f.attname for f in Department._meta.concrete_fields]
_DEPARTMENT_COLUMNS = ", ".join(f"d.{f.column}" for f in Department._meta.concrete_fields)
# The key and its department in one fixed statement (no query built per request); the department comes back
# as a model, as the views use it.
_KEY_SQL = f"""
    SELECT k.public_key, k.not_before, k.revoked_at, {_DEPARTMENT_COLUMNS}
      FROM {DepartmentKey._meta.db_table} k JOIN {Department._meta.db_table} d ON d.id = k.department_id
     WHERE k.keyid = %(keyid)s"""
_NONCE_CONFLICT = f"""
    ON CONFLICT (keyid, nonce) DO UPDATE SET seen_at = EXCLUDED.seen_at
     WHERE {SignatureNonce._meta.db_table}.seen_at < now() - make_interval(secs => %(window)s)
    RETURNING 1"""
_NONCE_SQL = f"""
    INSERT INTO {SignatureNonce._meta.db_table} (keyid, nonce, seen_at) VALUES (%(keyid)s, %(nonce)s, now())
    {_NONCE_CONFLICT}"""
# A key known to this process: the nonce is recorded only if the key, as the database holds it in this same
# statement (same public key, not revoked, in force, its department active), may sign now; the key and its
# department come back either way, so a refusal names its reason as the full check would.
_KEY_CHECKED_NONCE_SQL = f"""
    WITH signer AS ({_KEY_SQL} AND k.public_key = %(public_key)s),
    fresh AS (
        INSERT INTO {SignatureNonce._meta.db_table} (keyid, nonce, seen_at)
        SELECT %(keyid)s, %(nonce)s, now() FROM signer
         WHERE signer.active AND signer.not_before <= %(now)s
           AND (signer.revoked_at IS NULL OR signer.revoked_at > %(now)s)
        {_NONCE_CONFLICT})
    SELECT signer.*, EXISTS (SELECT 1 FROM fresh) FROM signer"""

# keyid -> (raw public key, its Ed25519PublicKey) of keys this process has seen: a public key only, never
# trusted on its own. Whether the key may sign is read in the statement that records the nonce.
_public_keys: dict[str, tuple[bytes, Ed25519PublicKey]] = {}
_PUBLIC_KEYS_MAX = 4096


class _NotKnownHere(Exception):
    """The key is not in this process's cache, or the database holds another public key under its keyid."""


def _key_refusal(keyid: str, not_before, revoked_at, department: Department, now) -> SignatureRefused | None:
    if revoked_at is not None and revoked_at <= now:
        return SignatureRefused("key_revoked", f"密钥 {keyid!r} 已于 {revoked_at:%Y-%m-%d %H:%M} 吊销。")
    if not_before > now:
        return SignatureRefused("key_revoked", f"密钥 {keyid!r} 在 {not_before:%Y-%m-%d %H:%M} 之前无效。")
    if not department.active:
        return SignatureRefused("department_inactive",
                                f"部门 {department.code} 已停用，其密钥不再被接受；如有疑问请联系平台运维人员。")
    return None


def _department(values) -> Department:
    return Department.from_db(connection.alias, _DEPARTMENT_FIELDS, values)


class _Resolver:
    """The full check: the key and its department read first, then the signature, then the nonce."""

    def __init__(self):
        self.department: Department | None = None

    def __call__(self, parsed: SignatureInput) -> Ed25519PublicKey:
        with connection.cursor() as cursor:
            cursor.execute(_KEY_SQL, {"keyid": parsed.keyid})
            row = cursor.fetchone()
        if row is None:
            raise SignatureRefused("unknown_key", f"没有 keyid 为 {parsed.keyid!r} 的已登记密钥。")
        public_raw, not_before, revoked_at, *department = row
        department = _department(department)
        refusal = _key_refusal(parsed.keyid, not_before, revoked_at, department, timezone.now())
        if refusal is not None:
            raise refusal
        self.department = department
        public_key = Ed25519PublicKey.from_public_bytes(bytes(public_raw))
        if len(_public_keys) >= _PUBLIC_KEYS_MAX:
            _public_keys.clear()
        _public_keys[parsed.keyid] = (bytes(public_raw), public_key)
        return public_key


class _KnownKey:
    """The check for a key this process has seen: the signature against the public key it had, then one
    statement that re-reads the key and its department and records the nonce only if the key may sign."""

    def __init__(self):
        self.department: Department | None = None
        self.public_raw = b""
        self.checked = False  # the database has answered: its refusal is final

    def __call__(self, parsed: SignatureInput) -> Ed25519PublicKey:
        try:
            self.public_raw, public_key = _public_keys[parsed.keyid]
        except KeyError:
            raise _NotKnownHere from None
        return public_key

    def record_nonce(self, parsed: SignatureInput) -> bool:
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(_KEY_CHECKED_NONCE_SQL, {
                "keyid": parsed.keyid, "nonce": parsed.nonce, "public_key": self.public_raw,
                "now": now, "window": settings.EXCHANGE_NONCE_WINDOW_SECONDS})
            row = cursor.fetchone()
        if row is None:  # revoked and replaced, or removed: the full check says what it is now
            _public_keys.pop(parsed.keyid, None)
            raise _NotKnownHere
        self.checked = True
        _public_raw, not_before, revoked_at, *department, fresh = row
        self.department = _department(department)
        refusal = _key_refusal(parsed.keyid, not_before, revoked_at, self.department, now)
        if refusal is not None:
            raise refusal
        _nonces_maybe_prune()
        return fresh


def nonce_record(*, keyid: str, nonce: str) -> bool:
    """True if the pair is new (or last seen outside the window); False for a replay."""
    with connection.cursor() as cursor:
        cursor.execute(_NONCE_SQL, {"keyid": keyid, "nonce": nonce, "window": settings.EXCHANGE_NONCE_WINDOW_SECONDS})
        fresh = cursor.fetchone() is not None
    _nonces_maybe_prune()
    return fresh


def _nonces_maybe_prune() -> None:
    if random.random() < PRUNE_PROBABILITY:
        nonce_prune()


def nonce_prune() -> int:
    cutoff = timezone.now() - timedelta(seconds=settings.EXCHANGE_NONCE_WINDOW_SECONDS)
    return SignatureNonce.objects.filter(seen_at__lt=cutoff).delete()[0]


def signed_request_check(request) -> SignedRequest:
    """Raise SignatureRefused with the failing check's code, or return the signer's department.

    Every request is verified and its nonce recorded. A key this process has seen is checked in one
    statement with the nonce (its revocation takes effect on the very next request); any refusal before that
    statement answers, runs the full check instead, so a refused request is named by the first check it
    fails, in the protocol's order."""
    message, has_body = request_message(request), request_has_body(request)
    options = dict(has_body=has_body, now=time.time(), skew=settings.EXCHANGE_CLOCK_SKEW_SECONDS)
    if not settings.EXCHANGE_BENCH_SKIP_VERIFICATION:
        known = _KnownKey()
        try:
            parsed, digests = verify_request(message, resolve_key=known, record_nonce=known.record_nonce, **options)
            return SignedRequest(department=known.department, keyid=parsed.keyid, digests=digests)
        except _NotKnownHere:
            pass
        except SignatureRefused:
            if known.checked:
                raise
    resolver = _Resolver()
    parsed, digests = verify_request(
        message, resolve_key=resolver, record_nonce=lambda p: nonce_record(keyid=p.keyid, nonce=p.nonce),
        skip_crypto=settings.EXCHANGE_BENCH_SKIP_VERIFICATION, **options)
    return SignedRequest(department=resolver.department, keyid=parsed.keyid, digests=digests)

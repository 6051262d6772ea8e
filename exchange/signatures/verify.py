"""Checking signatures: requests (exchange-protocol §2) and responses (§3, for clients).

The checks run in the order the protocol lists its failure codes, each with its
own code: the caller supplies key lookup, nonce recording and the body digest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import http_sf
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    algorithms,
)

from exchange.signatures.digest import DigestMalformed, parse_content_digest
from exchange.signatures.messages import Request, Response
from exchange.signatures.signing import REQUIRED_BODY_COMPONENTS, REQUIRED_COMPONENTS, RESPONSE_COMPONENTS

NONCE_MIN, NONCE_MAX = 8, 128


class SignatureRefused(Exception):
    def __init__(self, code: str, detail: str, status: int = 401):
        super().__init__(detail)
        self.code, self.detail, self.status = code, detail, status


@dataclass(frozen=True)
class SignatureInput:
    label: str
    components: tuple[str, ...]  # serialized component identifiers, e.g. '"@method"'
    component_names: frozenset[str]
    keyid: str
    created: int
    nonce: str
    signature: bytes
    expires: int | None = None


def _header(headers: dict[str, str], name: str) -> str | None:
    lowered = name.lower()
    values = [v for k, v in headers.items() if k.lower() == lowered]
    return ", ".join(values) if values else None


def parse_signature_headers(headers: dict[str, str]) -> SignatureInput:
    """signature_missing / signature_malformed (400)."""
    sig_input, sig = _header(headers, "Signature-Input"), _header(headers, "Signature")
    if sig_input is None or sig is None:
        raise SignatureRefused("signature_missing", "请求未签名：需要 Signature-Input 和 Signature 头（RFC 9421）。")

    def malformed(why: str) -> SignatureRefused:
        return SignatureRefused("signature_malformed", f"签名头格式错误：{why}", status=400)

    try:
        inputs = http_sf.parse(sig_input.encode("latin-1"), tltype="dictionary", on_duplicate_key=_refuse_duplicate)
        signatures = http_sf.parse(sig.encode("latin-1"), tltype="dictionary", on_duplicate_key=_refuse_duplicate)
    except (ValueError, UnicodeEncodeError) as exc:
        raise malformed("Signature-Input 或 Signature 不是结构化字段字典（RFC 8941）。") from exc
    if len(inputs) != 1 or len(signatures) != 1:
        raise malformed("必须恰好有一个签名。")
    (label, (members, params)), = inputs.items()
    if label not in signatures:
        raise malformed("Signature-Input 与 Signature 的标签不一致。")
    signature, _ = signatures[label]
    if not isinstance(members, list) or not isinstance(signature, bytes):
        raise malformed("Signature-Input 须为内部列表，Signature 须为字节序列。")
    components, names = [], set()
    for value, item_params in members:
        if not isinstance(value, str):
            raise malformed("所覆盖的组件名必须是字符串。")
        components.append(http_sf.ser((value, item_params)))
        names.add(value)
    alg = params.get("alg", "ed25519")
    if alg != "ed25519":
        raise SignatureRefused("signature_invalid", f"不支持的签名算法 {alg!r}，只接受 ed25519。")
    keyid, created, nonce = params.get("keyid"), params.get("created"), params.get("nonce")
    if not isinstance(keyid, str) or not keyid:
        raise malformed("缺少 keyid 参数（字符串）。")
    if type(created) is not int:
        raise malformed("缺少 created 参数（Unix 秒，整数）。")
    if not isinstance(nonce, str) or not (NONCE_MIN <= len(nonce) <= NONCE_MAX) or not all(
            0x21 <= ord(c) <= 0x7E for c in nonce):
        raise malformed(f"nonce 参数必须是 {NONCE_MIN}–{NONCE_MAX} 个可打印 ASCII 字符。")
    expires = params.get("expires")
    if expires is not None and type(expires) is not int:
        raise malformed("expires 参数必须是整数（Unix 秒）。")
    return SignatureInput(label, tuple(components), frozenset(names), keyid, created, nonce, signature, expires)


def check_components(parsed: SignatureInput, *, has_body: bool) -> None:
    required = REQUIRED_COMPONENTS + (REQUIRED_BODY_COMPONENTS if has_body else ())
    missing = [c for c in required if c not in parsed.component_names]
    if missing:
        raise SignatureRefused("component_missing", "签名必须覆盖这些组件：" + "、".join(f'"{c}"' for c in missing))


def check_digest_header(headers: dict[str, str]) -> dict[str, bytes]:
    value = _header(headers, "Content-Digest")
    if value is None:
        raise SignatureRefused("digest_missing", "请求有正文，但缺少 Content-Digest 头（RFC 9530，sha-256）。")
    try:
        digests = parse_content_digest(value)
    except DigestMalformed as exc:
        raise SignatureRefused("signature_malformed", f"Content-Digest 格式错误：{exc}", status=400) from exc
    if "sha-256" not in digests:
        raise SignatureRefused("digest_missing", "Content-Digest 必须包含 sha-256。")
    return digests


def _refuse_duplicate(name: str, kind: str) -> None:
    raise ValueError(f"duplicate {kind} {name!r}")


def check_digest(expected: dict[str, bytes], actual: dict[str, bytes]) -> None:
    if any(actual.get(alg) != value for alg, value in expected.items()):
        raise SignatureRefused("digest_mismatch", "正文与 Content-Digest 不符：正文在签名后被改动或传输不完整。")


class _Key(HTTPSignatureKeyResolver):
    def __init__(self, public_key):
        self.public_key = public_key

    def resolve_public_key(self, key_id: str):
        return self.public_key

    def resolve_private_key(self, key_id: str):
        raise NotImplementedError


def _verifier(public_key) -> HTTPMessageVerifier:
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=_Key(public_key))
    verifier.max_clock_skew = dt.timedelta(days=36500)  # the clock window is checked by check_created, with its own code
    return verifier


def check_signature(message: Request | Response, public_key: Ed25519PublicKey) -> None:
    try:
        _verifier(public_key).verify(message, max_age=None)
    except HTTPMessageSignaturesException as exc:  # InvalidSignature, or a component it cannot resolve
        raise SignatureRefused("signature_invalid", "签名无效：签名与请求内容不符，或不是用该 keyid 的私钥签的。") from exc


def check_created(parsed: SignatureInput, *, now: float, skew: int) -> None:
    if abs(parsed.created - now) > skew:
        raise SignatureRefused("stale", f"签名时间 created 与平台时钟相差超过 {skew} 秒，请校准时钟后重新签名。")
    if parsed.expires is not None and parsed.expires < now:
        raise SignatureRefused("stale", "签名已过期（expires 已过），请重新签名。")


def verify_request(message: Request, *, has_body: bool, resolve_key: Callable[[SignatureInput], Ed25519PublicKey],
                   record_nonce: Callable[[SignatureInput], bool], now: float, skew: int = 300,
                   skip_crypto: bool = False) -> tuple[SignatureInput, dict[str, bytes] | None]:
    """Run §2's checks; return the signature input and the digests the body must match.

    `resolve_key` raises SignatureRefused (unknown_key / key_revoked); `record_nonce`
    returns False if the (keyid, nonce) pair was seen within the replay window.
    """
    parsed = parse_signature_headers(message.headers)
    public_key = resolve_key(parsed)
    if skip_crypto:  # benchmarks only (EXCHANGE_BENCH_SKIP_VERIFICATION)
        return parsed, None
    digests = check_digest_header(message.headers) if has_body else None
    check_components(parsed, has_body=has_body)
    check_signature(message, public_key)
    check_created(parsed, now=now, skew=skew)
    if not record_nonce(parsed):
        raise SignatureRefused("replay", "这个 nonce 已经用过：同一 keyid 的 nonce 在 600 秒内不能重复。")
    return parsed, digests


def verify_response(message: Response, body: bytes, keys: dict[str, Ed25519PublicKey]) -> str:
    """Client side: the response is signed by a platform key over §3's components and its body matches."""
    parsed_input = _header(message.headers, "Signature-Input")
    if parsed_input is None or _header(message.headers, "Signature") is None:
        raise SignatureRefused("signature_missing", "response is not signed")
    inputs = http_sf.parse(parsed_input.encode("latin-1"), tltype="dictionary")
    if len(inputs) != 1:
        raise SignatureRefused("signature_malformed", "response must carry exactly one signature")
    (_, (members, params)), = inputs.items()
    names = {value for value, _ in members}
    if not set(RESPONSE_COMPONENTS) <= names:
        raise SignatureRefused("component_missing", f"response signature must cover {RESPONSE_COMPONENTS}")
    kid = params.get("keyid")
    if kid not in keys:
        raise SignatureRefused("unknown_key", f"response signed by {kid!r}, which is not in the platform JWK Set")
    check_digest(check_digest_header(message.headers),
                 {"sha-256": hashlib.sha256(body).digest(), "sha-512": hashlib.sha512(body).digest()})
    check_signature(message, keys[kid])
    return kid


"""Signed exchange traffic (exchange-protocol §2, §3), for everything under /api/v1/exchange/.

process_view verifies the request before any exchange view runs (and its body's
Content-Digest, unless the view streams the body itself and checks as it reads);
__call__ signs every response under the prefix, errors and 404s included.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.exceptions import RequestDataTooBig

from api.problems import Problem, problem_response
from exchange.platform_keys import platform_key_current
from exchange.services.signed_requests import signed_request_check
from exchange.signatures import digest_header, sign_response
from exchange.signatures.verify import SignatureRefused, check_digest

PREFIX = "/api/v1/exchange/"

TITLES = {
    "signature_missing": "请求未签名",
    "signature_malformed": "签名头格式错误",
    "unknown_key": "未知密钥",
    "key_revoked": "密钥已吊销或尚未生效",
    "department_inactive": "部门已停用",
    "component_missing": "签名未覆盖必需组件",
    "digest_missing": "缺少内容摘要",
    "digest_mismatch": "内容摘要不符",
    "signature_invalid": "签名无效",
    "stale": "签名时间超出允许范围",
    "replay": "重放的请求",
}


def refusal_response(exc: SignatureRefused):
    return problem_response(exc.status, exc.code, TITLES.get(exc.code, "签名校验失败"), exc.detail)


def response_sign(response):
    """Content-Digest (sha-256) and the platform's RFC 9421 signature over @status, digest, type."""
    if response.streaming:  # never produced under the prefix; nothing to digest without buffering
        return response
    if not response.has_header("Content-Type"):
        response["Content-Type"] = "application/octet-stream"
    response["Content-Digest"] = digest_header(hashlib.sha256(response.content).digest())
    key = platform_key_current()
    headers = {"Content-Digest": response["Content-Digest"], "Content-Type": response["Content-Type"]}
    for name, value in sign_response(status=response.status_code, headers=headers, private_key=key.private_key,
                                     kid=key.kid).items():
        response[name] = value
    return response


class ExchangeSignatureMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.active = settings.PLATFORM_ZONE in {"extranet", "all"}

    def __call__(self, request):
        if not (self.active and request.path.startswith(PREFIX)):
            return self.get_response(request)
        return response_sign(self.get_response(request))

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not (self.active and request.path.startswith(PREFIX)):
            return None
        framing = body_framing_problem(request.META)
        if framing is not None:
            return framing
        try:
            signed = signed_request_check(request)
        except SignatureRefused as exc:
            return refusal_response(exc)
        request.exchange = signed
        view_class = getattr(view_func, "cls", None)
        if signed.digests is not None and not getattr(view_class, "streams_body", False):
            try:
                body = request.body
            except RequestDataTooBig:
                return problem_response(413, "payload_too_large", "请求体过大",
                                        f"请求体不能超过 {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} 字节。")
            length = int(request.META.get("CONTENT_LENGTH") or 0)
            if len(body) != length:
                problem = body_incomplete_problem(len(body), length)
                return problem_response(problem.status, problem.code, problem.title, problem.detail)
            try:
                check_digest(signed.digests, {"sha-256": hashlib.sha256(body).digest(),
                                              "sha-512": hashlib.sha512(body).digest()})
            except SignatureRefused as exc:
                return refusal_response(exc)
        return None


def body_framing_problem(meta):
    """A body must come with a valid Content-Length: Django's WSGI handler reads a chunked
    body without one as empty, and the digest must be checked over the body as received."""
    length = meta.get("CONTENT_LENGTH") or ""
    if length and (not ascii_digits(length) or len(length) > 18):  # 19 digits: more than any disk holds
        return problem_response(400, "invalid_content_length", "Content-Length 无效",
                                "Content-Length 必须是非负整数。")
    if not length and "HTTP_TRANSFER_ENCODING" in meta:
        return problem_response(411, "length_required", "需要 Content-Length",
                                "请求体须带 Content-Length 头发送（不接受分块传输编码）。")
    return None


def ascii_digits(value: str) -> bool:
    """0-9 only: str.isdigit() also takes "²" or "፩", which int() refuses."""
    return value.isascii() and value.isdigit()


def body_incomplete_problem(received: int, length: int) -> Problem:
    return Problem(f"请求体只收到 {received} 字节，与 Content-Length 声明的 {length} 字节不符；未保存任何内容，请重新发送。",
                   code="body_incomplete", status=400, title="请求体不完整")

"""RFC 9457 problem documents: the one shape every API error takes.

The API layer raises `Problem` with a stable snake_case `code` (domain code raises
its own errors, which the views map to one); the DRF exception handler and the
plain-Django handlers below render it as `application/problem+json`. Nothing ever
renders a stack trace.
"""

from __future__ import annotations

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers
from rest_framework.response import Response

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://credit.example.org/problems/"
# how long a client is asked to wait while the database is unreachable (a restart, a failover)
UNAVAILABLE_RETRY_AFTER = 30


class Problem(Exception):
    """A failure the client can act on. `detail` is plain words for a person."""

    status = 400
    code = "bad_request"
    title = "请求有误"

    def __init__(self, detail: str, *, code: str | None = None, status: int | None = None,
                 title: str | None = None, headers: dict[str, str] | None = None, **extra):
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        if status:
            self.status = status
        if title:
            self.title = title
        self.headers = headers or {}
        self.extra = extra

    def as_dict(self) -> dict:
        return problem_body(self.status, self.code, self.title, self.detail, **self.extra)


class ProblemDocument(serializers.Serializer):
    """A problem document's shape, for the OpenAPI schema of every API (exchange and public)."""

    type = serializers.URLField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField(help_text="plain words for a person")
    code = serializers.CharField(help_text="stable snake_case; each operation lists the ones it may answer")

    class Meta:
        ref_name = "Problem"


def problem_body(status: int, code: str, title: str, detail: str, **extra) -> dict:
    return {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail, "code": code, **extra}


def problem_response(status: int, code: str, title: str, detail: str, headers: dict | None = None, **extra):
    response = JsonResponse(problem_body(status, code, title, detail, **extra), status=status,
                            content_type=PROBLEM_CONTENT_TYPE, json_dumps_params={"ensure_ascii": False})
    for key, value in (headers or {}).items():
        response[key] = value
    return response


_DRF_CODES = {
    drf_exceptions.ParseError: ("malformed_body", "请求体无法解析"),
    drf_exceptions.AuthenticationFailed: ("unauthenticated", "身份验证失败"),
    drf_exceptions.NotAuthenticated: ("unauthenticated", "需要身份验证"),
    drf_exceptions.PermissionDenied: ("forbidden", "无权访问"),
    drf_exceptions.NotFound: ("not_found", "未找到"),
    drf_exceptions.MethodNotAllowed: ("method_not_allowed", "不支持该请求方法"),
    drf_exceptions.NotAcceptable: ("not_acceptable", "无法提供所要求的格式"),
    drf_exceptions.UnsupportedMediaType: ("unsupported_media_type", "不支持的内容类型"),
    drf_exceptions.Throttled: ("rate_limited", "请求过于频繁"),
    drf_exceptions.ValidationError: ("invalid_request", "请求参数有误"),
}


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every error becomes a problem document."""
    if isinstance(exc, Problem):
        response = Response(exc.as_dict(), status=exc.status, headers=exc.headers,
                            content_type=PROBLEM_CONTENT_TYPE)
        return response
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    if isinstance(exc, drf_exceptions.APIException):
        code, title = next(((c, t) for cls, (c, t) in _DRF_CODES.items() if isinstance(exc, cls)),
                           ("error", "请求失败"))
        extra = {}
        if isinstance(exc, drf_exceptions.ValidationError):
            detail = "请求参数有误，请检查后重试。"
            extra["errors"] = exc.detail
        else:
            detail = str(exc.detail)
        headers = {}
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        return Response(problem_body(exc.status_code, code, title, detail, **extra), status=exc.status_code,
                        headers=headers, content_type=PROBLEM_CONTENT_TYPE)
    if database_unreachable(exc):
        return None  # DRF re-raises it; server_error, Django's handler500, answers 503 for every view alike
    logger.exception("unhandled error in API view", exc_info=exc)
    return Response(problem_body(500, "internal_error", "服务器内部错误", "服务器处理请求时出错，请稍后重试。"),
                    status=500, content_type=PROBLEM_CONTENT_TYPE)


def _wants_problem(request) -> bool:
    return request.path.startswith(("/api/", "/.well-known/"))


def bad_request(request, exception=None):
    if _wants_problem(request):
        return problem_response(400, "bad_request", "请求有误", "请求无法处理（请检查 Host 头和请求格式）。")
    return HttpResponse("<!doctype html><meta charset=utf-8><title>请求有误</title><h1>请求有误</h1>",
                        status=400, content_type="text/html; charset=utf-8")


def forbidden(request, exception=None):
    if _wants_problem(request):
        return problem_response(403, "forbidden", "无权访问", "无权访问该地址。")
    return HttpResponse("<!doctype html><meta charset=utf-8><title>无权访问</title><h1>无权访问</h1>",
                        status=403, content_type="text/html; charset=utf-8")


def not_found(request, exception=None):
    if _wants_problem(request):
        return problem_response(404, "not_found", "未找到", "没有这个地址。")
    return HttpResponse("<!doctype html><meta charset=utf-8><title>未找到</title><h1>页面不存在</h1>",
                        status=404, content_type="text/html; charset=utf-8")


def database_unreachable(exc: BaseException | None) -> bool:
    """A connection-level database failure (refused, lost, the server shutting down or overloaded):
    the platform is unavailable for a moment, not broken, so it answers 503 with Retry-After."""
    return isinstance(exc, (OperationalError, InterfaceError))


_UNAVAILABLE = (503, "service_unavailable", "服务暂时不可用", "平台的数据服务暂时无法访问，请稍后重试。")


def service_unavailable(request):
    """503: a problem document on the API, the public site's page elsewhere; both with Retry-After."""
    if _wants_problem(request):
        response = problem_response(*_UNAVAILABLE)
    else:
        response = HttpResponse(
            render_to_string("public/unavailable.html", {"retry_after": UNAVAILABLE_RETRY_AFTER}),
            status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
    response["Cache-Control"] = "no-store"
    return response


def server_error(request):
    # Django calls this while handling the exception (a view's, or a middleware's before any view ran)
    if database_unreachable(sys.exc_info()[1]):
        return service_unavailable(request)
    if _wants_problem(request):
        return problem_response(500, "internal_error", "服务器内部错误", "服务器处理请求时出错，请稍后重试。")
    return HttpResponse("<!doctype html><meta charset=utf-8><title>服务器错误</title><h1>服务器暂时无法处理请求，请稍后重试。</h1>",
                        status=500, content_type="text/html; charset=utf-8")

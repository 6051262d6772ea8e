"""The enterprise portal's JSON API (portal.md): HTTP only; the work is in portal.services and portal.selectors.

`PortalView` is the base of every call made with a token (see api/portal/authentication.py for how a view
gets the account and its subject); a `portal.errors.PortalError` raised by a service becomes a problem
document with the status `PORTAL_ERROR_STATUS` gives its code.
"""

from __future__ import annotations

from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from api.portal.authentication import IsPortalAccount, PortalTokenAuthentication
from api.problems import Problem, ProblemDocument
from portal import selectors, services
from portal.errors import PortalError
from public.ratelimit import client_address

# every code a portal service may refuse with, and its HTTP status (add yours here)
PORTAL_ERROR_STATUS = {
    "activation_invalid": 400,
    "weak_password": 400,
    "email_taken": 409,
    "login_failed": 401,
    "too_many_attempts": 429,
    "unknown_category": 400,
}
PORTAL_ERROR_TITLE = {400: "请求有误", 401: "身份验证失败", 404: "未找到", 409: "与现有数据冲突", 429: "尝试次数过多"}


def client_ip(request) -> str:
    """The address an audit event records (the client's, as the trusted proxies saw it)."""
    return client_address(request)


def problem_from(error: PortalError) -> Problem:
    status = PORTAL_ERROR_STATUS.get(error.code, 400)
    headers = {}
    if error.retry_after_seconds is not None:
        headers["Retry-After"] = str(error.retry_after_seconds)
    return Problem(error.detail, code=error.code, status=status, title=PORTAL_ERROR_TITLE.get(status),
                   headers=headers, **error.extra)


def _problem(text: str) -> OpenApiResponse:
    return OpenApiResponse(ProblemDocument, description=text + " (application/problem+json)")


class PortalOpenView(APIView):
    """A portal call made without a token (sign-up, sign-in): errors mapped, never cached."""

    authentication_classes: list = []
    permission_classes: list = []

    def handle_exception(self, exc):
        if isinstance(exc, PortalError):
            exc = problem_from(exc)
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        add_never_cache_headers(response)  # an enterprise's own data and its tokens: no cache keeps them
        if hasattr(response, "add_post_render_callback"):
            response.add_post_render_callback(_renderer_context_drop)
        return response

    def dispatch(self, request, *args, **kwargs):
        response = super().dispatch(request, *args, **kwargs)
        del self.response  # the view's hold on it, a cycle too (see _renderer_context_drop)
        return response


def _renderer_context_drop(response) -> None:
    """DRF's response keeps itself (and the view, which keeps the response) in its renderer context: cycles
    that only the garbage collector frees, so every answer's data (a subject's 1,000 records) stayed until a
    full collection, which then freed several at once in one long pause. Rendered, it needs no context."""
    response.renderer_context = None


class PortalView(PortalOpenView):
    """A portal call made with `Authorization: Bearer <token>`: request.user is the account, request.auth.subject
    its subject (api/portal/authentication.py)."""

    authentication_classes = [PortalTokenAuthentication]
    permission_classes = [IsPortalAccount]


class AccountsView(PortalOpenView):
    class In(serializers.Serializer):
        uscc = serializers.CharField(max_length=40)
        activation_code = serializers.CharField(max_length=100)
        email = serializers.EmailField(max_length=254)
        password = serializers.CharField(max_length=200, trim_whitespace=False)

        class Meta:
            ref_name = "PortalAccountCreate"  # schema components are named per class: "In" is every view's

    class Out(serializers.Serializer):
        account = serializers.IntegerField()
        uscc = serializers.CharField()
        email = serializers.EmailField()
        totp_secret = serializers.CharField(help_text="base32 key for an authenticator app (TOTP, SHA-1, 6 digits, 30 s)")
        totp_uri = serializers.CharField(help_text="the same key as an otpauth:// URI")

        class Meta:
            ref_name = "PortalAccountCreated"

    @extend_schema(operation_id="portal_account_create", tags=["portal"], request=In,
                   summary="Open an account acting for a subject, with an activation code the platform issued",
                   responses={201: Out, 400: _problem("activation_invalid, weak_password, invalid_request"),
                              409: _problem("email_taken"), 429: _problem("too_many_attempts; see Retry-After")})
    def post(self, request):
        data = self.In(data=request.data)
        data.is_valid(raise_exception=True)
        new = services.account_create(**data.validated_data, ip=client_ip(request))
        return Response({"account": new.account.pk, "uscc": new.account.subject.uscc, "email": new.account.email,
                         "totp_secret": new.totp_secret, "totp_uri": new.provisioning_uri}, status=201)


class SessionView(PortalOpenView):
    class In(serializers.Serializer):
        email = serializers.CharField(max_length=254)
        password = serializers.CharField(max_length=200, trim_whitespace=False)
        totp = serializers.CharField(max_length=20)

        class Meta:
            ref_name = "PortalSessionOpen"

    class Out(serializers.Serializer):
        token = serializers.CharField(help_text="send as Authorization: Bearer <token>")
        expires_at = serializers.DateTimeField()

        class Meta:
            ref_name = "PortalSession"

    # DELETE ends the token it is sent with; POST (signing in) looks at no token, even a stale one
    authentication_classes = [PortalTokenAuthentication]

    def perform_authentication(self, request):
        if request.method == "DELETE":
            super().perform_authentication(request)

    def get_permissions(self):
        if getattr(self.request, "method", None) == "DELETE":
            return [IsPortalAccount()]
        return []

    @extend_schema(operation_id="portal_session_open", tags=["portal"], request=In,
                   summary="Sign in with email, password and the current TOTP code: a token for 12 hours",
                   responses={200: Out, 401: _problem("login_failed (any wrong part)"),
                              429: _problem("too_many_attempts: the email is locked; see Retry-After")})
    def post(self, request):
        data = self.In(data=request.data)
        data.is_valid(raise_exception=True)
        issued = services.session_open(**data.validated_data, ip=client_ip(request))
        return Response({"token": issued.token, "expires_at": issued.expires_at})

    @extend_schema(operation_id="portal_session_close", tags=["portal"], request=None,
                   summary="Sign out: the token is refused from now on", responses={204: None})
    def delete(self, request):
        services.session_close(token=request.auth, ip=client_ip(request))
        return Response(status=204)


class RecordsView(PortalView):
    @extend_schema(operation_id="portal_records", tags=["portal"],
                   summary="Every record of the account's subject, public or not, with its history",
                   parameters=[OpenApiParameter("category", str, required=False)],
                   responses={200: OpenApiResponse(description="{subject, records}"),
                              400: _problem("unknown_category"), 401: _problem("unauthenticated")})
    def get(self, request):
        category = request.query_params.get("category") or None
        result = selectors.own_records(subject=request.auth.subject, category=category)
        services.audit_record(action=services.AuditAction.RECORDS_VIEWED, ip=client_ip(request),
                              account=request.user, category=category)
        return Response(result)

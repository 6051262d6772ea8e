"""Who is calling the portal API: `Authorization: Bearer <token>` (portal.md §1).

For every portal view (subclass `api.portal.views.PortalView`, which sets this class and `IsPortalAccount`):

- `request.user` is the `portal.models.PortalAccount` (its `.email`, `.user`, `.subject`);
- `request.auth` is the `portal.models.PortalToken`; `request.auth.subject` is the `credit.models.Subject`
  the account acts for. Confine every read and action to it: look objects up as
  `Model.objects.filter(subject=request.auth.subject, pk=…)` so another subject's id answers 404
  (`get_object_or_404` → problem `not_found`), never 403.
- Audit each action with `portal.services.audit_record(action=…, ip=client_ip(request), account=request.user,
  **detail)` inside the action's transaction (`api.portal.views.client_ip` gives the address).

No header → 401 `unauthenticated`; an unknown, expired (12 h) or revoked token → 401 `unauthenticated`.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from portal.models import PortalAccount
from portal.services import token_find


class PortalTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() != self.keyword.lower():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization 头应为 “Bearer <令牌>”。")
        token = token_find(header[1])
        if token is None:
            raise exceptions.AuthenticationFailed("令牌无效或已过期，请重新登录。")
        return token.account, token

    def authenticate_header(self, request):
        return f'{self.keyword} realm="portal"'  # a 401 (not 403) for a missing or bad token


class IsPortalAccount(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.user, PortalAccount)


class PortalTokenScheme(OpenApiAuthenticationExtension):
    """The portal's bearer token in the OpenAPI schema."""

    target_class = PortalTokenAuthentication
    name = "portalToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "the token of POST /api/v1/portal/session (12 hours, until DELETE session)"}

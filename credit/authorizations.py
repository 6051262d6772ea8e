"""A subject's authorisations of departments to read its `usage_scope = authorized` records (portal.md §5).
Read where departments read (`credit.selectors.records_visible_to`), so a grant, a revocation and an
expiry take effect with the very next request."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone

from credit.models import Authorization, Subject
from credit.refusals import Invalid, one_of

LONGEST = dt.timedelta(days=5 * 366)  # an authorisation is for a purpose (a loan, a tender), not for ever


def authorization_current(*, today: dt.date | None = None) -> Q:
    """Authorisations that hold today: not revoked, `until` (their last day) not past."""
    return Q(revoked_at__isnull=True, until__gte=today or timezone.localdate())


def authorization_grant(*, subject: Subject, department_code: str, until: dt.date, granted_by: str) -> Authorization:
    departments = Authorization.department.field.related_model.objects  # credit never imports exchange
    department = departments.filter(code=(department_code or "").strip().upper(), active=True).first()
    if department is None:
        raise Invalid("unknown_department", "没有这个部门（请填写部门代码，如 HN-SCJG）。")
    today = timezone.localdate()
    if not today <= until <= today + LONGEST:
        raise Invalid("invalid_until", "授权截止日期须在今天到五年之内。")
    return Authorization.objects.create(subject=subject, department=department, until=until,
                                        granted_by=granted_by[:200])


def authorizations_of_subject(*, subject: Subject):
    return Authorization.objects.filter(subject=subject).select_related("department").order_by("-id")


def authorization_revoke(*, subject: Subject, authorization_id: int) -> Authorization:
    """Revoke at once (a revoked one stays revoked: asking again changes nothing)."""
    found = one_of(authorizations_of_subject(subject=subject), authorization_id,
                   missing="没有这项授权，或它不属于本主体。")
    if found.revoked_at is None:
        Authorization.objects.filter(pk=found.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        found.refresh_from_db()
    return found


def authorization_resource(authorization: Authorization) -> dict:
    today = timezone.localdate()
    status = ("revoked" if authorization.revoked_at else "expired" if authorization.until < today else "current")
    return {
        "id": authorization.pk,
        "department": {"code": authorization.department.code, "name": authorization.department.name},
        "until": authorization.until.isoformat(),
        "granted_at": authorization.granted_at.isoformat(),
        "revoked_at": authorization.revoked_at.isoformat() if authorization.revoked_at else None,
        "status": status,
    }

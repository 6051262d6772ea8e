"""What an enterprise does through the portal (portal.md §3–§6), each action with its audit event in one
transaction: objections, credit repair requests, authorisations of departments, credit reports. The work is
the store's (credit.objections, credit.repairs, credit.authorizations) and portal.reports'; a refusal
(credit.refusals.Refused) is audited too, after its transaction rolled back, and raised on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from django.db import transaction

from credit.authorizations import authorization_grant, authorization_revoke
from credit.models import Authorization, Objection, RepairRequest
from credit.objections import objection_file
from credit.refusals import Refused
from credit.repairs import repair_file
from portal.models import PortalAccount
from portal.reports import IssuedReport, report_issue
from portal.services import AuditAction, audit_record

T = TypeVar("T")


def _who(account: PortalAccount) -> str:
    """How a department sees who acted: the subject, and the account's email to answer to."""
    return f"{account.subject.name}（企业账户 {account.email}）"


def _audited(*, account: PortalAccount, ip: str | None, action: str, work: Callable[[], T],
             detail: Callable[[T], dict]) -> T:
    try:
        with transaction.atomic():
            done = work()
            audit_record(action=action, ip=ip, account=account, **detail(done))
    except Refused as refusal:
        audit_record(action=AuditAction.REQUEST_REFUSED, ip=ip, account=account, attempted=action,
                     code=refusal.code)
        raise
    return done


def portal_objection_file(*, account: PortalAccount, ip: str | None, record_id: int, reason: str,
                          evidence: bytes | None = None) -> Objection:
    return _audited(account=account, ip=ip, action=AuditAction.OBJECTION_FILED,
                    work=lambda: objection_file(subject=account.subject, record_id=record_id, reason=reason,
                                                raised_by=_who(account), evidence=evidence),
                    detail=lambda o: {"objection": o.pk, "record": o.record_id, "evidence": o.evidence_type})


def portal_repair_file(*, account: PortalAccount, ip: str | None, record_id: int, reason: str,
                       commitment: bool) -> RepairRequest:
    return _audited(account=account, ip=ip, action=AuditAction.REPAIR_FILED,
                    work=lambda: repair_file(subject=account.subject, record_id=record_id, reason=reason,
                                             commitment=commitment, filed_by=_who(account)),
                    detail=lambda r: {"repair": r.pk, "record": r.record_id})


def portal_authorization_grant(*, account: PortalAccount, ip: str | None, department_code: str,
                               until: dt.date) -> Authorization:
    return _audited(account=account, ip=ip, action=AuditAction.AUTHORIZATION_GRANTED,
                    work=lambda: authorization_grant(subject=account.subject, department_code=department_code,
                                                     until=until, granted_by=_who(account)),
                    detail=lambda a: {"authorization": a.pk, "department": a.department.code,
                                      "until": a.until.isoformat()})


def portal_authorization_revoke(*, account: PortalAccount, ip: str | None, authorization_id: int) -> Authorization:
    return _audited(account=account, ip=ip, action=AuditAction.AUTHORIZATION_REVOKED,
                    work=lambda: authorization_revoke(subject=account.subject, authorization_id=authorization_id),
                    detail=lambda a: {"authorization": a.pk, "department": a.department.code})


def portal_report_issue(*, account: PortalAccount, ip: str | None, scope: str) -> IssuedReport:
    return _audited(account=account, ip=ip, action=AuditAction.REPORT_ISSUED,
                    work=lambda: report_issue(subject=account.subject, scope=scope, issued_by=_who(account)),
                    detail=lambda issued: {"report": issued.report.number, "scope": scope,
                                           "sha256": issued.report.sha256})

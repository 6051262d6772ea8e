"""Objections against records a department supplied: listing them and posting its decision."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from api.problems import Problem
from credit.models import Objection, ObjectionStatus
from exchange.exchange_log import log_append
from exchange.models import Department


def objections_for_department(*, department: Department, status: str | None = None) -> QuerySet[Objection]:
    """Objections against records this department supplied (sent at least once)."""
    supplied = Q(record__department=department) | Q(record__sources__department=department)
    ids = Objection.objects.filter(supplied).values("id")
    queryset = Objection.objects.filter(id__in=ids).select_related("record", "subject").order_by("id")
    return queryset.filter(status=status) if status else queryset


def objection_resource(objection: Objection) -> dict:
    return {
        "id": objection.pk,
        "record": objection.record_id,
        "category": objection.record.category,
        "natural_key": objection.record.natural_key,
        "subject": objection.subject.name if objection.subject_id else None,
        "raised_by": objection.raised_by,
        "reason": objection.reason,
        "status": objection.status,
        "decision_reason": objection.decision_reason,
        "raised_at": objection.raised_at.isoformat(),
        "decided_at": objection.decided_at.isoformat() if objection.decided_at else None,
    }


@transaction.atomic
def objection_decide(*, department: Department, objection_id: int, decision: str, reason: str) -> Objection:
    """Close an open objection as corrected or upheld; the decision enters the exchange log with it."""
    objection = (objections_for_department(department=department).select_for_update(of=("self",))
                 .filter(id=objection_id).first())
    if objection is None:
        raise Problem("没有这个异议，或它不涉及本部门报送的记录。", code="not_found", status=404, title="未找到")
    if objection.status != ObjectionStatus.OPEN:
        raise Problem(f"该异议已于 {objection.decided_at:%Y-%m-%d} 作出处理（{objection.status}），不能再次处理。",
                      code="objection_already_decided", status=409, title="异议已处理")
    objection.status, objection.decision_reason = decision, reason
    objection.decided_by, objection.decided_at = department, timezone.now()
    objection.save(update_fields=["status", "decision_reason", "decided_by", "decided_at"])
    log_append(kind="objection_decided", department_code=department.code, payload={
        "objection": objection.pk, "record": objection.record_id, "decision": decision, "reason": reason,
        "decided_at": objection.decided_at.isoformat(),
    })
    return objection

"""Objections against records a department owns: listing them and posting its decision.

Only the owning department (`Record.department`, the one whose row created the record or to which an operator
transferred it) sees and decides them (exchange-protocol §8); a department that merely sent the same record
once is a source, not the owner."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from credit.models import Objection, ObjectionStatus
from exchange.exchange_log import log_append, log_lock
from exchange.models import Department


class ObjectionNotFound(Exception):
    """No such objection, or not against a record this department owns (to it, the same thing)."""


class ObjectionAlreadyDecided(Exception):
    def __init__(self, objection: Objection):
        super().__init__(f"objection {objection.pk} already decided ({objection.status})")
        self.objection = objection


def objections_for_department(*, department: Department, status: str | None = None) -> QuerySet[Objection]:
    """Objections against records this department owns."""
    queryset = (Objection.objects.filter(record__department=department).select_related("record", "subject")
                .order_by("id"))
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
    log_lock()  # before the objection's row: the lock order of credit/locks.py
    objection = (objections_for_department(department=department).select_for_update(of=("self",))
                 .filter(id=objection_id).first())
    if objection is None:
        raise ObjectionNotFound(objection_id)
    if objection.status != ObjectionStatus.OPEN:
        raise ObjectionAlreadyDecided(objection)
    objection.status, objection.decision_reason = decision, reason
    objection.decided_by, objection.decided_at = department, timezone.now()
    objection.save(update_fields=["status", "decision_reason", "decided_by", "decided_at"])
    log_append(kind="objection_decided", department_code=department.code, payload={
        "objection": objection.pk, "record": objection.record_id, "decision": decision, "reason": reason,
        "decided_at": objection.decided_at.isoformat(),
    })
    return objection

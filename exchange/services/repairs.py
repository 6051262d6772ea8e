"""Credit repair requests against records a department owns: listing them and posting its decision
(portal.md §4, exchange-protocol §8). Only the owning department sees and decides them; both the listing
and the decision are entered in the exchange log. Approval ends the record's publicity that day
(`credit.services.record_repair`: the record leaves the public pages, the feed gets publicity_ended)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from credit.locks import merge_lock
from credit.models import Record, RepairRequest, RepairStatus
from credit.services import record_repair
from exchange.exchange_log import log_append, log_lock
from exchange.models import Department


class RepairNotFound(Exception):
    """No such repair request, or not for a record this department owns (to it, the same thing)."""


class RepairAlreadyDecided(Exception):
    def __init__(self, repair: RepairRequest):
        super().__init__(f"repair request {repair.pk} already decided ({repair.status})")
        self.repair = repair


def repairs_for_department(*, department: Department, status: str | None = None) -> QuerySet[RepairRequest]:
    """Repair requests for records this department owns."""
    queryset = (RepairRequest.objects.filter(record__department=department).select_related("record", "subject")
                .order_by("id"))
    return queryset.filter(status=status) if status else queryset


def repair_resource(repair: RepairRequest) -> dict:
    return {
        "id": repair.pk,
        "record": repair.record_id,
        "category": repair.record.category,
        "natural_key": repair.record.natural_key,
        "subject": repair.subject.name,
        "uscc": repair.subject.uscc,
        "filed_by": repair.filed_by,
        "reason": repair.reason,
        "commitment": repair.commitment,
        "status": repair.status,
        "decision_reason": repair.decision_reason,
        "filed_at": repair.filed_at.isoformat(),
        "decided_at": repair.decided_at.isoformat() if repair.decided_at else None,
    }


@transaction.atomic
def repairs_list(*, department: Department, status: str | None, after: int, limit: int) -> list[RepairRequest]:
    """A page of the department's repair requests; that it read them enters the exchange log."""
    log_lock()  # first: the lock order of credit/locks.py
    page = list(repairs_for_department(department=department, status=status).filter(id__gt=after)[:limit])
    log_append(kind="repairs_listed", department_code=department.code,
               payload={"status": status, "after": after, "repairs": [r.pk for r in page]})
    return page


@transaction.atomic
def repair_decide(*, department: Department, repair_id: int, decision: str, reason: str) -> RepairRequest:
    """Approve or reject an open repair request; approval repairs the record today. The decision, the
    record's change and the exchange log entry commit together."""
    log_lock()  # the lock order of credit/locks.py: the log, the merge lock, then rows (record, request)
    found = repairs_for_department(department=department).filter(id=repair_id).values("record_id").first()
    if found is None:
        raise RepairNotFound(repair_id)
    merge_lock()
    Record.objects.select_for_update().filter(pk=found["record_id"]).first()
    repair = repairs_for_department(department=department).select_for_update(of=("self",)).get(id=repair_id)
    if repair.status != RepairStatus.OPEN:
        raise RepairAlreadyDecided(repair)
    today = timezone.localdate()
    if decision == RepairStatus.APPROVED:
        record_repair(record_id=repair.record_id, repaired_on=today)
    repair.status, repair.decision_reason = decision, reason
    repair.decided_by, repair.decided_at = department, timezone.now()
    repair.save(update_fields=["status", "decision_reason", "decided_by", "decided_at"])
    log_append(kind="repair_decided", department_code=department.code, payload={
        "repair": repair.pk, "record": repair.record_id, "decision": decision, "reason": reason,
        "decided_at": repair.decided_at.isoformat(),
        **({"repaired_on": today.isoformat()} if decision == RepairStatus.APPROVED else {}),
    })
    return repair

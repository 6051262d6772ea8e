"""Credit repair requests (信用修复, portal.md §4) as an enterprise files them. The department that supplied
the record decides (exchange/services/repairs.py); approval ends publicity through `record_repair`."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from credit.models import RepairRequest, RepairStatus, Subject
from credit.objections import own_record
from credit.publicity import repair_earliest
from credit.refusals import Invalid, Refused, constraint_violated, one_of
from validation.catalog import current_catalog

REASON_MAX = 2000


def repair_check(*, record, today: dt.date) -> None:
    """Raise unless credit repair may be asked for this record today: a category the catalog lets repair
    (administrative penalties), public today, and past the catalog's minimum period."""
    catalog = current_catalog()
    category = catalog.categories.get(record.category)
    if category is None or not category.publicity.repairable or not record.is_public:
        raise Refused("repair_not_applicable", "只有当前正在公示的行政处罚信息可以申请信用修复。")
    earliest = repair_earliest(record.payload, catalog)
    if today < earliest:
        raise Refused("repair_too_early", f"最短公示期未满，{earliest.isoformat()} 起方可申请信用修复。",
                      earliest=earliest.isoformat())


def repair_file(*, subject: Subject, record_id: int, reason: str, commitment: bool, filed_by: str) -> RepairRequest:
    """File a repair request for one of the subject's own records, with its credit commitment."""
    reason = (reason or "").strip()
    if not 1 <= len(reason) <= REASON_MAX:
        raise Invalid("invalid_reason", f"请说明申请信用修复的理由（不超过 {REASON_MAX} 个字符）。")
    if commitment is not True:
        raise Invalid("commitment_required", "申请信用修复须作出信用承诺（commitment 为 true）。")
    record = own_record(subject=subject, record_id=record_id)
    repair_check(record=record, today=timezone.localdate())
    try:
        with transaction.atomic():
            return RepairRequest.objects.create(record=record, subject=subject, filed_by=filed_by[:200],
                                                reason=reason, commitment=True)
    except BaseException as exc:
        if constraint_violated(exc) == "repair_one_open":  # the database decides, concurrent requests too
            raise Refused("repair_open", "这条记录已有一件未处理的信用修复申请。") from exc
        raise


def repairs_of_subject(*, subject: Subject):
    return RepairRequest.objects.filter(subject=subject).select_related("record").order_by("-id")


def repair_of_subject(*, subject: Subject, repair_id: int) -> RepairRequest:
    return one_of(repairs_of_subject(subject=subject), repair_id, missing="没有这件信用修复申请，或它不属于本主体。")


def repair_portal_resource(repair: RepairRequest) -> dict:
    """A repair request as the enterprise sees it (portal.md §4)."""
    return {
        "id": repair.pk,
        "record": repair.record_id,
        "category": repair.record.category,
        "reason": repair.reason,
        "status": repair.status,
        "filed_at": repair.filed_at.isoformat(),
        "decision_reason": repair.decision_reason or None,
        "decided_at": repair.decided_at.isoformat() if repair.decided_at else None,
        "repaired_at": repair.record.repaired_at.isoformat()
        if repair.status == RepairStatus.APPROVED and repair.record.repaired_at else None,
    }

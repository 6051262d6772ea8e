"""What the portal reads: an enterprise's own records, public or not (portal.md §2)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from credit.models import Objection, Record, RepairRequest, Subject
from credit.publicity import not_public_reason
from credit.selectors import record_versions, subject_info
from portal.errors import PortalError
from validation.catalog import current_catalog


def _latest_per_record(model, records: QuerySet[Record]) -> dict[int, dict]:
    """Per record id, the newest row of `model` (objections, repair requests) on it as `{"id", "status"}`."""
    rows = (model.objects.filter(record__in=records.values("id")).order_by("record_id", "-id").distinct("record_id")
            .values("record_id", "id", "status"))
    return {r["record_id"]: {"id": r["id"], "status": r["status"]} for r in rows}


def own_records(*, subject: Subject, category: str | None = None) -> dict[str, Any]:
    """The subject as it is registered and every record it is the subject of (or those of one category),
    public or not, each with why it is not public, its owner department, every version, and its latest
    objection and repair request. The subject's own data is shown as stored: nothing is masked for it.

    A subject may hold thousands of records: they are read as plain rows, and their versions, objections and
    repairs each in one statement that selects the subject's records itself (a subquery, not a list of every
    record id passed back in)."""
    records = Record.objects.filter(subject=subject)
    if category:
        if category not in current_catalog().categories:
            raise PortalError("unknown_category", f"没有“{category}”这个信息类别。")
        records = records.filter(category=category)
    rows = list(records.order_by("category", "id").values(
        "id", "category", "payload", "is_public", "publicity_reason", "publicity_from", "publicity_until", "state",
        "department__code", "department__name"))
    versions = record_versions(records, department_id=None, subject_itself=True)
    objections, repairs = _latest_per_record(Objection, records), _latest_per_record(RepairRequest, records)
    return {
        "subject": subject_info(subject, with_registration=True),
        "records": [
            {
                "id": r["id"],
                "category": r["category"],
                "data": r["payload"],
                "public": r["is_public"],
                "not_public_reason": None if r["is_public"] else not_public_reason(r["publicity_reason"]),
                "publicity_from": r["publicity_from"],
                "publicity_until": r["publicity_until"],
                "state": r["state"],
                "department": {"code": r["department__code"], "name": r["department__name"]},
                "versions": versions[r["id"]],
                "objection": objections.get(r["id"]),
                "repair": repairs.get(r["id"]),
            }
            for r in rows
        ],
    }

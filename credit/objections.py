"""Objections (异议) an enterprise files against its own records (portal.md §3). The supplying department
sees and decides them through the exchange API (exchange/services/objections.py); an open one marks the
record on the public pages (the public projection reads credit_objection)."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import secrets

from django.db import transaction
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from credit.models import Objection, ObjectionStatus, Record, Subject
from credit.refusals import Invalid, Refused, constraint_violated, one_of
from credit.working_days import working_day_add
from filestore.storage import stored_file_delete, stored_file_open, stored_file_write

REASON_MIN, REASON_MAX = 10, 2000
EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
DUE_WORKING_DAYS = 7
_IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}


def evidence_type_of(content: bytes) -> str | None:
    """The evidence's media type as its content shows it (a name or a declared type proves nothing):
    application/pdf, image/jpeg or image/png; None for anything else."""
    if content.startswith(b"%PDF-") and b"%%EOF" in content[-1024:]:
        return "application/pdf"
    try:
        with Image.open(io.BytesIO(content)) as image:
            kind = image.format
            image.verify()  # reads the whole image's structure: a renamed or truncated file fails here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None
    return _IMAGE_TYPES.get(kind or "")


def _check_evidence(evidence: bytes) -> str:
    if len(evidence) > EVIDENCE_MAX_BYTES:
        raise Invalid("evidence_too_large", f"证明材料不能超过 {EVIDENCE_MAX_BYTES // (1024 * 1024)} MiB。")
    media_type = evidence_type_of(evidence)
    if media_type is None:
        raise Invalid("evidence_type_not_allowed", "证明材料须为 PDF、JPEG 或 PNG 文件（按文件内容判断）。")
    return media_type


def _evidence_store(evidence: bytes) -> str:
    """Encrypted at rest like batch files, in the same store (filestore/storage.py); returns its name."""
    relative = f"evidence/{secrets.token_hex(16)}"
    stored_file_write(relative, evidence)
    return relative


def objection_evidence_read(objection: Objection) -> bytes:
    """The evidence as the enterprise attached it, decrypted."""
    with stored_file_open(objection.evidence_path) as stored:
        return stored.read()


def own_record(*, subject: Subject, record_id: int) -> Record:
    """A record of this subject; any other id (another subject's, or none) is the same NotFound."""
    return one_of(Record.objects.filter(subject=subject), record_id, missing="没有这条记录，或它不属于本主体。")


def objection_file(*, subject: Subject, record_id: int, reason: str, raised_by: str,
                   evidence: bytes | None = None, today: dt.date | None = None) -> Objection:
    """File an objection against one of the subject's own records, due 7 working days after filing
    (`today`, the filing day: today unless given)."""
    reason = (reason or "").strip()
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise Invalid("invalid_reason", f"异议理由须为 {REASON_MIN}–{REASON_MAX} 个字符。")
    record = own_record(subject=subject, record_id=record_id)
    media_type = _check_evidence(evidence) if evidence else ""
    stored = _evidence_store(evidence) if evidence else ""
    try:
        with transaction.atomic():
            return Objection.objects.create(
                record=record, subject=subject, raised_by=raised_by[:200], reason=reason,
                due_on=working_day_add(today or timezone.localdate(), DUE_WORKING_DAYS),
                evidence_path=stored, evidence_type=media_type)
    except BaseException as exc:
        if stored:  # no objection names it
            with contextlib.suppress(OSError):  # a store unreachable now: a stray file is harmless
                stored_file_delete(stored)
        if constraint_violated(exc) == "objection_one_open":  # the database decides, concurrent filings too
            raise Refused("objection_open", "这条记录已有一件未处理的异议，处理完毕前不能再次提出。") from exc
        raise


def objections_of_subject(*, subject: Subject):
    return Objection.objects.filter(subject=subject).select_related("record").order_by("-id")


def objection_of_subject(*, subject: Subject, objection_id: int) -> Objection:
    return one_of(objections_of_subject(subject=subject), objection_id, missing="没有这件异议，或它不属于本主体。")


def objection_portal_resource(objection: Objection) -> dict:
    """An objection as the enterprise sees it (portal.md §3)."""
    return {
        "id": objection.pk,
        "record": objection.record_id,
        "category": objection.record.category,
        "reason": objection.reason,
        "status": objection.status,
        "due_on": objection.due_on.isoformat() if objection.due_on else None,
        "evidence": objection.evidence_type or None,
        "raised_at": objection.raised_at.isoformat(),
        "decision": None if objection.status == ObjectionStatus.OPEN else objection.status,
        "decision_reason": objection.decision_reason or None,
        "decided_at": objection.decided_at.isoformat() if objection.decided_at else None,
    }

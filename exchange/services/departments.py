"""Provisioning departments and their signing keys, deactivating a department and transferring its
records to another (operator CLI, demo loader, tools)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import IntegrityError, transaction
from django.utils import timezone

from credit.locks import merge_lock
from credit.models import Objection, ObjectionStatus, Record
from exchange.exchange_log import log_append, log_lock
from exchange.models import Department, DepartmentKey
from validation.catalog import current_catalog

DEPARTMENT_CODE = re.compile(r"^[A-Z0-9-]{2,32}$")
KEYID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class ProvisioningError(Exception):
    """Bad operator input, in plain words."""


@dataclass(frozen=True)
class Outcome:
    obj: object
    created: bool
    changed: bool


def check_categories(categories: list[str]) -> list[str]:
    known = set(current_catalog().categories)
    unknown = [c for c in categories if c not in known]
    if unknown:
        raise ProvisioningError(
            f"unknown categor{'y' if len(unknown) == 1 else 'ies'}: {', '.join(unknown)} "
            f"(the catalog has: {', '.join(sorted(known))})"
        )
    return sorted(set(categories))


@transaction.atomic
def department_register(*, code: str, name: str, write: list[str], read: list[str]) -> Outcome:
    """Create the department, or bring an existing one to exactly these name and grants."""
    if not DEPARTMENT_CODE.match(code):
        raise ProvisioningError(f"department code {code!r} must be 2–32 characters of A–Z, 0–9 and '-'")
    if not name.strip():
        raise ProvisioningError("department name must not be empty")
    write, read = check_categories(write), check_categories(read)
    department, created = Department.objects.select_for_update().get_or_create(
        code=code, defaults={"name": name.strip(), "write_categories": write, "read_categories": read}
    )
    changed = created
    if not created and (department.name, department.write_categories, department.read_categories) != (
        name.strip(), write, read
    ):
        department.name, department.write_categories, department.read_categories = name.strip(), write, read
        department.save(update_fields=["name", "write_categories", "read_categories", "updated_at"])
        changed = True
    return Outcome(department, created, changed)


def load_ed25519_public_key(pem: bytes) -> bytes:
    """Raw 32-byte key from a PEM SubjectPublicKeyInfo; plain-words error otherwise."""
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise ProvisioningError("the key file is not a PEM public key (SubjectPublicKeyInfo)") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ProvisioningError("the key must be an Ed25519 public key")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@transaction.atomic
def department_key_add(*, department_code: str, keyid: str, public_key_pem: bytes,
                       not_before: dt.datetime | None = None) -> Outcome:
    """Register a key. Adding the same keyid with the same key again changes nothing."""
    if not KEYID.match(keyid):
        raise ProvisioningError(f"keyid {keyid!r} must be 1–64 characters of A–Z, a–z, 0–9, '.', '_', ':' and '-'")
    raw = load_ed25519_public_key(public_key_pem)
    department = Department.objects.filter(code=department_code).first()
    if department is None:
        raise ProvisioningError(f"no department {department_code!r}; register it first")
    existing = DepartmentKey.objects.select_for_update().filter(keyid=keyid).first()
    if existing is not None:
        if existing.department_id != department.id:
            raise ProvisioningError(f"keyid {keyid!r} already belongs to another department")
        if bytes(existing.public_key) != raw:
            raise ProvisioningError(f"keyid {keyid!r} is already registered with a different key; use a new keyid")
        return Outcome(existing, False, False)
    try:
        with transaction.atomic():
            key = DepartmentKey.objects.create(department=department, keyid=keyid, public_key=raw,
                                               not_before=not_before or timezone.now())
    except IntegrityError as exc:  # a concurrent add of the same keyid
        raise ProvisioningError(f"keyid {keyid!r} was registered concurrently; run the command again") from exc
    return Outcome(key, True, True)


@transaction.atomic
def department_key_revoke(*, keyid: str, reason: str = "", at: dt.datetime | None = None, by: str = "") -> Outcome:
    """From `at` (default: now) the key's requests answer 401 key_revoked: every request looks its key up
    afresh, so the very next one is refused. Entered in the exchange log (with `by`, the operator's account,
    when the console revokes); revoking again changes nothing."""
    log_lock()  # before the key's row: the lock order of credit/locks.py
    key = DepartmentKey.objects.select_for_update().select_related("department").filter(keyid=keyid).first()
    if key is None:
        raise ProvisioningError(f"no key {keyid!r}")
    if key.revoked_at is not None:
        return Outcome(key, False, False)
    key.revoked_at = at or timezone.now()
    key.save(update_fields=["revoked_at"])
    log_append(kind="department_key_revoked", department_code=key.department.code,
               payload={"keyid": keyid, "reason": reason.strip(), "revoked_at": key.revoked_at.isoformat(),
                        **({"by": by} if by else {})})
    return Outcome(key, False, True)


@transaction.atomic
def department_deactivate(*, code: str, reason: str, by: str = "") -> Outcome:
    """From now on the department's keys are refused (401 department_inactive). Its records stay as they
    are, public where publicity says so, and nobody may change them until they are transferred."""
    if not reason.strip():
        raise ProvisioningError("give the reason for deactivating the department (--reason)")
    log_lock()  # before the department's row: the lock order of credit/locks.py
    department = Department.objects.select_for_update().filter(code=code).first()
    if department is None:
        raise ProvisioningError(f"no department {code!r}")
    if not department.active:
        return Outcome(department, False, False)
    department.active = False
    department.save(update_fields=["active", "updated_at"])
    log_append(kind="department_deactivated", department_code=code,
               payload={"reason": reason.strip(), **({"by": by} if by else {})})
    return Outcome(department, False, True)


@dataclass(frozen=True)
class Transfer:
    records: int
    open_objections: int


@transaction.atomic
def records_transfer(*, from_code: str, to_code: str, category: str | None = None) -> Transfer:
    """Make `to_code` the owner of `from_code`'s records (of one category, or all), and so of their
    objections, in one transaction entered in the exchange log. The new owner must be active and
    allowed to write every category moved."""
    departments = {d.code: d for d in Department.objects.filter(code__in=[from_code, to_code])}
    for code in (from_code, to_code):
        if code not in departments:
            raise ProvisioningError(f"no department {code!r}")
    source, target = departments[from_code], departments[to_code]
    if source == target:
        raise ProvisioningError("the records already belong to that department")
    if not target.active:
        raise ProvisioningError(f"department {to_code} is deactivated; transfer to an active department")
    if category is not None:
        check_categories([category])
    log_lock()  # the lock order of credit/locks.py: the exchange log's, then the merge lock
    merge_lock()  # a merge decides ownership under this lock: no chunk sees half a transfer
    records = Record.objects.filter(department=source)
    if category is not None:
        records = records.filter(category=category)
    categories = [category] if category else sorted(records.order_by().values_list("category", flat=True).distinct())
    refused = [c for c in categories if not target.may_write(c)]
    if refused:
        raise ProvisioningError(f"department {to_code} may not write {', '.join(refused)}; grant it with "
                                f"register_department first, or transfer another --category")
    open_objections = Objection.objects.filter(record__in=records, status=ObjectionStatus.OPEN).count()
    moved = records.update(department=target, updated_at=timezone.now())
    if moved:
        log_append(kind="records_transferred", department_code=from_code, payload={
            "from": from_code, "to": to_code, "category": category, "records": moved,
            "open_objections": open_objections})
    return Transfer(moved, open_objections)

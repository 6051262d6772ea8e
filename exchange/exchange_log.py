"""The tamper-evident exchange log (exchange-protocol §7).

`log_append` must run inside the transaction of the state change it records:
both commit or neither does. Appends are serialised by a transaction-level
advisory lock, so indexes have no gaps and each entry chains onto the last.
That lock comes first in the platform's lock order (credit/locks.py): a
transaction that will append calls `log_lock()` before it locks or writes
anything else.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from exchange.models import ExchangeLogEntry

GENESIS_HASH = "0" * 64
_LOCK_KEY = 0x45584C4F47  # "EXLOG": the advisory lock that serialises appends


def canonical_entry(*, index: int, kind: str, department_code: str, payload: dict[str, Any], recorded_at: str) -> bytes:
    """The bytes that are hashed: JSON with sorted keys, no spaces, UTF-8."""
    entry = {"index": index, "kind": kind, "department": department_code, "payload": payload,
             "recorded_at": recorded_at}
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(previous_hash: str, canonical: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(previous_hash) + canonical).hexdigest()


def log_lock() -> None:
    """Take the log's transaction-level lock: first thing in a transaction that will append (credit/locks.py)."""
    if not connection.in_atomic_block:
        raise RuntimeError("the exchange log lock is transaction-level: take it inside a transaction")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])


def log_append(*, kind: str, payload: dict[str, Any], department_code: str = "") -> ExchangeLogEntry:
    """Append one entry. The caller has taken `log_lock()` at the start of its transaction; taking it
    again here is free (advisory locks are re-entrant) and keeps a forgotten call from forking the chain."""
    if not connection.in_atomic_block:
        raise RuntimeError("log_append must run inside the transaction of the change it records")
    log_lock()
    last = ExchangeLogEntry.objects.order_by("-index").values("index", "entry_hash").first()
    index = 0 if last is None else last["index"] + 1
    previous = GENESIS_HASH if last is None else last["entry_hash"]
    payload = json.loads(json.dumps(payload, default=str))  # exactly what JSONB will hand back
    recorded_at = timezone.now().isoformat(timespec="microseconds")
    canonical = canonical_entry(index=index, kind=kind, department_code=department_code, payload=payload,
                                recorded_at=recorded_at)
    return ExchangeLogEntry.objects.create(
        index=index, kind=kind, department_code=department_code, payload=payload,
        recorded_at=recorded_at, previous_hash=previous, entry_hash=entry_hash(previous, canonical),
    )


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    entries: int
    first_broken_index: int | None = None
    reason: str = ""


def log_verify(*, chunk: int = 5000) -> ChainCheck:
    """Walk the whole chain; name the first entry whose hash or link does not hold."""
    previous, expected_index, count = GENESIS_HASH, 0, 0
    with transaction.atomic():
        rows = ExchangeLogEntry.objects.order_by("index").values_list(
            "index", "kind", "department_code", "payload", "recorded_at", "previous_hash", "entry_hash"
        )
        for index, kind, dept, payload, recorded_at, prev_hash, stored_hash in rows.iterator(chunk_size=chunk):
            if index != expected_index:
                return ChainCheck(False, count, expected_index, f"entry {expected_index} is missing")
            if prev_hash != previous:
                return ChainCheck(False, count, index, "its link to the previous entry does not match")
            canonical = canonical_entry(index=index, kind=kind, department_code=dept, payload=payload,
                                        recorded_at=recorded_at.isoformat(timespec="microseconds"))
            if entry_hash(previous, canonical) != stored_hash:
                return ChainCheck(False, count, index, "its content does not match its hash")
            previous, expected_index, count = stored_hash, expected_index + 1, count + 1
        # The chain alone cannot show a cut-off tail; the receipts handed out can.
        orphan = _receipt_without_its_entry()
        if orphan is not None:
            return ChainCheck(False, count, orphan.log_index,
                              f"the receipt of batch {orphan.pk} points to it, but it is missing or different")
    return ChainCheck(True, count)


def _receipt_without_its_entry():
    from django.db.models import Exists, OuterRef

    from exchange.models import Batch

    entry = ExchangeLogEntry.objects.filter(index=OuterRef("log_index"), entry_hash=OuterRef("log_head"))
    return (Batch.objects.filter(log_index__isnull=False).exclude(Exists(entry))
            .order_by("log_index").only("pk", "log_index").first())


def log_head() -> tuple[int | None, str]:
    last = ExchangeLogEntry.objects.order_by("-index").values("index", "entry_hash").first()
    return (None, GENESIS_HASH) if last is None else (last["index"], last["entry_hash"])

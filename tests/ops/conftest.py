"""A hand-built February 2026 for the scorecards: the Spring Festival (15–23 Feb) and the worked Saturdays
around it (14 and 28 Feb), batches either side of the month's edges on the Shanghai clock."""

from __future__ import annotations

import datetime as dt
import io
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

SHANGHAI = ZoneInfo("Asia/Shanghai")
FEBRUARY = dt.date(2026, 2, 1)


def at(text: str) -> dt.datetime:
    """A moment on the Shanghai clock, '2026-02-13 10:00'."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def _department(code: str, write: list[str]):
    from exchange.models import Department
    from exchange.services.departments import department_register

    department = department_register(code=code, name=f"{code} 名称", write=write, read=write).obj
    Department.objects.filter(pk=department.pk).update(created_at=at("2026-01-05 09:00"))
    return department


def _batch(department, category: str, rows: list[dict], batch_id: str, received: str):
    from exchange.models import Batch
    from tests.credit.factories import ingest

    batch = ingest(department, category, rows, batch_id)
    Batch.objects.filter(pk=batch.pk).update(received_at=at(received))
    batch.refresh_from_db()
    return batch


def _record(natural_key: str):
    from credit.models import Record

    return Record.objects.get(natural_key=natural_key)


@pytest.fixture
def february(db, settings, tmp_path):
    """The month scorecards.md's figures are checked against; expected values worked out by hand in the
    tests. Three departments with data (SCJG, SWJ), two without (STHJ, GTZY), one made after February."""
    from credit.models import Objection, RepairRequest
    from exchange.services.batches import batch_receive
    from tests.credit.factories import penalty, registration

    settings.PLATFORM_SIGNING_KEY_DIR = tmp_path / "platform-keys"
    settings.BATCH_STORAGE_DIR = tmp_path / "batches"
    scjg = _department("HN-SCJG", ["registration", "admin_license", "admin_penalty"])
    swj = _department("HN-SWJ", ["admin_penalty"])
    _department("HN-STHJ", ["admin_penalty"])
    _department("HN-GTZY", ["admin_penalty"])
    later = _department("HN-LATE", ["admin_penalty"])
    type(later).objects.filter(pk=later.pk).update(created_at=at("2026-03-02 09:00"))

    # SCJG. Registrations received 10 minutes into 1 Feb (still 31 Jan in UTC): February's.
    registrations = _batch(scjg, "registration", [registration(1), registration(2)], "R-1", "2026-02-01 00:10")
    # Friday 13 Feb: P1 decided that day (delay 0), P2 on Mon 2 Feb (delay 9: 3–6, 9–13), a row with no
    # decision number (rejected).
    friday = _batch(scjg, "admin_penalty", [
        penalty("P1", 1, decided_on="2026-02-13"), penalty("P2", 1, decided_on="2026-02-02"),
        penalty(None, 1, decided_on="2026-02-13", decision_no=None)], "P-1", "2026-02-13 10:00")
    # Wednesday 25 Feb, after the holiday: P3 decided Fri 13 Feb (delay 3: Sat 14 worked, 24, 25), P4 on
    # Thu 12 Feb (delay 4), P1 again unchanged (accepted, created nothing).
    after_holiday = _batch(scjg, "admin_penalty", [
        penalty("P3", 1, decided_on="2026-02-13"), penalty("P4", 1, decided_on="2026-02-12"),
        penalty("P1", 1, decided_on="2026-02-13")], "P-2", "2026-02-25 09:00")
    # A CSV whose header names no catalog field: fails as a whole.
    broken, _ = batch_receive(department=scjg, category="admin_penalty", batch_id="P-broken",
                              content_type="text/csv", body=io.BytesIO("甲,乙\n1,2\n".encode()))
    from exchange.models import Batch
    from ingest.pipeline import batch_process

    batch_process(batch_id=broken.pk)
    Batch.objects.filter(pk=broken.pk).update(received_at=at("2026-02-20 11:00"))
    # Half an hour into 1 March: March's, although 28 Feb in UTC.
    _batch(scjg, "admin_penalty", [penalty("P5", 1, decided_on="2026-02-27")], "P-3", "2026-03-01 00:30")
    # and one from 31 January, 23:50
    _batch(scjg, "admin_penalty", [penalty("P0", 1, decided_on="2026-01-30")], "P-0", "2026-01-31 23:50")

    # SWJ. Fri 27 Feb: decided Fri 13 Feb, delay 5 (Sat 14, 24, 25, 26, 27). Sat 28 Feb (worked): decided
    # Fri 6 Feb, delay 11 (9–13, Sat 14, 24–27, Sat 28).
    _batch(swj, "admin_penalty", [penalty("S1", 3, decided_on="2026-02-13")], "S-1", "2026-02-27 15:00")
    _batch(swj, "admin_penalty", [penalty("S2", 3, decided_on="2026-02-06")], "S-2", "2026-02-28 10:00")

    # Objections on SCJG's records, as of the month's end (28 Feb 24:00).
    def objection(key, raised, due, decided=None, status="open"):
        return Objection.objects.create(
            record=_record(key), raised_by="企业", reason="有误", raised_at=at(raised), due_on=dt.date.fromisoformat(due),
            status=status if decided is None else "corrected", decided_at=decided and at(decided))

    registration_keys = sorted(_record_keys("registration"))
    objection("P1", "2026-02-10 09:00", "2026-02-25", decided="2026-02-20 16:00")  # on time
    objection("P2", "2026-02-11 09:00", "2026-02-13", decided="2026-02-26 10:00")  # late
    objection("P3", "2026-02-26 09:00", "2026-03-09")                              # open, not yet due: neither
    objection("P4", "2026-02-05 09:00", "2026-02-16")                              # open and due passed: late
    objection(registration_keys[0], "2026-02-12 09:00", "2026-02-24", decided="2026-03-02 10:00")  # late as of 28 Feb
    objection(registration_keys[1], "2026-03-01 09:00", "2026-03-10")              # March's
    # Repair requests on SCJG's records: two filed in February, one decided then.
    for key, decided in ((registration_keys[0], "2026-02-27 10:00"), (registration_keys[1], None)):
        record = _record(key)
        RepairRequest.objects.create(record=record, subject_id=record.subject_id, filed_by="企业", reason="已整改",
                                     commitment=True, filed_at=at("2026-02-16 10:00"),
                                     status="approved" if decided else "open", decided_at=decided and at(decided))
    return SimpleNamespace(month=FEBRUARY, scjg=scjg, swj=swj, batches=[registrations, friday, after_holiday, broken])


def _record_keys(category: str) -> list[str]:
    from credit.models import Record

    return list(Record.objects.filter(category=category).values_list("natural_key", flat=True))

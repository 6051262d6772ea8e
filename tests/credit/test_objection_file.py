"""credit/objections.py::objection_file — an enterprise's objection against its own record (portal.md §3)."""

from __future__ import annotations

import datetime as dt
import io
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from PIL import Image

from credit.models import Objection, Record
from credit.objections import objection_evidence_read, objection_file
from credit.refusals import Invalid, NotFound, Refused
from exchange.services.objections import objection_decide, objections_for_department
from tests.credit.factories import ingest, penalty

pytestmark = pytest.mark.django_db

REASON = "处罚决定已被复议撤销，请更正。"


@pytest.fixture(autouse=True)
def own_storage(settings, tmp_path):
    settings.BATCH_STORAGE_DIR = tmp_path / "batches"  # per test: "nothing was kept" is checkable


@pytest.fixture
def records(sthj):
    ingest(sthj, "admin_penalty", [penalty("P-1", 1), penalty("P-2", 2)], "p1")
    return Record.objects.get(natural_key="P-1"), Record.objects.get(natural_key="P-2")


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(out, format="PNG")
    return out.getvalue()


def _stored_evidence() -> list[Path]:
    root = Path(settings.BATCH_STORAGE_DIR) / "evidence"
    return sorted(root.iterdir()) if root.exists() else []


def test_due_in_seven_working_days_on_the_official_calendar(records):
    record, _ = records
    # filed the day before National Day: 1–7 October are holidays, Saturday 10 October a working day
    objection = objection_file(subject=record.subject, record_id=record.id, reason=REASON, raised_by="甲",
                               today=dt.date(2026, 9, 30))
    assert (objection.status, objection.due_on) == ("open", dt.date(2026, 10, 15))


def test_a_second_open_objection_is_refused_until_the_first_is_decided(records, sthj):
    record, _ = records
    first = objection_file(subject=record.subject, record_id=record.id, reason=REASON, raised_by="甲")
    with pytest.raises(Refused) as refused:
        objection_file(subject=record.subject, record_id=record.id, reason=REASON, raised_by="乙")
    assert refused.value.code == "objection_open"
    assert Objection.objects.filter(record=record).count() == 1
    objection_decide(department=sthj, objection_id=first.pk, decision="upheld", reason="经核实无误")
    assert objection_file(subject=record.subject, record_id=record.id, reason=REASON, raised_by="甲").status == "open"


def test_another_subjects_record_is_not_found(records):
    mine, theirs = records
    with pytest.raises(NotFound):
        objection_file(subject=mine.subject, record_id=theirs.id, reason=REASON, raised_by="甲")
    with pytest.raises(NotFound):
        objection_file(subject=mine.subject, record_id=2**63, reason=REASON, raised_by="甲")
    assert not Objection.objects.exists()


@pytest.mark.parametrize("reason", ["太短了", "长" * 2001, "  " + "短" * 8 + "  "])
def test_reason_of_10_to_2000_characters(records, reason):
    record, _ = records
    with pytest.raises(Invalid) as refused:
        objection_file(subject=record.subject, record_id=record.id, reason=reason, raised_by="甲")
    assert refused.value.code == "invalid_reason" and not Objection.objects.exists()


def test_evidence_checked_by_content_and_stored_encrypted(records):
    record, _ = records
    png = _png()
    objection = objection_file(subject=record.subject, record_id=record.id, reason=REASON, raised_by="甲",
                               evidence=png)
    assert objection.evidence_type == "image/png"
    (stored,) = _stored_evidence()
    assert png not in stored.read_bytes() and b"IHDR" not in stored.read_bytes()  # not kept in the clear
    assert objection_evidence_read(objection) == png


@pytest.mark.parametrize("evidence, code", [
    (b"MZ\x90\x00 an executable renamed .pdf", "evidence_type_not_allowed"),
    (b"\x89PNG\r\n\x1a\n truncated", "evidence_type_not_allowed"),
    (b"%PDF-1.7\n" + b"0" * (10 * 1024 * 1024) + b"\n%%EOF\n", "evidence_too_large"),
])
def test_evidence_refused_and_nothing_kept(records, evidence, code):
    record, _ = records
    with pytest.raises(Invalid) as refused:
        objection_file(subject=record.subject, record_id=record.id, reason=REASON, raised_by="甲", evidence=evidence)
    assert refused.value.code == code
    assert not Objection.objects.exists() and _stored_evidence() == []


def test_a_refused_second_objection_keeps_no_evidence_file(records):
    record, _ = records
    objection_file(subject=record.subject, record_id=record.id, reason=REASON, raised_by="甲")
    with pytest.raises(Refused):
        objection_file(subject=record.subject, record_id=record.id, reason=REASON, raised_by="甲",
                       evidence=b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    assert _stored_evidence() == []


def test_filed_objections_reach_the_owning_department_only(records, sthj, swj):
    record, _ = records
    objection = objection_file(subject=record.subject, record_id=record.id, reason=REASON, raised_by="甲")
    assert list(objections_for_department(department=sthj, status="open")) == [objection]
    assert list(objections_for_department(department=swj, status="open")) == []


def test_the_public_projection_marks_the_record_while_open(records, sthj):
    record, _ = records
    objection = objection_file(subject=record.subject, record_id=record.id, reason=REASON, raised_by="甲")

    def marked() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT exists(SELECT FROM public_projection.open_objections WHERE record_id = %s)",
                           [record.id])
            return cursor.fetchone()[0]

    assert marked()
    objection_decide(department=sthj, objection_id=objection.pk, decision="corrected", reason="已更正")
    assert not marked()


@pytest.mark.django_db(transaction=True)
def test_concurrent_filings_make_one_objection(records):
    record, _ = records
    outcomes = []

    def file():
        try:
            objection_file(subject=record.subject, record_id=record.id, reason=REASON, raised_by="甲")
            outcomes.append("filed")
        except Refused as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=file) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["filed"] + ["objection_open"] * 3
    assert Objection.objects.filter(record=record).count() == 1

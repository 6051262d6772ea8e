"""A withdrawn registration (issue #11 item 8) takes the subject's registration details out of public view."""

from __future__ import annotations

import datetime as dt
import importlib
import json

from django.db import connection

from credit.models import Subject
from tests.credit.factories import ingest, penalty, registration, uscc


def _public_page(code: str) -> list:
    with connection.cursor() as cursor:
        cursor.execute("SELECT json_build_array(p.legal_representative, p.status, p.address, p.registration_authority,"
                       " p.registered, p.name)::text FROM public_projection.subjects p WHERE p.uscc = %s", [code])
        row = cursor.fetchone()
        return json.loads(row[0]) if row else None


def test_a_withdrawn_registration_leaves_no_registration_details_in_view(scjg, sthj):
    ingest(scjg, "registration", [registration(1, address="长沙市岳麓区某路1号")], "reg-1")
    ingest(sthj, "admin_penalty", [penalty("P-1", 1, decided_on=str(dt.date.today()))], "pen-1")  # keeps the subject public after the withdrawal
    assert _public_page(uscc(1))[:5] == ["张三", "active", "长沙市岳麓区某路1号", "长沙市市场监督管理局", True]
    batch = ingest(scjg, "registration", [{"op": "withdraw", "uscc": uscc(1)}], "reg-2")
    assert batch.counts["withdrawn"] == 1
    subject = Subject.objects.get(uscc=uscc(1))
    assert (subject.legal_representative, subject.status, subject.address, subject.registration_authority,
            subject.registration, subject.registered) == ("", "", "", "", {}, False)
    assert _public_page(uscc(1)) == ["", "", "", "", False, "湖南测试1有限公司"]
    ingest(scjg, "registration", [registration(1)], "reg-3")  # registered again: shown again
    assert _public_page(uscc(1))[:2] == ["张三", "active"]


def test_the_migration_clears_registrations_withdrawn_before(scjg, sthj):
    ingest(scjg, "registration", [registration(2)], "reg-1")
    ingest(sthj, "admin_penalty", [penalty("P-2", 2, decided_on=str(dt.date.today()))], "pen-1")
    ingest(scjg, "registration", [{"op": "withdraw", "uscc": uscc(2)}], "reg-2")
    Subject.objects.filter(uscc=uscc(2)).update(registered=True, legal_representative="张三", status="active")
    with connection.cursor() as cursor:
        cursor.execute(importlib.import_module("credit.migrations.0007_withdrawn_registrations_cleared").CLEAR)
    assert _public_page(uscc(2))[:2] == ["", ""]

"""The department client answers what enterprises raised, against a live server: `objections`,
`decide-objection`, `repairs`, `decide-repair` (signed like every call; the decisions in the exchange log)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from credit.models import Objection, Record, RepairRequest
from exchange.models import ExchangeLogEntry
from tests.credit.factories import ingest, penalty
from tests.exchange.test_client_department_reads import run_client

pytestmark = pytest.mark.django_db(transaction=True)


def test_list_and_decide_objections_and_repairs(live_server, scjg, capsys):
    decided_on = (timezone.localdate() - dt.timedelta(days=200)).isoformat()
    ingest(scjg, "admin_penalty", [penalty("湘罚〔2026〕1号", 1, decided_on=decided_on)], "pen")
    record = Record.objects.get()
    objection = Objection.objects.create(record=record, subject=record.subject, raised_by="甲", reason="事实有误")
    repair = RepairRequest.objects.create(record=record, subject=record.subject, filed_by="甲", reason="已整改",
                                          commitment=True)

    code, out, err = run_client(capsys, live_server.url, "objections", "--status", "open")
    assert code == 0, err
    assert [json.loads(line)["id"] for line in out.splitlines()] == [objection.pk]
    code, out, err = run_client(capsys, live_server.url, "decide-objection", str(objection.pk),
                                "--decision", "upheld", "--reason", "经核实无误")
    assert code == 0, err
    assert json.loads(out)["status"] == "upheld"

    code, out, err = run_client(capsys, live_server.url, "repairs", "--status", "open")
    assert code == 0 and [json.loads(line)["id"] for line in out.splitlines()] == [repair.pk]
    code, out, err = run_client(capsys, live_server.url, "decide-repair", str(repair.pk),
                                "--decision", "approved", "--reason", "准予修复")
    assert code == 0, err
    assert json.loads(out)["status"] == "approved"
    record.refresh_from_db()
    assert (record.is_public, record.publicity_reason) == (False, "repaired")
    assert set(ExchangeLogEntry.objects.values_list("kind", flat=True)) >= {"objection_decided", "repair_decided"}

    code, out, err = run_client(capsys, live_server.url, "decide-repair", str(repair.pk),
                                "--decision", "approved", "--reason", "再次")
    assert code == 2 and "repair_already_decided" in err

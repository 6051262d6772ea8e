"""manage.py ingest / load_demo: the same intake and pipeline as the API, run in-process."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from credit.models import Record, Subject
from exchange.models import Batch

pytestmark = pytest.mark.django_db


def test_load_demo_ingests_every_demo_batch():
    call_command("load_demo", stdout=io.StringIO())
    got = {b.batch_id: (b.status, b.counts) for b in Batch.objects.all()}
    assert {k: v[0] for k, v in got.items()} == {
        "demo-registrations-1": "completed", "demo-licences-1": "completed", "demo-penalties-1": "completed",
        "demo-penalties-2": "completed", "demo-red-list-1": "completed", "demo-black-list-1": "completed"}
    assert got["demo-registrations-1"][1]["created"] == 30
    assert got["demo-penalties-1"][1] | {} == {"rows": 13, "accepted": 13, "rejected": 0, "created": 13,
                                               "updated": 0, "unchanged": 0, "withdrawn": 0, "pending_subject": 0}
    assert got["demo-penalties-2"][1]["withdrawn"] == 1
    reasons = dict(Record.objects.filter(category="admin_penalty").values_list("payload__decision_no", "publicity_reason"))
    assert reasons["湘环罚〔2023〕7号"] == "expired"
    assert reasons["湘环简罚〔2026〕1号"] == "procedure_simple"
    assert reasons["湘环罚〔2026〕90号"] == "withdrawn"
    assert Subject.objects.filter(kind="natural_person").count() == 1
    # running it again changes nothing
    call_command("load_demo", stdout=io.StringIO())
    assert Batch.objects.count() == 6


def test_ingest_prints_the_batch_resource(tmp_path):
    from exchange.services.departments import department_register

    department_register(code="HN-SWJ", name="税务", write=["red_list"], read=["red_list"])
    path = tmp_path / "red.csv"
    path.write_text("subject_name,subject_type,uscc,list_code,list_name,listed_on,authority\n"
                    "湖南测试1有限公司,legal_person,91430100000000011X,TAX-A,A级纳税人,2026-01-01,税务局\n",
                    encoding="utf-8")
    out = io.StringIO()
    call_command("ingest", str(path), department="HN-SWJ", category="red_list", batch_id="csv-1", json=True,
                 no_progress=True, stdout=out)
    resource = json.loads(out.getvalue())
    assert set(resource) == {"id", "batch_id", "category", "status", "counts", "received_at", "completed_at",
                             "rejections_url", "receipt_url", "ignored_columns"}
    assert (resource["batch_id"], resource["status"]) == ("csv-1", "completed")
    assert resource["counts"]["rows"] == 1


def test_ingest_refuses_a_transaction_pool(tmp_path, settings):
    from django.core.management.base import CommandError

    settings.DATABASE_POOL_MODE = "transaction"
    (tmp_path / "b.ndjson").write_text("{}\n")
    with pytest.raises(CommandError, match="DATABASE_POOL_MODE=transaction"):
        call_command("ingest", str(tmp_path / "b.ndjson"), "--department", "HN-SWJ", "--category", "red_list")
    assert not Batch.objects.exists()

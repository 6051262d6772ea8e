"""The department client's reads against a live server: `subject`, `lookup` (the ID number from stdin, never on
the command line or in a URL) and `status` saying why a batch failed."""

from __future__ import annotations

import io
import json

import pytest

from exchange.client.cli import main as credit_exchange
from exchange.demo_keys import demo_key_files
from exchange.models import Batch
from tests.credit.factories import id_number, ingest, penalty, uscc

pytestmark = pytest.mark.django_db(transaction=True)


def run_client(capsys, url: str, *args: str) -> tuple[int, str, str]:
    code = credit_exchange(["--url", url, "--keyid", "hn-scjg-2026", "--key-file",
                            str(demo_key_files("hn-scjg-2026")[0]), "--quiet", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_subject_and_lookup_print_the_unified_record(live_server, scjg, capsys, monkeypatch):
    number = id_number(5)
    ingest(scjg, "admin_penalty", [penalty("湘罚〔2026〕1号", 1),
                                   penalty("湘罚〔2026〕2号", None, subject_name="王五", subject_type="natural_person",
                                           id_type="resident_id", id_number=number)], "pen")

    code, out, err = run_client(capsys, live_server.url, "subject", uscc(1), "--category", "admin_penalty")
    assert code == 0, err
    answer = json.loads(out)
    assert [len(r["versions"]) for r in answer["records"]["admin_penalty"]] == [1]
    assert answer["next_cursors"] == {"admin_penalty": None}

    monkeypatch.setattr("sys.stdin", io.StringIO(number + "\n"))
    code, out, err = run_client(capsys, live_server.url, "lookup", "--id-type", "resident_id")
    assert code == 0, err
    assert json.loads(out)["subject"]["name"] == "王五" and number not in out

    monkeypatch.setattr("sys.stdin", io.StringIO(id_number(6) + "\n"))
    code, out, err = run_client(capsys, live_server.url, "lookup")
    assert code == 2 and "404 not_found" in err


def test_status_says_why_a_batch_failed(live_server, scjg, capsys):
    batch = ingest(scjg, "admin_penalty", [penalty("湘罚〔2026〕1号", 1)], "b-1")
    Batch.objects.filter(pk=batch.pk).update(status="failed", failure_code="unknown_columns",
                                             failure_reason="表头没有一列是目录“行政处罚”的字段")

    code, out, err = run_client(capsys, live_server.url, "status", str(batch.pk))

    assert code == 0, err
    assert json.loads(out)["failure_reason"] == "表头没有一列是目录“行政处罚”的字段"
    assert "failed (unknown_columns): 表头没有一列是目录“行政处罚”的字段" in err

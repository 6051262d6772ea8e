"""The department client against a live server and a real worker: push → completed → verified receipt.

Everything real: HTTP over a socket, RFC 9421 signatures both ways, the Celery
worker running the pipeline, the JWS receipt checked against the JWK Set.
"""

from __future__ import annotations

import json

import pytest

from exchange.client.cli import main as credit_exchange
from exchange.demo_keys import demo_key_files
from exchange.models import Batch, BatchStatus
from tests.credit.factories import ndjson, penalty, registration

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture(autouse=True)
def platform_key_dir():
    """Keep the default key and storage dirs: the worker process signs receipts and reads stored files there."""


def run_client(capsys, url: str, *args: str) -> tuple[int, str, str]:
    code = credit_exchange(["--url", url, "--keyid", "hn-scjg-2026", "--key-file", str(demo_key_files("hn-scjg-2026")[0]),
                            "--quiet", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_push_waits_for_completion_and_verifies_the_receipt(live_server, celery_worker_process, scjg, tmp_path,
                                                            capsys):
    registrations = tmp_path / "registrations.ndjson"
    registrations.write_bytes(ndjson([registration(1), registration(2)]))
    penalties = tmp_path / "penalties.ndjson"
    penalties.write_bytes(ndjson([penalty("湘市监罚〔2026〕1号", 1), penalty("湘市监罚〔2026〕2号", 2),
                                  penalty("湘市监罚〔2026〕3号", 2, decided_on="2026-02-30")]))

    code, out, err = run_client(capsys, live_server.url, "push", str(registrations), "--category", "registration",
                                "--batch-id", "e2e-reg", "--poll", "0.3")
    assert code == 0, err
    code, out, err = run_client(capsys, live_server.url, "push", str(penalties), "--category", "admin_penalty",
                                "--batch-id", "e2e-pen", "--poll", "0.3")
    assert code == 0, err

    batch = Batch.objects.get(batch_id="e2e-pen")
    assert batch.status == BatchStatus.COMPLETED
    assert (batch.rows, batch.accepted, batch.rejected, batch.created) == (3, 2, 1, 2)
    assert batch.receipt and batch.log_index is not None

    code, out, err = run_client(capsys, live_server.url, "rejections", str(batch.pk))
    assert code == 0, err
    rejection = json.loads(out.strip().splitlines()[0])
    assert (rejection["row"], rejection["field"], rejection["code"]) == (3, "decided_on", "invalid_date")

    code, out, err = run_client(capsys, live_server.url, "receipt", str(batch.pk))
    assert code == 0, err
    token, payload_text = out.split("\n", 1)
    assert token == batch.receipt
    payload = json.loads(payload_text)
    assert payload["batch_id"] == "e2e-pen" and payload["counts"]["rejected"] == 1
    assert payload["log_index"] == batch.log_index and payload["log_head"] == batch.log_head


def test_pushing_the_same_file_again_is_safe_and_other_content_under_the_same_id_is_refused(
        live_server, celery_worker_process, scjg, tmp_path, capsys):
    path = tmp_path / "registrations.ndjson"
    path.write_bytes(ndjson([registration(7)]))
    args = ("push", str(path), "--category", "registration", "--batch-id", "twice", "--poll", "0.3")
    assert run_client(capsys, live_server.url, *args)[0] == 0
    assert run_client(capsys, live_server.url, *args)[0] == 0
    assert Batch.objects.filter(batch_id="twice").count() == 1

    path.write_bytes(ndjson([registration(8)]))
    code, out, err = run_client(capsys, live_server.url, *args)
    assert code == 2
    assert "batch_id_conflict" in err or "409" in err

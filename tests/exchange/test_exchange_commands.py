"""verify_exchange_log and platform_key."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from exchange.exchange_log import log_append
from exchange.models import ExchangeLogEntry
from exchange.platform_keys import jwks, platform_key_current, platform_keys

pytestmark = pytest.mark.django_db


def test_verify_exchange_log_names_the_first_broken_entry():
    with transaction.atomic():
        for n in range(4):
            log_append(kind="batch_submitted", payload={"n": n}, department_code="HN-SCJG")
    out = io.StringIO()
    call_command("verify_exchange_log", stdout=out)
    assert "4 entries" in out.getvalue()
    ExchangeLogEntry.objects.filter(index=2).update(payload={"n": 99})
    with pytest.raises(CommandError, match="broken at entry 2") as failure:
        call_command("verify_exchange_log")
    assert failure.value.returncode == 1


def test_rotation_keeps_the_old_key_published_for_the_window(settings, tmp_path):
    settings.PLATFORM_SIGNING_KEY_DIR = tmp_path / "keys"
    old = platform_key_current().kid
    call_command("platform_key", "rotate", stdout=io.StringIO())
    new = platform_key_current().kid
    assert new != old and {k["kid"] for k in jwks()["keys"]} == {old, new}
    retired = tmp_path / "keys" / f"{old}.retired"
    retired.write_text((dt.datetime.now(dt.UTC) - dt.timedelta(days=settings.EXCHANGE_RECEIPT_VERIFY_DAYS + 1))
                       .isoformat())
    assert {k["kid"] for k in jwks()["keys"]} == {new}
    assert len(platform_keys()) == 2  # kept on disk, just no longer published
    out = io.StringIO()
    call_command("platform_key", "list", stdout=out)
    assert f"{new}  current" in out.getvalue() and "no longer published" in out.getvalue()


def test_verify_exchange_log_notices_a_cut_off_tail_through_the_receipts(scjg):
    import io as _io

    from exchange.models import Batch
    from exchange.receipts import batch_receipt_issue
    from exchange.services.batches import batch_receive

    batch, _ = batch_receive(department=scjg, category="admin_penalty", batch_id="tail",
                             content_type="application/x-ndjson", body=_io.BytesIO(b'{"decision_no": "A"}\n'))
    Batch.objects.filter(pk=batch.pk).update(status="failed", failure_code="test", failure_reason="test")
    batch.refresh_from_db()
    with transaction.atomic():
        batch_receipt_issue(batch=batch)
    batch.refresh_from_db()
    call_command("verify_exchange_log", stdout=io.StringIO())
    ExchangeLogEntry.objects.filter(index__gte=batch.log_index).delete()  # the newest entries, gone
    with pytest.raises(CommandError, match=f"broken at entry {batch.log_index}"):
        call_command("verify_exchange_log")


def test_verification_switched_off_is_an_error_in_an_extranet_process(settings):
    from exchange.checks import bench_skip_verification

    settings.EXCHANGE_BENCH_SKIP_VERIFICATION, settings.PLATFORM_ZONE = True, "extranet"
    assert [e.id for e in bench_skip_verification(None)] == ["exchange.E001"]
    settings.PLATFORM_ZONE = "all"
    assert [e.id for e in bench_skip_verification(None)] == ["exchange.E001"]
    settings.EXCHANGE_BENCH_SKIP_VERIFICATION = False
    assert bench_skip_verification(None) == []


@pytest.mark.parametrize("zone", ["extranet", "all"])
def test_a_server_with_verification_switched_off_refuses_to_start(zone):
    """gunicorn runs no system checks: the exchange app itself refuses to load."""
    import os
    import subprocess
    import sys

    from django.conf import settings

    env = {**os.environ, "EXCHANGE_BENCH_SKIP_VERIFICATION": "1", "PLATFORM_ZONE": zone}
    loaded = subprocess.run([sys.executable, "-c", "import config.wsgi"], cwd=settings.BASE_DIR, env=env,
                            capture_output=True, text=True)
    assert loaded.returncode != 0 and "EXCHANGE_BENCH_SKIP_VERIFICATION is on" in loaded.stderr
    served = subprocess.run([sys.executable, "-c", "import config.wsgi"], cwd=settings.BASE_DIR,
                            env={**env, "PLATFORM_ZONE": "internet"}, capture_output=True, text=True)
    assert served.returncode == 0, served.stderr  # a public-site process serves no exchange API
    bench = subprocess.run([sys.executable, "-c", "import config.wsgi_bench_unverified"], cwd=settings.BASE_DIR,
                           env=env, capture_output=True, text=True)
    assert bench.returncode == 0, bench.stderr

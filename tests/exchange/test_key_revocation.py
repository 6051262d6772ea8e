"""`manage.py revoke_department_key` (exchange-protocol §8): from that moment the key's requests answer 401
key_revoked; the revocation, with its reason, is entered in the exchange log once."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from exchange.exchange_log import log_verify
from exchange.models import DepartmentKey, ExchangeLogEntry

pytestmark = pytest.mark.django_db
CHANGES = "/api/v1/exchange/changes"


def revoke(*args: str) -> str:
    out = io.StringIO()
    call_command("revoke_department_key", *args, stdout=out)
    return out.getvalue()


def test_the_very_next_signed_request_after_revocation_is_refused(as_scjg):
    assert as_scjg.get(CHANGES).status_code == 200

    out = revoke("hn-scjg-2026", "--reason", "私钥随旧服务器报废")

    refused = as_scjg.get(CHANGES)
    assert refused.status_code == 401 and refused.json()["code"] == "key_revoked"
    assert "hn-scjg-2026" in out
    entry = ExchangeLogEntry.objects.get(kind="department_key_revoked")
    assert entry.department_code == "HN-SCJG"
    assert (entry.payload["keyid"], entry.payload["reason"]) == ("hn-scjg-2026", "私钥随旧服务器报废")
    assert entry.payload["revoked_at"] == DepartmentKey.objects.get(keyid="hn-scjg-2026").revoked_at.isoformat()
    assert log_verify().ok


def test_revoking_again_changes_nothing_and_an_unknown_key_is_an_error(as_scjg):
    revoke("hn-scjg-2026")
    revoked_at = DepartmentKey.objects.get(keyid="hn-scjg-2026").revoked_at
    assert "already revoked" in revoke("hn-scjg-2026", "--reason", "again")
    assert DepartmentKey.objects.get(keyid="hn-scjg-2026").revoked_at == revoked_at
    assert ExchangeLogEntry.objects.filter(kind="department_key_revoked").count() == 1
    with pytest.raises(CommandError, match="no key"):
        revoke("no-such-key")

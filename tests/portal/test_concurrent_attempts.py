"""The same activation code, the same TOTP code, many failed sign-ins: all at once, from several threads (each
its own database connection, as several gunicorn workers would be). Every limit holds."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from portal.errors import PortalError
from portal.models import PortalAccount, PortalAuditEvent
from tests.portal.conftest import PASSWORD, activation_code, make_account, totp

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


def all_at_once(attempt) -> list:
    """Run `attempt(i)` in THREADS threads released together; what each returned or raised."""
    barrier = threading.Barrier(THREADS)
    outcomes: list = [None] * THREADS

    def run(i):
        try:
            barrier.wait()
            outcomes[i] = attempt(i)
        except Exception as exc:  # noqa: BLE001 the outcome is what the test looks at
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def codes(outcomes) -> list[str]:
    return sorted(o.code if isinstance(o, PortalError) else type(o).__name__ for o in outcomes)


def test_one_activation_code_opens_one_account(batches_in_process, enterprises):
    from portal.services import account_create

    first, _ = enterprises
    code = activation_code(first.uscc)
    outcomes = all_at_once(lambda i: account_create(uscc=first.uscc, activation_code=code, email=f"p{i}@example.cn",
                                                    password=PASSWORD, ip="192.0.2.1"))
    # the others: the code is used (a failure, counted: after five, the USCC is refused for the hour)
    assert codes(outcomes).count("NewAccount") == 1
    assert set(codes(outcomes)) - {"NewAccount"} <= {"activation_invalid", "too_many_attempts"}
    assert PortalAccount.objects.count() == 1


def test_one_totp_code_signs_in_once(batches_in_process, enterprises):
    from portal.services import account_authenticate

    account = make_account(enterprises[0].uscc, "boss@example.cn")
    code = totp(account.secret)
    outcomes = all_at_once(lambda i: account_authenticate(email=account.email, password=PASSWORD, totp=code,
                                                          ip="192.0.2.1"))
    assert codes(outcomes) == ["PortalAccount"] + ["login_failed"] * (THREADS - 1)


def test_failures_at_once_lock_after_exactly_ten(batches_in_process, enterprises):
    from portal.services import account_authenticate

    account = make_account(enterprises[0].uscc, "boss@example.cn")
    outcomes = []
    for _ in range(2):  # 16 wrong passwords, 8 at a time
        outcomes += all_at_once(lambda i: account_authenticate(email=account.email, password="wrong", totp="000000",
                                                               ip="192.0.2.1"))
    assert codes(outcomes) == ["login_failed"] * 10 + ["too_many_attempts"] * 6
    assert PortalAuditEvent.objects.filter(action="login_locked").count() == 1

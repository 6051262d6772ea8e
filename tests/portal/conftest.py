"""Portal fixtures: a small store made through the real intake services, activation codes and accounts made
through the portal's services, and TOTP codes computed as an authenticator app would."""

from __future__ import annotations

import base64
import datetime as dt
import time
from dataclasses import dataclass

import pytest

from tests.credit.factories import ingest, penalty, registration, uscc

PASSWORD = "长沙岳麓-山下橘子洲头2026"


@pytest.fixture(autouse=True)
def store_dirs(settings, tmp_path_factory):
    settings.PLATFORM_SIGNING_KEY_DIR = tmp_path_factory.getbasetemp() / "platform-keys"
    settings.BATCH_STORAGE_DIR = tmp_path_factory.getbasetemp() / "batches"


@pytest.fixture
def batches_in_process(monkeypatch, catalog_after_flush):
    """For transactional tests: committed batches are processed here, never handed to a broker that some other
    worker reads."""
    monkeypatch.setattr("ingest.handoff.batch_enqueue", lambda *, batch_id: None)


@pytest.fixture(scope="module")
def catalog_after_flush(django_db_setup, django_db_blocker):
    """The catalog loaded again once the module's transactional tests flushed the database (a flush comes after
    every function-scoped teardown, so this is module-scoped)."""
    from django.core.management import call_command

    yield
    with django_db_blocker.unblock():
        call_command("load_catalog", verbosity=0)


def totp(secret: str, *, steps: int = 0) -> str:
    """The code an authenticator app shows for this base32 secret now (`steps` × 30 s later or earlier)."""
    from django_otp.oath import hotp

    return f"{hotp(base64.b32decode(secret), int(time.time()) // 30 + steps, digits=6):06d}"


def _day(days_ago: int) -> str:
    return (dt.date.today() - dt.timedelta(days=days_ago)).isoformat()


@dataclass
class Enterprise:
    uscc: str
    name: str
    subject: object
    records: dict  # what each record is for → its id


@pytest.fixture
def department(db):
    from exchange.services.departments import department_register

    return department_register(code="HN-SCJG", name="湖南省市场监督管理局",
                               write=["registration", "admin_penalty", "admin_license"],
                               read=["registration", "admin_penalty", "admin_license"]).obj


@pytest.fixture
def enterprises(department):
    """Two enterprises. The first has a penalty of every publicity state; the second one public penalty."""
    from credit.models import Record, Subject

    ingest(department, "registration", [registration(1), registration(2)], "reg-1")
    n = 1
    rows = [
        penalty("P-PUBLIC", n, decided_on=_day(30)),
        penalty("P-SIMPLE", n, decided_on=_day(30), procedure="simple"),
        penalty("P-SHARED", n, decided_on=_day(30), usage_scope="shared"),
        penalty("P-AUTHORIZED", n, decided_on=_day(30), usage_scope="authorized"),
        penalty("P-ENDED", n, decided_on=_day(365 * 6)),
        penalty("P-WITHDRAWN", n, decided_on=_day(30)),
        penalty("P-NOT-YET", n, decided_on=_day(30)),
        penalty("P-REPAIRED", n, decided_on=_day(30)),
        penalty("P-OTHER", 2, decided_on=_day(30)),
    ]
    batch = ingest(department, "admin_penalty", rows, "pen-1")
    assert batch.rejected == 0
    ingest(department, "admin_penalty", [penalty("P-PUBLIC", n, decided_on=_day(30), content="罚款一万元")], "pen-2")
    ingest(department, "admin_penalty", [{"op": "withdraw", "decision_no": "P-WITHDRAWN"}], "pen-3")
    ids = {no: Record.objects.get(category="admin_penalty", natural_key__contains=no).pk
           for no in ["P-PUBLIC", "P-SIMPLE", "P-SHARED", "P-AUTHORIZED", "P-ENDED", "P-WITHDRAWN", "P-NOT-YET",
                      "P-REPAIRED", "P-OTHER"]}
    # the states that take time or another workflow to reach, stored as the publicity rule stores them
    Record.objects.filter(pk=ids["P-NOT-YET"]).update(is_public=False, publicity_reason="not_yet")
    Record.objects.filter(pk=ids["P-REPAIRED"]).update(is_public=False, publicity_reason="repaired",
                                                       repaired_at=dt.date.today())
    first, second = Subject.objects.get(uscc=uscc(1)), Subject.objects.get(uscc=uscc(2))
    other = ids.pop("P-OTHER")
    return (Enterprise(first.uscc, first.name, first, ids),
            Enterprise(second.uscc, second.name, second, {"P-OTHER": other}))


def activation_code(subject_uscc: str) -> str:
    from portal.services import activation_code_issue

    return activation_code_issue(uscc=subject_uscc).code


@dataclass
class Account:
    email: str
    password: str
    secret: str
    account: object


def make_account(subject_uscc: str, email: str) -> Account:
    from portal.services import account_create

    new = account_create(uscc=subject_uscc, activation_code=activation_code(subject_uscc), email=email,
                         password=PASSWORD, ip="192.0.2.1")
    return Account(email, PASSWORD, new.totp_secret, new.account)


def bearer(client, account: Account, *, steps: int = 0) -> dict:
    """Sign in through the API; the header for the following calls."""
    response = client.post("/api/v1/portal/session", {"email": account.email, "password": account.password,
                                                      "totp": totp(account.secret, steps=steps)},
                           content_type="application/json")
    assert response.status_code == 200, response.json()
    return {"HTTP_AUTHORIZATION": f"Bearer {response.json()['token']}"}

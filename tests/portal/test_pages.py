"""The portal's web pages (session + CSRF) and the audit trail in the operators' console."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from portal.models import PortalAccount, PortalAuditEvent
from tests.portal.conftest import PASSWORD, activation_code, make_account, totp

pytestmark = pytest.mark.django_db


def sign_in(client, account, *, steps=0):
    return client.post("/portal/login", {"email": account.email, "password": account.password,
                                         "totp": totp(account.secret, steps=steps)})


def test_sign_up_shows_the_totp_secret_once(client, enterprises):
    first, _ = enterprises
    page = client.get("/portal/signup")
    assert page.status_code == 200 and 'name="csrfmiddlewaretoken"' in page.content.decode()
    response = client.post("/portal/signup", {"uscc": first.uscc, "activation_code": activation_code(first.uscc),
                                              "email": "web@example.cn", "password": PASSWORD})
    html = response.content.decode()
    assert response.status_code == 200
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', html).group(1)
    assert len(secret) == 32 and "otpauth://totp/" in html
    assert 'src="data:image/svg+xml' in html  # the QR code, drawn by the platform
    assert PortalAccount.objects.get().email == "web@example.cn"
    assert response["Cache-Control"].startswith("max-age=0")


def test_sign_up_refusals_are_shown_in_words(client, enterprises):
    first, _ = enterprises
    response = client.post("/portal/signup", {"uscc": first.uscc, "activation_code": "WRONG",
                                              "email": "web@example.cn", "password": PASSWORD})
    assert response.status_code == 400
    assert "激活码无效" in response.content.decode()
    assert PASSWORD not in response.content.decode()  # the password is never sent back
    response = client.post("/portal/signup", {"uscc": first.uscc})
    assert response.status_code == 400 and "请填写每一项" in response.content.decode()


def test_sign_in_see_own_records_and_sign_out(client, enterprises):
    first, second = enterprises
    account = make_account(first.uscc, "boss@example.cn")
    assert client.get("/portal/records").status_code == 302
    response = sign_in(client, account)
    assert response.status_code == 302 and response["Location"] == "/portal/records"
    page = client.get("/portal/records")
    html = page.content.decode()
    assert page.status_code == 200 and first.name in html
    for reason in ["适用简易程序作出的行政处罚，依规定不公示", "仅在政府部门间共享，不向社会公开", "公示期已满，停止公示",
                   "已被提供部门撤回", "尚未到公示开始日期", "已完成信用修复，停止公示",
                   "仅本企业授权的部门可以查询，不向社会公开"]:
        assert reason in html
    assert "湖南省市场监督管理局（HN-SCJG）" in html
    assert "历史版本（2 个）" in html  # P-PUBLIC was sent twice
    assert f'id="record-{second.records["P-OTHER"]}"' not in html
    assert PortalAuditEvent.objects.filter(action="records_viewed", account=account.account).count() == 1

    assert client.post("/portal/logout").status_code == 302
    assert client.get("/portal/records").status_code == 302
    assert PortalAuditEvent.objects.filter(action="logout", account=account.account).count() == 1


def test_a_wrong_part_is_one_answer_and_the_lock_shows(client, enterprises):
    account = make_account(enterprises[0].uscc, "boss@example.cn")
    for _ in range(10):
        response = client.post("/portal/login", {"email": account.email, "password": "wrong", "totp": "123456"})
        assert response.status_code == 401 and "电子邮箱、密码或动态验证码有误" in response.content.decode()
    response = sign_in(client, account)
    assert response.status_code == 429 and "已锁定一小时" in response.content.decode()
    assert int(response["Retry-After"]) > 3500


def test_a_form_without_its_csrf_token_is_refused(enterprises):
    account = make_account(enterprises[0].uscc, "boss@example.cn")
    client = Client(enforce_csrf_checks=True)
    response = client.post("/portal/login", {"email": account.email, "password": account.password,
                                             "totp": totp(account.secret)})
    assert response.status_code == 403
    assert not PortalAuditEvent.objects.filter(action__startswith="login").exists()


def test_next_stays_on_the_portal(client, enterprises):
    account = make_account(enterprises[0].uscc, "boss@example.cn")
    response = client.post("/portal/login", {"email": account.email, "password": account.password,
                                             "totp": totp(account.secret), "next": "https://evil.example/"})
    assert response["Location"] == "/portal/records"


def test_signing_in_to_the_portal_is_not_signing_in_to_the_console(client, enterprises):
    account = make_account(enterprises[0].uscc, "boss@example.cn")
    sign_in(client, account)
    assert client.get("/admin/").status_code == 302  # to the console's login


@pytest.fixture
def console_groups_see_the_portal(console_groups):
    """Portal migration 0002 run again on its own state: a flush (transactional tests) undid what it granted."""
    import importlib

    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    state = MigrationExecutor(connection).loader.project_state(("portal", "0002_console_groups_view_portal"),
                                                               at_end=True)
    importlib.import_module("portal.migrations.0002_console_groups_view_portal").grant_viewing(state.apps, None)


def test_operators_see_the_audit_trail_in_the_console(client, enterprises, console_groups_see_the_portal):
    from django_otp.oath import TOTP

    from ops.operators import operator_create

    account = make_account(enterprises[0].uscc, "boss@example.cn")
    client.post("/portal/login", {"email": account.email, "password": "wrong", "totp": "000000"})
    new = operator_create(username="auditor", password="pw-for-the-auditor", groups=["viewer"])
    console = Client()
    response = console.post("/admin/login/", {"username": "auditor", "password": "pw-for-the-auditor",
                                              "otp_token": f"{TOTP(new.device.bin_key).token():06d}"})
    assert response.status_code == 302
    page = console.get("/admin/portal/portalauditevent/")
    html = page.content.decode()
    assert page.status_code == 200 and "登录失败" in html and "boss@example.cn" in html
    event = PortalAuditEvent.objects.filter(action="login_failed").get()
    assert console.get(f"/admin/portal/portalauditevent/{event.pk}/delete/").status_code == 403
    assert console.get("/admin/portal/portalauditevent/add/").status_code == 403

"""portal.md §1 through the API: activation, every refusal, the lockouts, TOTP replay, tokens."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from portal.models import ActivationCode, PortalAccount, PortalAuditEvent, PortalToken
from tests.portal.conftest import PASSWORD, activation_code, bearer, make_account, totp

pytestmark = pytest.mark.django_db

ACCOUNTS = "/api/v1/portal/accounts"
SESSION = "/api/v1/portal/session"


def post(client, url, body, **headers):
    return client.post(url, body, content_type="application/json", **headers)


def sign_up(client, subject_uscc, code, email="a@example.cn", password=PASSWORD):
    return post(client, ACCOUNTS, {"uscc": subject_uscc, "activation_code": code, "email": email,
                                   "password": password})


def assert_problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code and body["status"] == status and body["detail"]
    return body


# --- the operator's command ------------------------------------------------------------------------------------

def test_activation_code_command_prints_the_code_alone_on_the_last_line(enterprises, capsys):
    first, _ = enterprises
    call_command("portal_activation_code", first.uscc)
    code = capsys.readouterr().out.strip().splitlines()[-1]
    stored = ActivationCode.objects.get()
    assert code not in str(list(ActivationCode.objects.values_list()))  # only its digest is kept
    assert len(code.replace("-", "")) * 5 >= 80  # base32 characters: ≥ 80 bits
    assert stored.subject == first.subject and stored.used_at is None
    assert dt.timedelta(days=29, hours=23) < stored.expires_at - timezone.now() <= dt.timedelta(days=30)


def test_activation_code_command_refuses_an_unknown_uscc(enterprises):
    with pytest.raises(CommandError):
        call_command("portal_activation_code", "91430100MA4L000000")
    assert not ActivationCode.objects.exists()


def test_activation_codes_differ(enterprises):
    first, _ = enterprises
    assert len({activation_code(first.uscc) for _ in range(20)}) == 20


# --- opening an account ---------------------------------------------------------------------------------------

def test_sign_up_with_a_valid_code(client, enterprises):
    first, _ = enterprises
    code = activation_code(first.uscc)
    response = sign_up(client, first.uscc, code.lower().replace("-", ""), email="Boss@Example.CN")
    assert response.status_code == 201, response.json()
    body = response.json()
    account = PortalAccount.objects.get()
    assert body["account"] == account.pk and body["uscc"] == first.uscc
    assert len(body["totp_secret"]) == 32 and body["totp_uri"].startswith("otpauth://totp/")
    assert account.subject == first.subject and account.email == "boss@example.cn"
    assert not account.user.is_staff and not account.user.is_superuser
    assert ActivationCode.objects.get().used_by == account
    assert PortalAuditEvent.objects.filter(action="account_created", account=account, ip="127.0.0.1").count() == 1


@pytest.mark.parametrize("case", ["wrong", "used", "expired", "other_uscc"])
def test_every_bad_code_gets_one_answer(client, enterprises, case):
    first, second = enterprises
    code = activation_code(first.uscc)
    uscc = first.uscc
    if case == "wrong":
        code = "ABCD-EFGH-JKMN-PQRS-TVWX"
    elif case == "used":
        assert sign_up(client, first.uscc, code, email="first@example.cn").status_code == 201
    elif case == "expired":
        ActivationCode.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    elif case == "other_uscc":
        uscc = second.uscc
    body = assert_problem(sign_up(client, uscc, code, email="b@example.cn"), 400, "activation_invalid")
    assert body["detail"] == "激活码无效：请核对统一社会信用代码和激活码，激活码只能使用一次，有效期 30 天。"
    assert not PortalAccount.objects.filter(email="b@example.cn").exists()


def test_weak_password_leaves_the_code_unused(client, enterprises):
    first, _ = enterprises
    code = activation_code(first.uscc)
    for weak in ["12345678", "password", "short1"]:
        assert_problem(sign_up(client, first.uscc, code, password=weak), 400, "weak_password")
    assert not PortalAccount.objects.exists()
    assert sign_up(client, first.uscc, code).status_code == 201  # the same code still works


def test_email_taken(client, enterprises):
    first, second = enterprises
    assert sign_up(client, first.uscc, activation_code(first.uscc), email="x@example.cn").status_code == 201
    code = activation_code(second.uscc)
    assert_problem(sign_up(client, second.uscc, code, email="X@example.cn"), 409, "email_taken")
    assert PortalAccount.objects.count() == 1
    assert ActivationCode.objects.get(uscc=second.uscc).used_at is None


def test_several_accounts_act_for_one_subject(client, enterprises):
    first, _ = enterprises
    for n in range(2):
        assert sign_up(client, first.uscc, activation_code(first.uscc), email=f"p{n}@example.cn").status_code == 201
    assert PortalAccount.objects.filter(subject=first.subject).count() == 2


def test_missing_fields_are_a_problem_not_a_500(client, enterprises):
    assert_problem(post(client, ACCOUNTS, {"uscc": "x"}), 400, "invalid_request")
    assert_problem(client.post(ACCOUNTS, "{not json", content_type="application/json"), 400, "malformed_body")


def test_five_failed_codes_lock_the_uscc_for_the_hour_even_with_the_right_code(client, enterprises):
    first, second = enterprises
    code = activation_code(first.uscc)
    for _ in range(5):
        assert_problem(sign_up(client, first.uscc, "WRONG-CODE"), 400, "activation_invalid")
    response = sign_up(client, first.uscc, code)
    assert_problem(response, 429, "too_many_attempts")
    assert 3500 < int(response["Retry-After"]) <= 3600
    assert not PortalAccount.objects.exists()
    # another USCC is not affected
    assert sign_up(client, second.uscc, activation_code(second.uscc)).status_code == 201
    # an hour later the failures are forgotten
    PortalAuditEvent.objects.filter(action="activation_failed").update(at=timezone.now() - dt.timedelta(hours=1))
    assert sign_up(client, first.uscc, code, email="later@example.cn").status_code == 201


# --- signing in ------------------------------------------------------------------------------------------------

@pytest.fixture
def account(enterprises):
    return make_account(enterprises[0].uscc, "boss@example.cn")


def sign_in(client, account, *, password=None, code=None, email=None):
    return post(client, SESSION, {"email": email or account.email, "password": password or account.password,
                                  "totp": code if code is not None else totp(account.secret)})


def test_sign_in_gives_a_token_for_twelve_hours(client, account):
    response = sign_in(client, account, email="BOSS@example.cn")
    assert response.status_code == 200, response.json()
    body = response.json()
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert dt.timedelta(hours=11, minutes=59) < expires - timezone.now() <= dt.timedelta(hours=12)
    assert body["token"] not in str(list(PortalToken.objects.values_list()))  # only its digest is kept
    assert response["Cache-Control"].startswith("max-age=0")
    assert PortalAuditEvent.objects.filter(action="login_succeeded", account=account.account).count() == 1


@pytest.mark.parametrize("wrong", ["email", "password", "totp", "totp_format"])
def test_any_wrong_part_is_login_failed(client, account, wrong):
    kwargs = {"email": {"email": "nobody@example.cn"}, "password": {"password": PASSWORD + "x"},
              "totp": {"code": totp(account.secret, steps=5)}, "totp_format": {"code": "abcdef"}}[wrong]
    body = assert_problem(sign_in(client, account, **kwargs), 401, "login_failed")
    assert body["detail"] == "登录失败：电子邮箱、密码或动态验证码有误。"
    assert PortalAuditEvent.objects.filter(action="login_failed").count() == 1


def test_a_totp_code_is_accepted_once_only(client, account):
    code = totp(account.secret)
    assert sign_in(client, account, code=code).status_code == 200
    assert_problem(sign_in(client, account, code=code), 401, "login_failed")
    # an older code than the one used is refused too, though within the ±1 step tolerance
    assert_problem(sign_in(client, account, code=totp(account.secret, steps=-1)), 401, "login_failed")


def test_the_previous_and_next_steps_are_tolerated(client, account):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    assert sign_in(client, account, code=totp(account.secret, steps=-1)).status_code == 200
    TOTPDevice.objects.update(throttling_failure_count=0, throttling_failure_timestamp=None)
    assert sign_in(client, account, code=totp(account.secret, steps=1)).status_code == 200
    device = TOTPDevice.objects.get()
    assert (device.digits, device.step, device.tolerance) == (6, 30, 1)


def test_ten_failures_lock_the_email_for_an_hour(client, account):
    for _ in range(10):
        assert_problem(sign_in(client, account, password="wrong"), 401, "login_failed")
    response = sign_in(client, account)  # everything right
    assert_problem(response, 429, "too_many_attempts")
    assert 3500 < int(response["Retry-After"]) <= 3600
    assert PortalAuditEvent.objects.filter(action="login_locked").count() == 1
    assert PortalAuditEvent.objects.filter(action="login_refused").count() == 1
    # the lock lasts an hour from the tenth failure, then the right password and code work again
    PortalAuditEvent.objects.update(at=timezone.now() - dt.timedelta(hours=1, seconds=1))
    assert sign_in(client, account, code=totp(account.secret, steps=1)).status_code == 200


def test_nine_failures_do_not_lock(client, account):
    for _ in range(9):
        assert_problem(sign_in(client, account, password="wrong"), 401, "login_failed")
    assert sign_in(client, account).status_code == 200


# --- tokens -----------------------------------------------------------------------------------------------------

RECORDS = "/api/v1/portal/records"


def test_no_token_or_a_bad_one_is_401(client, account):
    assert_problem(client.get(RECORDS), 401, "unauthenticated")
    assert_problem(client.get(RECORDS, HTTP_AUTHORIZATION="Bearer nonsense"), 401, "unauthenticated")
    assert_problem(client.get(RECORDS, HTTP_AUTHORIZATION="Bearer"), 401, "unauthenticated")


def test_a_token_expires_after_twelve_hours(client, account):
    headers = bearer(client, account)
    assert client.get(RECORDS, **headers).status_code == 200
    PortalToken.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert_problem(client.get(RECORDS, **headers), 401, "unauthenticated")


def test_sign_out_ends_the_token_at_once(client, account):
    headers = bearer(client, account)
    other = bearer(client, account, steps=1)
    response = client.delete(SESSION, **headers)
    assert response.status_code == 204
    assert_problem(client.get(RECORDS, **headers), 401, "unauthenticated")
    assert_problem(client.delete(SESSION, **headers), 401, "unauthenticated")
    assert client.get(RECORDS, **other).status_code == 200  # the account's other token lives on
    assert PortalAuditEvent.objects.filter(action="logout", account=account.account).count() == 1


def test_the_demo_prints_an_enterprise_activation_code_that_opens_an_account(client, settings, tmp_path):
    import io

    settings.DEMO_KEY_DIR = tmp_path / "demo-keys"
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    code = out.getvalue().strip().splitlines()[-1]
    response = sign_up(client, "91431000MA401019XK", code, email="demo@example.cn")
    assert response.status_code == 201, response.json()
    headers = {"HTTP_AUTHORIZATION": "Bearer " + post(client, SESSION, {
        "email": "demo@example.cn", "password": PASSWORD, "totp": totp(response.json()["totp_secret"])}).json()["token"]}
    records = client.get("/api/v1/portal/records", {"category": "admin_penalty"}, **headers).json()["records"]
    assert "simple_procedure" in [r["not_public_reason"] for r in records]


def test_signing_in_ignores_a_stale_token_sent_along(client, account):
    response = post(client, SESSION, {"email": account.email, "password": account.password,
                                      "totp": totp(account.secret)}, HTTP_AUTHORIZATION="Bearer expired-long-ago")
    assert response.status_code == 200
    assert_problem(client.delete(SESSION), 401, "unauthenticated")

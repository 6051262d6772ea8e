"""What changes the portal's state (portal.md §1): activation codes, accounts, sign-in, tokens, the audit trail.

Failed activations and sign-ins are audit events, and the lockouts count those events: the counters live in
the database, so they hold across every web worker, and an operator sees exactly what was counted. A
transaction-level advisory lock per USCC (activation) or per email (sign-in) serialises the attempts on one
name, so concurrent requests cannot slip past a limit between counting and acting.

A refusal is decided inside the transaction and raised after it commits, so the failure it records stays.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import TextChoices
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from credit.identity import code_normalise
from credit.models import Subject
from portal.errors import PortalError
from portal.models import ActivationCode, PortalAccount, PortalAuditEvent, PortalToken

ACTIVATION_CODE_DAYS = 30
ACTIVATION_FAILURES_ALLOWED = 5  # per USCC within ACTIVATION_WINDOW; the next attempt is refused
ACTIVATION_WINDOW = dt.timedelta(hours=1)
LOGIN_FAILURES_ALLOWED = 10  # per email within LOGIN_WINDOW; the tenth locks it for LOGIN_LOCK
LOGIN_WINDOW = dt.timedelta(hours=1)
LOGIN_LOCK = dt.timedelta(hours=1)
TOKEN_LIFETIME = dt.timedelta(hours=12)
# 20 characters of Crockford's base32 alphabet (no I, L, O, U: nothing to misread on a letter) = 100 bits
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_LENGTH = 20
# pg_advisory_xact_lock(class, key): this module's class, "PO"; outside credit.locks' order (nothing else is
# held while it is taken, and portal transactions take no exchange log or merge lock)
_PORTAL_LOCK_CLASS = 0x504F


class AuditAction(TextChoices):
    ACTIVATION_CODE_ISSUED = "activation_code_issued", "签发激活码"
    ACTIVATION_FAILED = "activation_failed", "激活失败"
    ACTIVATION_REFUSED = "activation_refused", "激活被拒（尝试过多）"
    ACCOUNT_CREATED = "account_created", "开通账户"
    LOGIN_SUCCEEDED = "login_succeeded", "登录成功"
    LOGIN_FAILED = "login_failed", "登录失败"
    LOGIN_LOCKED = "login_locked", "账户锁定一小时"
    LOGIN_REFUSED = "login_refused", "登录被拒（账户锁定中）"
    LOGOUT = "logout", "退出登录"
    RECORDS_VIEWED = "records_viewed", "查看本企业记录"
    OBJECTION_FILED = "objection_filed", "提出异议"
    OBJECTIONS_VIEWED = "objections_viewed", "查看异议"
    REPAIR_FILED = "repair_filed", "申请信用修复"
    REPAIRS_VIEWED = "repairs_viewed", "查看信用修复申请"
    AUTHORIZATION_GRANTED = "authorization_granted", "授权部门查询"
    AUTHORIZATION_REVOKED = "authorization_revoked", "撤销查询授权"
    AUTHORIZATIONS_VIEWED = "authorizations_viewed", "查看查询授权"
    REPORT_ISSUED = "report_issued", "出具信用报告"
    REQUEST_REFUSED = "request_refused", "请求被拒绝"


def audit_record(*, action: str, ip: str | None, account: PortalAccount | None = None,
                 subject: Subject | None = None, email: str = "", uscc: str = "", **detail) -> PortalAuditEvent:
    """Enter one event in the portal's audit trail (who, when, what, from where, for which subject).
    `subject` defaults to the account's. Call it inside the transaction of the action it records."""
    if subject is None and account is not None:
        subject = account.subject
    return PortalAuditEvent.objects.create(action=action, account=account, subject=subject, ip=_ip_or_none(ip),
                                           email=email or (account.email if account else ""), uscc=uscc,
                                           detail=detail)


def _ip_or_none(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address((value or "").strip().strip("[]")))
    except ValueError:
        return None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _serialise_on(name: str) -> None:
    """Wait for the other transactions working on `name` (a USCC, an email) to finish."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [_PORTAL_LOCK_CLASS, name])


def email_normalise(email: str) -> str:
    return (email or "").strip().lower()


def activation_code_normalise(code: str) -> str:
    """What a person may type for a printed code: any case, with or without the dashes and spaces."""
    return "".join(ch for ch in (code or "").upper() if ch not in "- \t")


# --- activation codes and accounts ---------------------------------------------------------------------------

@dataclass(frozen=True)
class IssuedCode:
    code: str  # shown once, to be sent by letter; only its digest is kept
    expires_at: dt.datetime


def activation_code_issue(*, uscc: str) -> IssuedCode:
    """A new single-use activation code for the subject with this USCC (several may be open at once: each
    person who will act for the subject gets their own)."""
    value = code_normalise(uscc)
    subject = Subject.objects.filter(uscc=value).first() if value else None
    if subject is None:
        raise PortalError("unknown_subject", f"平台没有统一社会信用代码为 {uscc} 的主体。")
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
    now = timezone.now()
    with transaction.atomic():
        code = ActivationCode.objects.create(code_hash=_digest(raw), subject=subject, uscc=subject.uscc,
                                             created_at=now, expires_at=now + dt.timedelta(days=ACTIVATION_CODE_DAYS))
        audit_record(action=AuditAction.ACTIVATION_CODE_ISSUED, ip=None, subject=subject, uscc=subject.uscc,
                     activation_code=code.pk)
    return IssuedCode("-".join(raw[i:i + 4] for i in range(0, _CODE_LENGTH, 4)), code.expires_at)


@dataclass(frozen=True)
class NewAccount:
    account: PortalAccount
    totp_secret: str  # base32, for an authenticator app; shown once

    @property
    def provisioning_uri(self) -> str:
        return self.account.user.totpdevice_set.get().config_url


def _failures_since(action: str, *, since: dt.datetime, **who) -> list[dt.datetime]:
    return list(PortalAuditEvent.objects.filter(action=action, at__gt=since, **who)
                .order_by("at").values_list("at", flat=True))


def account_create(*, uscc: str, activation_code: str, email: str, password: str, ip: str | None) -> NewAccount:
    """An account acting for the subject whose activation code it presents, with a TOTP device.

    Refusals (PortalError): too_many_attempts (more than ACTIVATION_FAILURES_ALLOWED failed codes for this
    USCC within the hour, even with the right code), activation_invalid (wrong, expired, used or another
    USCC's code: one answer for all), weak_password, email_taken. Only the holder of a valid code learns
    whether an email is taken, and a refused password or email leaves the code unused."""
    uscc_key = code_normalise(uscc) or (uscc or "").strip()[:40]
    email = email_normalise(email)
    refusal: PortalError | None = None
    with transaction.atomic():
        _serialise_on(f"activation:{uscc_key}")
        now = timezone.now()
        failures = _failures_since(AuditAction.ACTIVATION_FAILED, since=now - ACTIVATION_WINDOW, uscc=uscc_key)
        if len(failures) >= ACTIVATION_FAILURES_ALLOWED:
            audit_record(action=AuditAction.ACTIVATION_REFUSED, ip=ip, email=email, uscc=uscc_key)
            retry_after = failures[-ACTIVATION_FAILURES_ALLOWED] + ACTIVATION_WINDOW - now
            refusal = PortalError("too_many_attempts", "激活尝试次数过多，请一小时后再试。", retry_after=retry_after)
        else:
            code = (ActivationCode.objects.select_for_update()
                    .filter(code_hash=_digest(activation_code_normalise(activation_code)), uscc=uscc_key,
                            used_at__isnull=True, expires_at__gt=now).select_related("subject").first())
            if code is None:
                audit_record(action=AuditAction.ACTIVATION_FAILED, ip=ip, email=email, uscc=uscc_key)
                refusal = PortalError("activation_invalid", "激活码无效：请核对统一社会信用代码和激活码，"
                                      "激活码只能使用一次，有效期 30 天。")
    if refusal:
        raise refusal
    # the code is right: now the password and the email (a refusal here leaves the code unused)
    User = get_user_model()
    try:
        validate_password(password, User(username=email, email=email))
    except ValidationError as exc:
        raise PortalError("weak_password", "密码不符合要求：" + " ".join(exc.messages)) from None
    try:
        with transaction.atomic():
            code = ActivationCode.objects.select_for_update().get(pk=code.pk)
            if code.used_at is not None:  # another request used it meanwhile
                raise PortalError("activation_invalid", "激活码无效：该激活码已被使用。")
            user = User.objects.create_user(username=f"portal-{secrets.token_hex(8)}", email=email,
                                            password=password)
            account = PortalAccount.objects.create(user=user, subject=code.subject, email=email)
            code.used_at, code.used_by = timezone.now(), account
            code.save(update_fields=["used_at", "used_by"])
            device = TOTPDevice.objects.create(user=user, name="portal", confirmed=True)
            audit_record(action=AuditAction.ACCOUNT_CREATED, ip=ip, account=account, uscc=code.uscc,
                         activation_code=code.pk)
    except IntegrityError:
        if PortalAccount.objects.filter(email__iexact=email).exists():
            raise PortalError("email_taken", "该电子邮箱已注册了账户，请直接登录。") from None
        raise
    return NewAccount(account, base64.b32encode(device.bin_key).decode())


# --- signing in ----------------------------------------------------------------------------------------------

def _login_locked_until(email: str, now: dt.datetime) -> dt.datetime | None:
    lock = (PortalAuditEvent.objects.filter(action=AuditAction.LOGIN_LOCKED, email=email, at__gt=now - LOGIN_LOCK)
            .order_by("-at").values_list("at", flat=True).first())
    return lock + LOGIN_LOCK if lock else None


def _totp_verify(user, token: str) -> bool:
    """django-otp's TOTP check (RFC 6238, SHA-1, 6 digits, 30 s, ±1 step): a token is accepted once only (it
    must be newer than the last one accepted, last_t; the device row is locked so two requests cannot both
    use it), and failures throttle the device (OTP_TOTP_THROTTLE_FACTOR)."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).order_by("id").first()
    token = (token or "").strip()
    return device is not None and len(token) == device.digits and token.isdigit() and device.verify_token(token)


def account_authenticate(*, email: str, password: str, totp: str, ip: str | None) -> PortalAccount:
    """The account whose email, password and current TOTP token these are, or PortalError: login_failed for
    any wrong part (no hint which), too_many_attempts while the email is locked (LOGIN_FAILURES_ALLOWED
    failures within the hour lock it for LOGIN_LOCK). Every attempt is audited."""
    email = email_normalise(email)
    with transaction.atomic():
        _serialise_on(f"login:{email}")
        now = timezone.now()
        locked_until = _login_locked_until(email, now)
        if locked_until:
            audit_record(action=AuditAction.LOGIN_REFUSED, ip=ip, email=email)
            refusal = PortalError("too_many_attempts", "登录失败次数过多，该账户已锁定一小时，请稍后再试。",
                                  retry_after=locked_until - now)
        else:
            account = (PortalAccount.objects.filter(email=email, user__is_active=True)
                       .select_related("user", "subject").first())
            if account is None:
                make_password(password)  # as long as a real check: the timing tells no one the email is unknown
            elif account.user.check_password(password) and _totp_verify(account.user, totp):
                audit_record(action=AuditAction.LOGIN_SUCCEEDED, ip=ip, account=account)
                return account
            audit_record(action=AuditAction.LOGIN_FAILED, ip=ip, account=account, email=email)
            refusal = PortalError("login_failed", "登录失败：电子邮箱、密码或动态验证码有误。")
            if len(_failures_since(AuditAction.LOGIN_FAILED, since=now - LOGIN_WINDOW,
                                   email=email)) >= LOGIN_FAILURES_ALLOWED:
                audit_record(action=AuditAction.LOGIN_LOCKED, ip=ip, account=account, email=email)
    raise refusal


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once; only its digest is kept
    expires_at: dt.datetime


def token_issue(*, account: PortalAccount) -> IssuedToken:
    raw = secrets.token_urlsafe(32)
    now = timezone.now()
    token = PortalToken.objects.create(account=account, token_hash=_digest(raw), created_at=now,
                                       expires_at=now + TOKEN_LIFETIME)
    return IssuedToken(raw, token.expires_at)


def token_find(raw: str) -> PortalToken | None:
    """The live token (not expired, not revoked) with this value, its account and subject loaded."""
    if not raw:
        return None
    return (PortalToken.objects.filter(token_hash=_digest(raw), revoked_at__isnull=True,
                                       expires_at__gt=timezone.now(), account__user__is_active=True)
            .select_related("account__subject", "account__user").first())


def session_open(*, email: str, password: str, totp: str, ip: str | None) -> IssuedToken:
    """Sign in to the API: a bearer token of TOKEN_LIFETIME (portal.md §1)."""
    account = account_authenticate(email=email, password=password, totp=totp, ip=ip)
    return token_issue(account=account)


def session_close(*, token: PortalToken, ip: str | None) -> None:
    """End a token at once (DELETE session)."""
    with transaction.atomic():
        PortalToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        audit_record(action=AuditAction.LOGOUT, ip=ip, account=token.account, via="api")

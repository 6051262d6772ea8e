"""The portal's web pages under /portal/ (session + CSRF): sign up with an activation code, sign in with password
and TOTP, the enterprise's own records, sign out. The work is in portal.services and portal.selectors.

A page that needs a signed-in account is decorated with `account_required`: it finds the account in the
session as `request.portal_account` (its subject: `request.portal_account.subject`) or sends the person to
the sign-in page. The portal keeps its own session key, so signing in here never signs anyone in to the
console (and an operator signed in to the console is nobody here).
"""

from __future__ import annotations

import datetime as dt
import functools

import segno
from django import forms
from django.http import HttpResponseRedirect
from django.middleware.csrf import rotate_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from portal import selectors, services
from portal.errors import PortalError
from portal.models import PortalAccount
from public.ratelimit import client_address
from public.templating import local_minutes
from validation.catalog import current_catalog

SESSION_KEY = "portal_account"
# what each refusal's page answers (the form shown again with the reason)
_PAGE_STATUS = {"too_many_attempts": 429, "login_failed": 401}


def signed_in_account(request) -> PortalAccount | None:
    account_id = request.session.get(SESSION_KEY)
    if account_id is None:
        return None
    return (PortalAccount.objects.filter(pk=account_id, user__is_active=True)
            .select_related("subject", "user").first())


def account_required(view):
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        request.portal_account = signed_in_account(request)
        if request.portal_account is None:
            return redirect(f"{reverse('portal:login')}?next={request.path}")
        return view(request, *args, **kwargs)

    return wrapper


def never_cached(view):
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        return response

    return wrapper


def _page(request, template: str, context: dict, *, error: PortalError | None = None):
    response = render(request, template, {**context, "error": error}, using="jinja2",
                      status=_PAGE_STATUS.get(error.code, 400) if error else 200)
    if error and error.retry_after_seconds is not None:
        response["Retry-After"] = str(error.retry_after_seconds)
    return response


class SignUpForm(forms.Form):
    uscc = forms.CharField(max_length=40)
    activation_code = forms.CharField(max_length=100)
    email = forms.EmailField(max_length=254)
    password = forms.CharField(max_length=200, strip=False)


class SignInForm(forms.Form):
    email = forms.CharField(max_length=254)
    password = forms.CharField(max_length=200, strip=False)
    totp = forms.CharField(max_length=20)


def _incomplete() -> PortalError:
    return PortalError("incomplete", "请填写每一项（电子邮箱须为有效地址）。")


@never_cached
@require_http_methods(["GET", "HEAD", "POST"])
def signup_page(request):
    form = SignUpForm(request.POST or None)
    if request.method != "POST":
        return _page(request, "portal/signup.html", {"form": form})
    if not form.is_valid():
        return _page(request, "portal/signup.html", {"form": form}, error=_incomplete())
    try:
        new = services.account_create(**form.cleaned_data, ip=client_address(request))
    except PortalError as error:
        return _page(request, "portal/signup.html", {"form": form}, error=error)
    return _page(request, "portal/signed_up.html", {
        "new_account": new.account, "totp_secret": new.totp_secret, "totp_uri": new.provisioning_uri,
        # drawn here (segno): the key never leaves the platform for a QR service
        "qr_svg": segno.make(new.provisioning_uri, error="m").svg_data_uri(scale=4, border=2)})


@never_cached
@require_http_methods(["GET", "HEAD", "POST"])
def login_page(request):
    form = SignInForm(request.POST or None)
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not next_url.startswith("/portal/"):  # only our own pages: no open redirect
        next_url = reverse("portal:records")
    context = {"form": form, "next": next_url}
    if request.method != "POST":
        return _page(request, "portal/login.html", context)
    if not form.is_valid():
        return _page(request, "portal/login.html", context, error=_incomplete())
    try:
        account = services.account_authenticate(**form.cleaned_data, ip=client_address(request))
    except PortalError as error:
        return _page(request, "portal/login.html", context, error=error)
    request.session.cycle_key()  # a new session id on signing in: no fixation
    rotate_token(request)
    request.session[SESSION_KEY] = account.pk
    request.session.set_expiry(int(services.TOKEN_LIFETIME.total_seconds()))
    return HttpResponseRedirect(next_url)


@never_cached
@require_POST
def logout_page(request):
    account = signed_in_account(request)
    if account is not None:
        services.audit_record(action=services.AuditAction.LOGOUT, ip=client_address(request), account=account,
                              via="web")
    request.session.flush()
    return redirect("portal:login")


@never_cached
@require_http_methods(["GET", "HEAD"])
def home_page(request):
    return redirect("portal:records" if signed_in_account(request) else "portal:login")


@never_cached
@require_http_methods(["GET", "HEAD"])
@account_required
def records_page(request):
    account = request.portal_account
    category = request.GET.get("category") or None
    try:
        result = selectors.own_records(subject=account.subject, category=category)
    except PortalError as error:  # an unknown category: say so above every record
        category, result, refusal = None, selectors.own_records(subject=account.subject), error
    else:
        refusal = None
    services.audit_record(action=services.AuditAction.RECORDS_VIEWED, ip=client_address(request), account=account,
                          category=category, via="web")
    catalog = current_catalog()
    categories = [{"name": name, "label": c.label} for name, c in catalog.categories.items()]
    return _page(request, "portal/records.html", {
        "account": account, "result": result, "category": category, "categories": categories,
        "records": [_record_shown(r, catalog) for r in result["records"]]}, error=refusal)


# why a record is not public (credit.publicity.not_public_reason), in words for the enterprise
NOT_PUBLIC_REASON_LABELS = {
    "withdrawn": "已被提供部门撤回",
    "repaired": "已完成信用修复，停止公示",
    "publicity_ended": "公示期已满，停止公示",
    "not_yet_public": "尚未到公示开始日期",
    "simple_procedure": "适用简易程序作出的行政处罚，依规定不公示",
    "usage_scope_shared": "仅在政府部门间共享，不向社会公开",
    "usage_scope_authorized": "仅本企业授权的部门可以查询，不向社会公开",
}
OBJECTION_STATUS_LABELS = {"open": "处理中", "corrected": "已更正", "upheld": "维持原记录"}
_VERSION_OPS = {"upsert": "报送", "withdraw": "撤回"}


def _value_text(catalog, field, value) -> str:
    values = value if isinstance(value, list) else [value]
    if field is not None and field.enum and field.enum in catalog.enums:
        values = [catalog.enum_label(field.enum, str(v)) for v in values]
    return "；".join("" if v is None else str(v) for v in values)


# who the record is about: the page's heading already says it (a registration shows them, being about that)
_SUBJECT_FIELDS = {"subject_name", "subject_type", "uscc", "registration_no", "org_code", "id_type", "id_number"}


def _fields_shown(catalog, category, data: dict) -> list[tuple[str, str]]:
    """Every field of a payload as (label, text), in the catalog's order; the subject's own, unmasked."""
    by_name = category.fields_by_name if category else {}
    names = [n for n in by_name if n in data] + [n for n in data if n not in by_name]
    if category is None or category.name != "registration":
        names = [n for n in names if n not in _SUBJECT_FIELDS]
    return [(by_name[n].label if n in by_name else n, _value_text(catalog, by_name.get(n), data[n]))
            for n in names if data[n] not in (None, "", [])]


def _record_shown(record: dict, catalog) -> dict:
    category = catalog.categories.get(record["category"])
    return {
        **record,
        "category_label": category.label if category else record["category"],
        "reason_label": NOT_PUBLIC_REASON_LABELS.get(record["not_public_reason"], record["not_public_reason"]),
        "fields": _fields_shown(catalog, category, record["data"]),
        "objection": record["objection"] and {
            **record["objection"], "status_label": OBJECTION_STATUS_LABELS.get(record["objection"]["status"])},
        "versions": [{**v, "op_label": _VERSION_OPS.get(v["op"], v["op"]), "valid_from": local_minutes(dt.datetime.fromisoformat(v["valid_from"])),
                      "summary": "；".join(f"{label}：{text}" for label, text in _fields_shown(catalog, category, v["data"]))}
                     for v in record["versions"]],
    }

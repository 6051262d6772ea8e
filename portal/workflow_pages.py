"""The portal's pages for objections, credit repair, authorisations and credit reports (portal.md §3–§6),
under /portal/ with the session and CSRF of portal.views. The work is in portal.workflows; a refusal of the
store is shown above the form in its plain words, with the status the API answers."""

from __future__ import annotations

from django import forms
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from credit.authorizations import authorization_resource, authorizations_of_subject
from credit.models import ReportScope
from credit.objections import EVIDENCE_MAX_BYTES, objection_portal_resource, objections_of_subject
from credit.refusals import Invalid, NotFound, Refused
from credit.repairs import repair_portal_resource, repairs_of_subject
from portal import workflows
from portal.services import AuditAction, audit_record
from portal.views import OBJECTION_STATUS_LABELS, account_required, never_cached
from public.ratelimit import client_address

REPAIR_STATUS_LABELS = {"open": "审核中", "approved": "已准予修复", "rejected": "未准予修复"}
AUTHORIZATION_STATUS_LABELS = {"current": "有效", "expired": "已到期", "revoked": "已撤销"}


class ObjectionForm(forms.Form):
    record = forms.IntegerField(min_value=1)
    reason = forms.CharField(max_length=4000)
    evidence = forms.FileField(required=False)


class RepairForm(forms.Form):
    record = forms.IntegerField(min_value=1)
    reason = forms.CharField(max_length=4000)
    commitment = forms.BooleanField(required=False)


class AuthorizationForm(forms.Form):
    department = forms.CharField(max_length=32)
    until = forms.DateField()


def _status_of(refusal: Refused) -> int:
    return 404 if isinstance(refusal, NotFound) else 400 if isinstance(refusal, Invalid) else 409


def _page(request, template: str, context: dict, *, refusal: Refused | None = None, status: int = 200):
    return render(request, template, {"account": request.portal_account, "refusal": refusal, **context},
                  using="jinja2", status=_status_of(refusal) if refusal else status)


_INCOMPLETE = Invalid("invalid_request", "请完整填写表单（记录编号须为数字，日期格式为 YYYY-MM-DD）。")


def _objections_context(request, form) -> dict:
    account = request.portal_account
    audit_record(action=AuditAction.OBJECTIONS_VIEWED, ip=client_address(request), account=account, via="web")
    return {"form": form, "status_labels": OBJECTION_STATUS_LABELS, "max_mib": EVIDENCE_MAX_BYTES // (1024 * 1024),
            "objections": [objection_portal_resource(o) for o in objections_of_subject(subject=account.subject)]}


@never_cached
@require_http_methods(["GET", "HEAD", "POST"])
@account_required
def objections_page(request):
    """The subject's objections, and the form that files one (with evidence: PDF, JPEG or PNG)."""
    if request.method != "POST":
        form = ObjectionForm(initial={"record": request.GET.get("record", "")})
        return _page(request, "portal/objections.html", _objections_context(request, form))
    form = ObjectionForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, "portal/objections.html", _objections_context(request, form), refusal=_INCOMPLETE)
    upload = form.cleaned_data["evidence"]
    try:
        if upload is not None and upload.size > EVIDENCE_MAX_BYTES:
            raise Invalid("evidence_too_large", f"证明材料不能超过 {EVIDENCE_MAX_BYTES // (1024 * 1024)} MiB。")
        workflows.portal_objection_file(account=request.portal_account, ip=client_address(request),
                                        record_id=form.cleaned_data["record"], reason=form.cleaned_data["reason"],
                                        evidence=upload.read() if upload is not None else None)
    except Refused as refusal:
        return _page(request, "portal/objections.html", _objections_context(request, form), refusal=refusal)
    return redirect("portal:objections")


def _repairs_context(request, form) -> dict:
    account = request.portal_account
    audit_record(action=AuditAction.REPAIRS_VIEWED, ip=client_address(request), account=account, via="web")
    return {"form": form, "status_labels": REPAIR_STATUS_LABELS,
            "repairs": [repair_portal_resource(r) for r in repairs_of_subject(subject=account.subject)]}


@never_cached
@require_http_methods(["GET", "HEAD", "POST"])
@account_required
def repairs_page(request):
    """The subject's credit repair requests, and the form that files one with its credit commitment."""
    if request.method != "POST":
        form = RepairForm(initial={"record": request.GET.get("record", "")})
        return _page(request, "portal/repairs.html", _repairs_context(request, form))
    form = RepairForm(request.POST)
    if not form.is_valid():
        return _page(request, "portal/repairs.html", _repairs_context(request, form), refusal=_INCOMPLETE)
    try:
        workflows.portal_repair_file(account=request.portal_account, ip=client_address(request),
                                     record_id=form.cleaned_data["record"], reason=form.cleaned_data["reason"],
                                     commitment=form.cleaned_data["commitment"])
    except Refused as refusal:
        return _page(request, "portal/repairs.html", _repairs_context(request, form), refusal=refusal)
    return redirect("portal:repairs")


def _authorizations_context(request, form) -> dict:
    account = request.portal_account
    audit_record(action=AuditAction.AUTHORIZATIONS_VIEWED, ip=client_address(request), account=account, via="web")
    return {"form": form, "status_labels": AUTHORIZATION_STATUS_LABELS, "today": timezone.localdate().isoformat(),
            "authorizations": [authorization_resource(a) for a in authorizations_of_subject(subject=account.subject)]}


@never_cached
@require_http_methods(["GET", "HEAD", "POST"])
@account_required
def authorizations_page(request):
    """The subject's authorisations of departments, and the form that grants one."""
    if request.method != "POST":
        return _page(request, "portal/authorizations.html", _authorizations_context(request, AuthorizationForm()))
    form = AuthorizationForm(request.POST)
    if not form.is_valid():
        return _page(request, "portal/authorizations.html", _authorizations_context(request, form),
                     refusal=_INCOMPLETE)
    try:
        workflows.portal_authorization_grant(account=request.portal_account, ip=client_address(request),
                                             department_code=form.cleaned_data["department"],
                                             until=form.cleaned_data["until"])
    except Refused as refusal:
        return _page(request, "portal/authorizations.html", _authorizations_context(request, form), refusal=refusal)
    return redirect("portal:authorizations")


@never_cached
@require_POST
@account_required
def authorization_revoke_page(request, authorization_pk: int):
    try:
        workflows.portal_authorization_revoke(account=request.portal_account, ip=client_address(request),
                                              authorization_id=authorization_pk)
    except Refused as refusal:
        return _page(request, "portal/authorizations.html",
                     _authorizations_context(request, AuthorizationForm()), refusal=refusal)
    return redirect("portal:authorizations")


@never_cached
@require_http_methods(["GET", "HEAD", "POST"])
@account_required
def report_page(request):
    """Choose a report's scope; the POST answers the PDF itself (a download), numbered in Report-Number."""
    if request.method != "POST":
        return _page(request, "portal/report.html", {})
    scope = request.POST.get("scope") or ReportScope.PUBLIC
    if scope not in ReportScope.values:
        return _page(request, "portal/report.html", {}, refusal=Invalid("invalid_scope", "请选择报告范围。"))
    issued = workflows.portal_report_issue(account=request.portal_account, ip=client_address(request), scope=scope)
    response = HttpResponse(issued.pdf, content_type="application/pdf")
    response["Report-Number"] = issued.report.number
    response["Content-Disposition"] = f'attachment; filename="credit-report-{issued.report.number}.pdf"'
    return response

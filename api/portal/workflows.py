"""The portal API's enterprise workflows (portal.md §3–§6): objections, credit repair, authorisations,
credit reports. HTTP only: the work is in portal.workflows (each action audited) and the store's selectors.

Every object is looked up among the account's subject's own: another subject's id answers 404, as an id that
does not exist does. A refusal of the store (credit.refusals) becomes a problem document: NotFound 404,
Invalid 400, any other 409, its `code` and extra members (`earliest`) kept."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response

from api.portal.views import PortalView, _problem, client_ip
from api.problems import Problem
from credit.authorizations import authorization_resource, authorizations_of_subject
from credit.models import CreditReport, ReportScope
from credit.objections import (
    EVIDENCE_MAX_BYTES,
    objection_of_subject,
    objection_portal_resource,
    objections_of_subject,
)
from credit.refusals import Invalid, NotFound, Refused, one_of
from credit.repairs import repair_of_subject, repair_portal_resource, repairs_of_subject
from portal import workflows
from portal.services import AuditAction, audit_record

_TITLES = {400: "请求有误", 404: "未找到", 409: "与现有数据冲突"}


def problem_of(refusal: Refused) -> Problem:
    status = 404 if isinstance(refusal, NotFound) else 400 if isinstance(refusal, Invalid) else 409
    return Problem(refusal.message, code=refusal.code, status=status, title=_TITLES[status], **refusal.extra)


class WorkflowView(PortalView):
    def handle_exception(self, exc):
        if isinstance(exc, Refused):
            exc = problem_of(exc)
        return super().handle_exception(exc)

    def viewed(self, action: str, **detail) -> None:
        audit_record(action=action, ip=client_ip(self.request), account=self.request.user, **detail)


ObjectionOut = serializers.DictField(help_text="id, record, category, reason, status, due_on, evidence, raised_at, "
                                               "decision, decision_reason, decided_at")


class ObjectionsView(WorkflowView):
    parser_classes = [JSONParser, MultiPartParser]

    class In(serializers.Serializer):
        record = serializers.IntegerField(min_value=1)
        reason = serializers.CharField(max_length=4000)
        evidence = serializers.FileField(required=False, allow_empty_file=False,
                                         help_text="multipart only: PDF, JPEG or PNG, at most 10 MiB")

        class Meta:
            ref_name = "PortalObjectionFile"  # schema components are named per class: "In" is every view's

    @extend_schema(operation_id="portal_objection_file", tags=["portal"], request=In,
                   summary="Object to one of the subject's own records (reason 10–2000 characters)",
                   responses={201: ObjectionOut, 400: _problem("invalid_reason, evidence_type_not_allowed, "
                                                              "evidence_too_large, invalid_request"),
                              404: _problem("not_found: no such record of this subject"),
                              409: _problem("objection_open")})
    def post(self, request):
        data = self.In(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data.get("evidence")
        if upload is not None and upload.size > EVIDENCE_MAX_BYTES:  # not read into memory at all
            raise problem_of(Invalid("evidence_too_large", "证明材料不能超过 10 MiB。"))
        objection = workflows.portal_objection_file(
            account=request.user, ip=client_ip(request), record_id=data.validated_data["record"],
            reason=data.validated_data["reason"], evidence=upload.read() if upload is not None else None)
        return Response(objection_portal_resource(objection), status=201)

    @extend_schema(operation_id="portal_objections", tags=["portal"], summary="The subject's objections, newest first",
                   responses={200: OpenApiResponse(description="{results: [objection]}")})
    def get(self, request):
        self.viewed(AuditAction.OBJECTIONS_VIEWED)
        return Response({"results": [objection_portal_resource(o)
                                     for o in objections_of_subject(subject=request.auth.subject)]})


class ObjectionView(WorkflowView):
    @extend_schema(operation_id="portal_objection", tags=["portal"], summary="One of the subject's objections",
                   responses={200: ObjectionOut, 404: _problem("not_found")})
    def get(self, request, objection_pk: int):
        objection = objection_of_subject(subject=request.auth.subject, objection_id=objection_pk)
        self.viewed(AuditAction.OBJECTIONS_VIEWED, objection=objection.pk)
        return Response(objection_portal_resource(objection))


RepairOut = serializers.DictField(help_text="id, record, category, reason, status, filed_at, decision_reason, "
                                            "decided_at, repaired_at")


class RepairsView(WorkflowView):
    class In(serializers.Serializer):
        record = serializers.IntegerField(min_value=1)
        reason = serializers.CharField(max_length=4000)
        commitment = serializers.BooleanField(help_text="信用承诺书: must be true")

        class Meta:
            ref_name = "PortalRepairFile"  # schema components are named per class: "In" is every view's

    @extend_schema(operation_id="portal_repair_file", tags=["portal"], request=In,
                   summary="Apply for credit repair of a public administrative penalty, with a credit commitment",
                   responses={201: RepairOut, 400: _problem("commitment_required, invalid_reason, invalid_request"),
                              404: _problem("not_found"),
                              409: _problem("repair_too_early (with earliest), repair_not_applicable, repair_open")})
    def post(self, request):
        data = self.In(data=request.data)
        data.is_valid(raise_exception=True)
        repair = workflows.portal_repair_file(account=request.user, ip=client_ip(request),
                                              record_id=data.validated_data["record"],
                                              reason=data.validated_data["reason"],
                                              commitment=data.validated_data["commitment"])
        return Response(repair_portal_resource(repair), status=201)

    @extend_schema(operation_id="portal_repairs", tags=["portal"], summary="The subject's repair requests",
                   responses={200: OpenApiResponse(description="{results: [repair]}")})
    def get(self, request):
        self.viewed(AuditAction.REPAIRS_VIEWED)
        return Response({"results": [repair_portal_resource(r) for r in repairs_of_subject(subject=request.auth.subject)]})


class RepairView(WorkflowView):
    @extend_schema(operation_id="portal_repair", tags=["portal"], summary="One of the subject's repair requests",
                   responses={200: RepairOut, 404: _problem("not_found")})
    def get(self, request, repair_pk: int):
        repair = repair_of_subject(subject=request.auth.subject, repair_id=repair_pk)
        self.viewed(AuditAction.REPAIRS_VIEWED, repair=repair.pk)
        return Response(repair_portal_resource(repair))


AuthorizationOut = serializers.DictField(help_text="id, department {code, name}, until, granted_at, revoked_at, "
                                                   "status (current, expired, revoked)")


class AuthorizationsView(WorkflowView):
    class In(serializers.Serializer):
        department = serializers.CharField(max_length=32)
        until = serializers.DateField(help_text="the last day it holds, YYYY-MM-DD")

        class Meta:
            ref_name = "PortalAuthorizationGrant"  # schema components are named per class: "In" is every view's

    @extend_schema(operation_id="portal_authorization_grant", tags=["portal"], request=In,
                   summary="Let a department read the subject's authorised-use records until a day",
                   responses={201: AuthorizationOut, 400: _problem("unknown_department, invalid_until, invalid_request")})
    def post(self, request):
        data = self.In(data=request.data)
        data.is_valid(raise_exception=True)
        authorization = workflows.portal_authorization_grant(
            account=request.user, ip=client_ip(request), department_code=data.validated_data["department"],
            until=data.validated_data["until"])
        return Response(authorization_resource(authorization), status=201)

    @extend_schema(operation_id="portal_authorizations", tags=["portal"], summary="The subject's authorisations",
                   responses={200: OpenApiResponse(description="{results: [authorization]}")})
    def get(self, request):
        self.viewed(AuditAction.AUTHORIZATIONS_VIEWED)
        return Response({"results": [authorization_resource(a)
                                     for a in authorizations_of_subject(subject=request.auth.subject)]})


class AuthorizationView(WorkflowView):
    @extend_schema(operation_id="portal_authorization", tags=["portal"], summary="One of the subject's authorisations",
                   responses={200: AuthorizationOut, 404: _problem("not_found")})
    def get(self, request, authorization_pk: int):
        authorization = one_of(authorizations_of_subject(subject=request.auth.subject), authorization_pk,
                               missing="没有这项授权，或它不属于本主体。")
        self.viewed(AuditAction.AUTHORIZATIONS_VIEWED, authorization=authorization.pk)
        return Response(authorization_resource(authorization))

    @extend_schema(operation_id="portal_authorization_revoke", tags=["portal"], request=None,
                   summary="Revoke an authorisation: the department no longer sees the rows from now on",
                   responses={200: AuthorizationOut, 404: _problem("not_found")})
    def delete(self, request, authorization_pk: int):
        authorization = workflows.portal_authorization_revoke(account=request.user, ip=client_ip(request),
                                                              authorization_id=authorization_pk)
        return Response(authorization_resource(authorization))


class ReportView(WorkflowView):
    @extend_schema(operation_id="portal_report", tags=["portal"],
                   summary="A credit report (PDF) of the subject: public (default) or own",
                   parameters=[OpenApiParameter("scope", OpenApiTypes.STR, required=False, enum=["public", "own"])],
                   responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY,
                                                                         description="Report-Number header"),
                              400: _problem("invalid_scope")})
    def get(self, request):
        scope = request.query_params.get("scope") or ReportScope.PUBLIC
        if scope not in ReportScope.values:
            raise Problem("scope 须为 public 或 own。", code="invalid_scope", status=400, title="请求有误")
        issued = workflows.portal_report_issue(account=request.user, ip=client_ip(request), scope=scope)
        response = HttpResponse(issued.pdf, content_type="application/pdf")
        response["Report-Number"] = issued.report.number
        response["Content-Disposition"] = f'attachment; filename="credit-report-{issued.report.number}.pdf"'
        return response


class ReportsView(WorkflowView):
    @extend_schema(operation_id="portal_reports", tags=["portal"], summary="The reports issued for the subject",
                   responses={200: OpenApiResponse(description="{results: [{number, scope, issued_at, sha256}]}")})
    def get(self, request):
        reports = CreditReport.objects.filter(subject=request.auth.subject).order_by("-id")
        return Response({"results": [report_resource(r) for r in reports]})


def report_resource(report: CreditReport) -> dict:
    return {"number": report.number, "scope": report.scope, "issued_at": report.issued_at.isoformat(),
            "sha256": report.sha256}


class ReportDetailView(WorkflowView):
    @extend_schema(operation_id="portal_report_detail", tags=["portal"], summary="One report issued for the subject",
                   responses={200: OpenApiResponse(description="{number, scope, issued_at, sha256, jws}"),
                              404: _problem("not_found")})
    def get(self, request, number: str):
        report = CreditReport.objects.filter(subject=request.auth.subject, number=number[:40]).first()
        if report is None:
            raise problem_of(NotFound("没有这份报告，或它不属于本主体。"))
        return Response({**report_resource(report), "jws": report.jws})

"""Verifying a credit report (portal.md §6): GET /api/v1/public/reports/{number}."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from api.problems import Problem
from api.public.views import RATE_LIMITED, PublicView, _problem
from public.reports import report_find


class ReportOut(serializers.Serializer):
    number = serializers.CharField()
    uscc = serializers.CharField(allow_null=True)
    name = serializers.CharField()
    scope = serializers.ChoiceField(["public", "own"])
    issued_at = serializers.DateTimeField()
    sha256 = serializers.CharField(help_text="hex SHA-256 of the PDF's bytes as issued")

    class Meta:
        ref_name = "CreditReportVerification"


class ReportVerifyView(PublicView):
    @extend_schema(operation_id="public_report_verify", tags=["public"],
                   summary="Verify a credit report: what the platform issued under this number",
                   responses={200: ReportOut, 404: _problem("not_found"), 429: RATE_LIMITED})
    def get(self, request, number: str):
        report = report_find(number=number)
        if report is None:
            raise Problem("没有这个编号的信用报告。", code="not_found", status=404, title="未找到")
        return Response(report.as_dict())

"""The departments' exchange API (exchange-protocol §4). HTTP only: checks and services live elsewhere.

Every view here runs behind api.exchange.middleware: `request.exchange.department`
is whoever signed the request.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from api.exchange.middleware import TITLES, ascii_digits, body_incomplete_problem
from api.exchange.schema import Problem, _problem, exchange_schema
from api.problems import UNAVAILABLE_RETRY_AFTER
from api.problems import Problem as ProblemError
from credit.identity import code_normalise
from credit.selectors import SUBJECT_RECORDS_PAGE, change_feed_page, subject_unified_record
from exchange.models import Batch, BatchRejection
from exchange.platform_keys import jwks
from exchange.receipts import batch_receipt_issue
from exchange.selectors import batch_resource
from exchange.services.batches import (
    BatchIdConflict,
    BatchTooLarge,
    CategoryNotWritable,
    StorageUnavailable,
    batch_receive,
)
from exchange.services.objections import (
    ObjectionAlreadyDecided,
    ObjectionNotFound,
    objection_decide,
    objection_resource,
    objections_for_department,
)
from exchange.services.repairs import (
    RepairAlreadyDecided,
    RepairNotFound,
    repair_decide,
    repair_resource,
    repairs_list,
)
from exchange.signatures.digest import BodyIncomplete, DigestingReader
from exchange.signatures.verify import SignatureRefused, check_digest
from exchange.waiting import batch_wait_finished, preferred_wait
from validation.field_rules import check_resident_id
from validation.selectors import catalog_description, category_template_xlsx

BATCH_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BATCH_TYPES = {"application/x-ndjson", "text/csv", XLSX}
PAGE_SIZE = 500
CONTENT_TYPE_MAX = Batch._meta.get_field("content_type").max_length  # kept with the batch as sent
MAX_PK = 2**63  # a larger id cannot exist (bigint); answer 404 rather than let PostgreSQL refuse it


class AlwaysJSON(BaseContentNegotiation):
    """The exchange answers JSON (or application/jose for receipts) whatever Accept says."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None


class ExchangeView(APIView):
    content_negotiation_class = AlwaysJSON

    @property
    def department(self):
        return self.request.exchange.department

    def readable_categories(self, category: str | None) -> list[str]:
        """The categories this department may read, or only `category` when asked for (403 if not readable)."""
        if not category:
            return list(self.department.read_categories)
        if not self.department.may_read(category):
            raise ProblemError(f"本部门无权读取 {category} 类信息。", code="category_not_readable", status=403,
                               title="无权读取该类别")
        return [category]

    def batch(self, batch_pk: int) -> Batch:
        """Only the submitting department sees a batch; to anyone else it does not exist (404, not 403)."""
        batch = Batch.objects.filter(pk=batch_pk, department=self.department).first() if batch_pk < MAX_PK else None
        if batch is None:
            raise ProblemError(f"没有编号为 {batch_pk} 的本部门批次。", code="not_found", status=404, title="未找到")
        return batch

    def batch_when_finished(self, batch_pk: int) -> tuple[Batch, dict[str, str]]:
        """The batch, held until it finishes when the request says `Prefer: wait=N` (RFC 7240; exchange/waiting.py),
        and the headers that say so: `Preference-Applied` when the wait was honoured."""
        batch, seconds = self.batch(batch_pk), preferred_wait(self.request.headers.get("Prefer"))
        if not seconds:
            return batch, {}
        batch, honoured = batch_wait_finished(batch, seconds)
        return batch, ({"Preference-Applied": f"wait={seconds:g}"} if honoured else {})


def _cursor(value: str | None) -> int:
    if not value:
        return 0
    if not ascii_digits(value) or len(value) > 18:
        raise ProblemError("cursor 无效：请使用上一页返回的 next_cursor。", code="invalid_cursor", status=400,
                           title="游标无效")
    return int(value)


Counts = inline_serializer("BatchCounts", {name: serializers.IntegerField() for name in Batch.COUNT_FIELDS})
BatchOut = inline_serializer("Batch", {
    "id": serializers.IntegerField(), "batch_id": serializers.CharField(), "category": serializers.CharField(),
    "status": serializers.ChoiceField(["received", "validating", "merging", "completed", "failed"]),
    "counts": Counts, "received_at": serializers.DateTimeField(),
    "completed_at": serializers.DateTimeField(allow_null=True), "rejections_url": serializers.CharField(),
    "receipt_url": serializers.CharField(),
    "failure_code": serializers.CharField(required=False, help_text="a failed batch only: stable snake_case"),
    "failure_reason": serializers.CharField(required=False, help_text="a failed batch only: why, in plain words"),
    "ignored_columns": serializers.ListField(child=serializers.CharField(), help_text=(
        "headings of the file's columns no catalog field claims: not read (§8)")),
})


class BatchCreateView(ExchangeView):
    streams_body = True  # the middleware leaves the body alone: it is hashed here while it streams to storage

    @exchange_schema(
        body=True, operation_id="batch_submit", summary="Submit a batch (§5)",
        parameters=[OpenApiParameter("category", OpenApiTypes.STR, required=True),
                    OpenApiParameter("batch_id", OpenApiTypes.STR, required=True,
                                     description="the department's own id, [A-Za-z0-9._:-]{1,128}")],
        request={"application/x-ndjson": OpenApiTypes.BINARY, "text/csv": OpenApiTypes.BINARY,
                 XLSX: OpenApiTypes.BINARY},
        responses={202: BatchOut, 200: OpenApiResponse(BatchOut, description="the same batch again"),
                   403: _problem("category_not_writable"), 409: _problem("batch_id_conflict"),
                   413: _problem("batch_too_large"), 415: _problem("unsupported_media_type")},
    )
    def post(self, request):
        category, batch_id = request.query_params.get("category", ""), request.query_params.get("batch_id", "")
        if not category or not BATCH_ID.match(batch_id):
            raise ProblemError("需要查询参数 category 和 batch_id（1–128 个字母、数字或 . _ : -）。",
                               code="invalid_request", status=400, title="请求参数有误")
        content_type = request.META.get("CONTENT_TYPE", "")
        media_type, _, params = content_type.partition(";")
        charset = re.search(r"charset=\"?([A-Za-z0-9_-]+)", params)
        if len(content_type) > CONTENT_TYPE_MAX or media_type.strip().lower() not in BATCH_TYPES or (
                media_type.strip().lower() == "text/csv" and charset
                and charset.group(1).lower() not in {"utf-8", "gb18030"}):
            raise ProblemError("批次须为 application/x-ndjson、text/csv; charset=utf-8、text/csv; charset=gb18030"
                               f" 或 Excel 工作簿（{XLSX}）"
                               f"（Content-Type 不超过 {CONTENT_TYPE_MAX} 个字符）。",
                               code="unsupported_media_type", status=415, title="不支持的内容类型")
        if not self.department.may_write(category):
            raise ProblemError(f"本部门（{self.department.code}）无权报送 {category} 类信息。",
                               code="category_not_writable", status=403, title="无权报送该类别")
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.EXCHANGE_MAX_BATCH_BYTES:  # refuse before reading a byte
            raise self._too_large()
        expected = request.exchange.digests
        body = DigestingReader(request._request, length=length,
                               on_end=lambda actual: expected is not None and check_digest(expected, actual))
        try:
            batch, created = batch_receive(department=self.department, category=category, batch_id=batch_id,
                                           content_type=content_type, body=body, source="api")
        except SignatureRefused as exc:  # the body did not hash to its Content-Digest: nothing was kept
            raise ProblemError(exc.detail, code=exc.code, status=exc.status, title=TITLES[exc.code]) from exc
        except BodyIncomplete as exc:  # cut off (or a client that lied): nothing was kept
            raise body_incomplete_problem(exc.received, exc.length) from exc
        except BatchTooLarge as exc:
            raise self._too_large(str(exc)) from exc
        except BatchIdConflict as exc:
            raise ProblemError(f"batch_id {batch_id!r} 已用于内容不同的另一批次；新批次请换一个 batch_id。",
                               code="batch_id_conflict", status=409, title="批次号冲突") from exc
        except CategoryNotWritable as exc:
            raise ProblemError(str(exc), code="category_not_writable", status=403, title="无权报送该类别") from exc
        except StorageUnavailable as exc:
            raise ProblemError(str(exc), code="storage_unavailable", status=503, title="批次存储暂时不可用",
                               headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)}) from exc
        return Response(batch_resource(batch), status=202 if created else 200)

    @staticmethod
    def _too_large(why: str = "") -> ProblemError:
        return ProblemError(
            why or f"批次不能超过 {settings.EXCHANGE_MAX_BATCH_BYTES} 字节、{settings.EXCHANGE_MAX_BATCH_ROWS} 行；请拆分后分别报送。",
            code="batch_too_large", status=413, title="批次过大")


PREFER_WAIT = OpenApiParameter(
    "Prefer", OpenApiTypes.STR, location=OpenApiParameter.HEADER, required=False,
    description="`wait=N` (RFC 7240): hold the answer until the batch has completed or failed, or N seconds "
                "(at most 20) have passed. `Preference-Applied: wait=N` in the answer says the wait was honoured; "
                "without it the server was too busy to hold the request and answered at once.")


class BatchDetailView(ExchangeView):
    @exchange_schema(operation_id="batch_status", summary="A batch's status and counts",
                     parameters=[PREFER_WAIT], responses={200: BatchOut, 404: _problem("not_found (also: another department's batch)")})
    def get(self, request, batch_pk: int):
        batch, headers = self.batch_when_finished(batch_pk)
        return Response(batch_resource(batch), headers=headers)


REJECTION_FIELDS = {"row": serializers.IntegerField(), "field": serializers.CharField(),
                    "code": serializers.CharField(), "message": serializers.CharField()}


class BatchRejectionsView(ExchangeView):
    @exchange_schema(
        operation_id="batch_rejections", summary="Rejected rows, a page at a time",
        parameters=[OpenApiParameter("cursor", OpenApiTypes.STR, required=False)],
        responses={200: inline_serializer("RejectionPage", {"results": inline_serializer("Rejection", REJECTION_FIELDS, many=True),
                                                            "next_cursor": serializers.CharField(allow_null=True)}),
                   404: _problem("not_found")},
    )
    def get(self, request, batch_pk: int):
        batch, after = self.batch(batch_pk), _cursor(request.query_params.get("cursor"))
        rows = list(BatchRejection.objects.filter(batch=batch, id__gt=after).order_by("id")
                    .values("id", "row", "field", "code", "message")[:PAGE_SIZE + 1])
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        return Response({"results": [{k: r[k] for k in ("row", "field", "code", "message")} for r in rows],
                         "next_cursor": str(rows[-1]["id"]) if more else None})


class BatchReceiptView(ExchangeView):
    @exchange_schema(
        operation_id="batch_receipt", summary="The batch receipt (JWS, application/jose)", parameters=[PREFER_WAIT],
        responses={(200, "application/jose"): OpenApiResponse(OpenApiTypes.STR, description="JWS compact"),
                   404: _problem("not_found"), 409: _problem("batch_not_finished")},
    )
    def get(self, request, batch_pk: int):
        batch, headers = self.batch_when_finished(batch_pk)
        if not batch.is_finished:
            raise ProblemError(f"批次仍在处理中（{batch.status}），完成或失败后才有回执。",
                               code="batch_not_finished", status=409, title="批次尚未完成")
        receipt = batch.receipt or batch_receipt_issue(batch=batch)  # issued by the pipeline; never missing
        return HttpResponse(receipt, content_type="application/jose", headers=headers)


CatalogFieldOut = inline_serializer("CatalogField", {
    "name": serializers.CharField(), "label": serializers.CharField(), "type": serializers.CharField(),
    "required": serializers.BooleanField(),
    "headings": serializers.ListField(child=serializers.CharField(), help_text=(
        "every column heading accepted for the field: the standard's, the label, the name, aliases, pinyin codes")),
    "enum": serializers.ListField(child=serializers.DictField(), required=False),
}, many=True)
CatalogOut = inline_serializer("Catalog", {
    "version": serializers.IntegerField(),
    "categories": inline_serializer("CatalogCategory", {
        "name": serializers.CharField(), "label": serializers.CharField(),
        "natural_key": serializers.ListField(child=serializers.CharField()), "fields": CatalogFieldOut,
        "rules": serializers.ListField(child=serializers.DictField())}, many=True),
})


class CatalogView(ExchangeView):
    @exchange_schema(operation_id="catalog", summary="The categories this department may write: fields, rules, "
                                                     "accepted column headings (§8)",
                     responses={200: CatalogOut})
    def get(self, request):
        return Response(catalog_description(categories=list(self.department.write_categories)))


class CatalogTemplateView(ExchangeView):
    @exchange_schema(
        operation_id="catalog_template", summary="An .xlsx template of a category, headed by the standard's headings",
        parameters=[OpenApiParameter("format", OpenApiTypes.STR, required=False, enum=["xlsx"],
                                     description="catalog/{category}?format=xlsx is the same as catalog/{category}.xlsx")],
        responses={(200, XLSX): OpenApiResponse(OpenApiTypes.BINARY, description="the workbook"),
                   403: _problem("category_not_writable"), 404: _problem("not_found")},
    )
    def get(self, request, category: str, suffix: str = ""):
        if not suffix and request.query_params.get("format") != "xlsx":
            raise ProblemError("模板只有 Excel 格式：请求 catalog/{category}.xlsx 或 ?format=xlsx。",
                               code="not_found", status=404, title="未找到")
        if not self.department.may_write(category):
            raise ProblemError(f"本部门（{self.department.code}）无权报送 {category} 类信息。",
                               code="category_not_writable", status=403, title="无权报送该类别")
        try:
            workbook = category_template_xlsx(category=category)
        except KeyError:  # a category granted to the department that the loaded catalog does not have (any more)
            raise ProblemError(f"目录中没有类别“{category}”。", code="not_found", status=404, title="未找到") from None
        response = HttpResponse(workbook, content_type=XLSX)
        response["Content-Disposition"] = f'attachment; filename="{category}.xlsx"'
        return response


SUBJECT_PAGING = [
    OpenApiParameter("category", OpenApiTypes.STR, required=False,
                     description="only this category (one the department may read), e.g. to page through it"),
    OpenApiParameter("cursor", OpenApiTypes.STR, required=False,
                     description="with category: its next_cursors entry from the previous answer"),
]
RecordVersionsOut = inline_serializer("RecordVersion", {
    "version": serializers.IntegerField(), "op": serializers.ChoiceField(["upsert", "withdraw"]),
    "valid_from": serializers.DateTimeField(), "data": serializers.DictField()},
    many=True, help_text="oldest first (exchange-protocol §8)")
RecordOut = inline_serializer("SubjectRecord", {
    "id": serializers.IntegerField(), "category": serializers.CharField(), "natural_key": serializers.CharField(),
    "state": serializers.ChoiceField(["active", "withdrawn"]), "version": serializers.IntegerField(),
    "payload": serializers.DictField(), "publicity": serializers.DictField(), "name_mismatch": serializers.BooleanField(),
    "department": serializers.CharField(), "sources": serializers.ListField(child=serializers.CharField()),
    "updated_at": serializers.DateTimeField(),
    "versions": RecordVersionsOut})
SubjectOut = inline_serializer("SubjectUnifiedRecord", {
    "subject": serializers.DictField(),
    "records": serializers.DictField(child=serializers.ListField(child=RecordOut),
                                     help_text=f"per readable category, at most {SUBJECT_RECORDS_PAGE} records"),
    "next_cursors": serializers.DictField(child=serializers.CharField(allow_null=True), help_text=(
        "per category: pass it as cursor (with that category) for its next page; null on its last page")),
})


class SubjectReader(ExchangeView):
    """The unified record of one subject as this department may read it, a page per category."""

    def answer(self, request, **find) -> Response:
        category, cursor = request.query_params.get("category"), request.query_params.get("cursor")
        categories = self.readable_categories(category)
        if cursor and not category:
            raise ProblemError("cursor 须与 category 一起使用：每个类别各自翻页。", code="invalid_request", status=400,
                               title="请求参数有误")
        record = subject_unified_record(categories=categories, department_id=self.department.pk,
                                        after=_cursor(cursor), **find)
        if record is None:
            raise ProblemError("没有这个信用主体。", code="not_found", status=404, title="未找到")
        return Response(record)


class SubjectView(SubjectReader):
    @exchange_schema(operation_id="subject_record", summary="A subject's unified record, readable categories only",
                     parameters=SUBJECT_PAGING,
                     responses={200: SubjectOut, 403: _problem("category_not_readable"), 404: _problem("not_found")})
    def get(self, request, code: str):
        return self.answer(request, code=code)


class SubjectLookupView(SubjectReader):
    class InputSerializer(serializers.Serializer):
        id_type = serializers.ChoiceField(["resident_id", "passport", "other"])
        id_number = serializers.CharField(max_length=64)

        class Meta:
            ref_name = "SubjectLookup"  # the schema component; "Input" is the objection decision's

    @exchange_schema(
        body=True, operation_id="subject_lookup",
        summary="A natural person's unified record by ID number (in the signed body, never in a URL)",
        request=InputSerializer, parameters=SUBJECT_PAGING,
        responses={200: SubjectOut, 400: _problem("malformed_body, invalid_request or invalid_id_number"),
                   403: _problem("category_not_readable"), 404: _problem("not_found")},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        number = code_normalise(data.validated_data["id_number"])
        if data.validated_data["id_type"] == "resident_id":
            problem = check_resident_id(number, timezone.localdate())
            if problem is not None:  # says what is wrong, never the number itself
                raise ProblemError(f"身份证号码无效：{problem[1]}。", code=problem[0], status=400, title="证件号码无效")
        return self.answer(request, id_number=number)


class ChangesView(ExchangeView):
    @exchange_schema(
        operation_id="change_feed", summary="Record changes in commit order, readable categories only",
        parameters=[OpenApiParameter("cursor", OpenApiTypes.STR, required=False),
                    OpenApiParameter("category", OpenApiTypes.STR, required=False),
                    OpenApiParameter("limit", OpenApiTypes.INT, required=False, description="1–1000, default 100")],
        responses={200: inline_serializer("ChangePage", {"results": serializers.ListField(child=serializers.DictField()),
                                                         "next_cursor": serializers.CharField()}),
                   403: _problem("category_not_readable")},
    )
    def get(self, request):
        categories = self.readable_categories(request.query_params.get("category"))
        _cursor(request.query_params.get("cursor"))
        limit = request.query_params.get("limit", "100")
        if not ascii_digits(limit) or len(limit) > 4 or not 1 <= int(limit) <= 1000:
            raise ProblemError("limit 须为 1–1000 的整数。", code="invalid_request", status=400, title="请求参数有误")
        items, next_cursor = change_feed_page(categories=categories, cursor=request.query_params.get("cursor"),
                                              limit=int(limit), department_id=self.department.pk)
        return Response({"results": items, "next_cursor": next_cursor})


OBJECTION_FIELDS = {
    "id": serializers.IntegerField(), "record": serializers.IntegerField(), "category": serializers.CharField(),
    "natural_key": serializers.CharField(), "subject": serializers.CharField(allow_null=True),
    "raised_by": serializers.CharField(), "reason": serializers.CharField(),
    "status": serializers.ChoiceField(["open", "corrected", "upheld"]), "decision_reason": serializers.CharField(),
    "raised_at": serializers.DateTimeField(), "decided_at": serializers.DateTimeField(allow_null=True)}
ObjectionOut = inline_serializer("Objection", OBJECTION_FIELDS)


class ObjectionsView(ExchangeView):
    @exchange_schema(
        operation_id="objections", summary="Objections against records this department supplied",
        parameters=[OpenApiParameter("status", OpenApiTypes.STR, required=False, enum=["open", "corrected", "upheld"]),
                    OpenApiParameter("cursor", OpenApiTypes.STR, required=False)],
        responses={200: inline_serializer("ObjectionPage", {"results": inline_serializer("Objection", OBJECTION_FIELDS, many=True),
                                                            "next_cursor": serializers.CharField(allow_null=True)})},
    )
    def get(self, request):
        status = request.query_params.get("status") or None
        if status not in {None, "open", "corrected", "upheld"}:
            raise ProblemError("status 须为 open、corrected 或 upheld。", code="invalid_request", status=400,
                               title="请求参数有误")
        after = _cursor(request.query_params.get("cursor"))
        page = list(objections_for_department(department=self.department, status=status)
                    .filter(id__gt=after)[:PAGE_SIZE + 1])
        more = len(page) > PAGE_SIZE
        page = page[:PAGE_SIZE]
        return Response({"results": [objection_resource(o) for o in page],
                         "next_cursor": str(page[-1].pk) if more else None})


class ObjectionDecisionView(ExchangeView):
    class InputSerializer(serializers.Serializer):
        decision = serializers.ChoiceField(["corrected", "upheld"])
        reason = serializers.CharField(max_length=2000)

    @exchange_schema(
        body=True, operation_id="objection_decide", summary="Decide an objection: corrected or upheld",
        request=InputSerializer,
        responses={200: ObjectionOut, 404: _problem("not_found"), 409: _problem("objection_already_decided")},
    )
    def post(self, request, objection_pk: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if objection_pk >= MAX_PK:
            raise ProblemError("没有这个异议。", code="not_found", status=404, title="未找到")
        try:
            objection = objection_decide(department=self.department, objection_id=objection_pk,
                                         **data.validated_data)
        except ObjectionNotFound as exc:
            raise ProblemError("没有这个异议，或它不涉及本部门报送的记录。", code="not_found", status=404,
                               title="未找到") from exc
        except ObjectionAlreadyDecided as exc:
            decided = exc.objection
            raise ProblemError(f"该异议已于 {decided.decided_at:%Y-%m-%d} 作出处理（{decided.status}），不能再次处理。",
                               code="objection_already_decided", status=409, title="异议已处理") from exc
        return Response(objection_resource(objection))


REPAIR_FIELDS = {
    "id": serializers.IntegerField(), "record": serializers.IntegerField(), "category": serializers.CharField(),
    "natural_key": serializers.CharField(), "subject": serializers.CharField(),
    "uscc": serializers.CharField(allow_null=True), "filed_by": serializers.CharField(),
    "reason": serializers.CharField(), "commitment": serializers.BooleanField(),
    "status": serializers.ChoiceField(["open", "approved", "rejected"]), "decision_reason": serializers.CharField(),
    "filed_at": serializers.DateTimeField(), "decided_at": serializers.DateTimeField(allow_null=True)}
RepairOut = inline_serializer("RepairRequest", REPAIR_FIELDS)


class RepairsView(ExchangeView):
    @exchange_schema(
        operation_id="repairs", summary="Credit repair requests for records this department supplied (portal.md §4)",
        parameters=[OpenApiParameter("status", OpenApiTypes.STR, required=False, enum=["open", "approved", "rejected"]),
                    OpenApiParameter("cursor", OpenApiTypes.STR, required=False)],
        responses={200: inline_serializer("RepairPage", {"results": inline_serializer("RepairRequest", REPAIR_FIELDS, many=True),
                                                         "next_cursor": serializers.CharField(allow_null=True)})},
    )
    def get(self, request):
        status = request.query_params.get("status") or None
        if status not in {None, "open", "approved", "rejected"}:
            raise ProblemError("status 须为 open、approved 或 rejected。", code="invalid_request", status=400,
                               title="请求参数有误")
        after = _cursor(request.query_params.get("cursor"))
        page = repairs_list(department=self.department, status=status, after=after, limit=PAGE_SIZE + 1)
        more = len(page) > PAGE_SIZE
        page = page[:PAGE_SIZE]
        return Response({"results": [repair_resource(r) for r in page],
                         "next_cursor": str(page[-1].pk) if more else None})


class RepairDecisionView(ExchangeView):
    class InputSerializer(serializers.Serializer):
        decision = serializers.ChoiceField(["approved", "rejected"])
        reason = serializers.CharField(max_length=2000)

        class Meta:
            ref_name = "RepairDecision"

    @exchange_schema(
        body=True, operation_id="repair_decide",
        summary="Decide a credit repair request: approved (publicity ends today) or rejected",
        request=InputSerializer,
        responses={200: RepairOut, 404: _problem("not_found"), 409: _problem("repair_already_decided")},
    )
    def post(self, request, repair_pk: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if repair_pk >= MAX_PK:
            raise ProblemError("没有这件信用修复申请。", code="not_found", status=404, title="未找到")
        try:
            repair = repair_decide(department=self.department, repair_id=repair_pk, **data.validated_data)
        except RepairNotFound as exc:
            raise ProblemError("没有这件信用修复申请，或它不涉及本部门报送的记录。", code="not_found", status=404,
                               title="未找到") from exc
        except RepairAlreadyDecided as exc:
            decided = exc.repair
            raise ProblemError(f"该申请已于 {decided.decided_at:%Y-%m-%d} 作出决定（{decided.status}），不能再次决定。",
                               code="repair_already_decided", status=409, title="申请已决定") from exc
        return Response(repair_resource(repair))


@extend_schema(operation_id="jwks", summary="The platform's signing keys (RFC 7517 JWK Set)", tags=["exchange"],
               responses={200: inline_serializer("JWKSet", {"keys": serializers.ListField(child=serializers.DictField())}),
                          404: Problem})
class JWKSView(APIView):
    content_negotiation_class = AlwaysJSON

    def get(self, request):
        response = JsonResponse(jwks(), content_type="application/jwk-set+json")
        response["Cache-Control"] = "public, max-age=300"
        return response

"""The public JSON API: the same data and rules as the public pages (public/selectors.py)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import parse_etags, quote_etag
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from api.problems import Problem, ProblemDocument
from api.public.serializers import RecordPageOut, SearchPageOut, SubjectOut
from public import selectors
from public.ratelimit import rate_limit_check
from public.search import MIN_NAME_CHARS, query_parse


def _problem(text: str) -> OpenApiResponse:
    return OpenApiResponse(ProblemDocument, description=text + " (application/problem+json)")


RATE_LIMITED = _problem("rate_limited: too many requests from this address; see Retry-After")


class PublicView(APIView):
    """Counts every request against the client address's limit before anything else."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        retry_after = rate_limit_check(request)
        if retry_after is not None:
            raise Problem(f"查询过于频繁，请在 {retry_after} 秒后再试。", code="rate_limited", status=429,
                          title="请求过于频繁", headers={"Retry-After": str(retry_after)})

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code in (200, 304):
            patch_cache_control(response, public=True, max_age=settings.PUBLIC_CACHE_SECONDS)
        return response


def _record_out(record: selectors.ShownRecord) -> dict:
    return {
        "category": record.category,
        "fields": {f.name: record.data.get(f.name) for f, _ in record.shown},
        "source_department": record.department,
        "updated_at": record.updated_at,
        "publicity_from": record.publicity_from,
        "publicity_until": record.publicity_until,
        "under_objection": record.under_objection,
    }


def _next_url(request, subject: selectors.PublicSubject, category: selectors.ShownCategory) -> str | None:
    """The link to the category's next page of records, or None on its last."""
    if category.next_cursor is None:
        return None
    path = reverse("public-api:subject-records", kwargs={"code": subject.code, "category": category.name})
    return request.build_absolute_uri(f"{path}?{urlencode({'cursor': category.next_cursor})}")


class SubjectSearchView(PublicView):
    @extend_schema(
        operation_id="public_subject_search", tags=["public"],
        summary="Find subjects by any 2+ consecutive characters of their name, or by (part of) a code",
        parameters=[OpenApiParameter("q", OpenApiTypes.STR, required=True,
                                     description="name fragment (2+ characters; full/half-width brackets and "
                                                 "spaces do not matter) or a full or partial code"),
                    OpenApiParameter("page", OpenApiTypes.INT, required=False, description="1-based, 20 per page")],
        responses={200: SearchPageOut, 400: _problem("query_too_short"), 429: RATE_LIMITED},
    )
    def get(self, request):
        query = query_parse(request.query_params.get("q", ""))
        if not query.searchable:
            raise Problem(f"请输入至少 {MIN_NAME_CHARS} 个字的名称或代码。", code="query_too_short", status=400,
                          title="查询内容过短")
        try:
            page = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            page = 1
        result = selectors.subject_search(query=query, page=page)
        body = {
            "query": query.text, "page": result.page, "pages": result.pages,
            "total": min(result.total, selectors.MATCH_CAP), "capped": result.capped,
            "total_text": result.total_text, "hint": result.hint,
            "results": [
                {"code": h.code, "url": reverse("public-api:subject", kwargs={"code": h.code}), "name": h.name,
                 "kind": h.kind, "status": h.status, "id_number_masked": h.id_number_masked,
                 "former_name": h.former_name, "match": h.match,
                 "penalties": min(h.penalties, selectors.COUNT_CAP),
                 "black_listed": h.black_listed,
                 "red_listed": h.red_listed, "under_objection": h.under_objection}
                for h in result.hits
            ],
        }
        return Response(SearchPageOut(body).data)


class SubjectDetailView(PublicView):
    @extend_schema(
        operation_id="public_subject", tags=["public"],
        summary="A subject's basic information and its records in publicity today",
        parameters=[OpenApiParameter("If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False)],
        responses={200: SubjectOut, 304: OpenApiResponse(description="unchanged since the ETag given"),
                   404: _problem("not_found"), 429: RATE_LIMITED},
    )
    def get(self, request, code: str):
        page = selectors.subject_page(code=code)
        if page is None:
            raise Problem("没有这个公开的信用主体。", code="not_found", status=404, title="未找到")
        etag = quote_etag(page.etag)
        if etag in parse_etags(request.headers.get("If-None-Match", "")):
            return Response(status=304, headers={"ETag": etag})
        subject, profile = page.subject, page.profile
        aliases = profile.legacy_codes
        body = {
            "code": subject.code, "kind": subject.kind, "name": subject.name, "uscc": subject.uscc,
            "id_number_masked": subject.id_number_masked, "status": subject.status,
            "legal_representative": subject.legal_representative, "address": subject.address,
            "registration_authority": subject.registration_authority, "former_names": profile.former_names,
            "registration_no": [v for k, v in aliases if k == "registration_no"],
            "org_code": [v for k, v in aliases if k == "org_code"],
            "registration": ({"fields": {f.name: profile.registration.data.get(f.name)
                                         for f, _ in profile.registration.shown},
                              "source_department": profile.registration.department,
                              "updated_at": profile.registration.updated_at} if profile.registration else None),
            "penalties": min(profile.penalties, selectors.COUNT_CAP), "black_listed": profile.black_listed,
            "red_listed": profile.red_listed, "under_objection": profile.under_objection,
            "records": {c.name: [_record_out(r) for r in c.records] for c in profile.categories},
            "record_counts": {c.name: c.counted for c in profile.categories},
            "record_counts_capped": {c.name: c.capped for c in profile.categories},
            "records_next": {c.name: _next_url(request, subject, c) for c in profile.categories},
        }
        return Response(SubjectOut(body).data, headers={"ETag": etag})


class SubjectRecordsView(PublicView):
    @extend_schema(
        operation_id="public_subject_records", tags=["public"],
        summary="A subject's records in publicity of one category, a page at a time (newest first)",
        parameters=[OpenApiParameter("cursor", OpenApiTypes.STR, required=False,
                                     description="where the page starts: a `next` link's cursor; none: the first")],
        responses={200: RecordPageOut, 400: _problem("invalid_cursor"), 404: _problem("not_found"),
                   429: RATE_LIMITED},
    )
    def get(self, request, code: str, category: str):
        try:
            page = selectors.subject_page(code=code, category=category, cursor=request.query_params.get("cursor"))
        except selectors.BadCursor:
            raise Problem("分页参数 cursor 无效，请使用上一页返回的 next 链接。", code="invalid_cursor", status=400,
                          title="分页参数无效") from None
        if page is None:
            raise Problem("没有这个公开的信用主体或信息类别。", code="not_found", status=404, title="未找到")
        shown = page.profile.categories[0]
        body = {"code": page.subject.code, "category": shown.name, "label": shown.label, "total": shown.counted,
                "capped": shown.capped,
                "results": [_record_out(r) for r in shown.records], "next": _next_url(request, page.subject, shown)}
        return Response(RecordPageOut(body).data, headers={"ETag": quote_etag(page.etag)})

"""The public pages: search (/) and a subject (/subjects/<code>). Reads only through public.selectors."""

from __future__ import annotations

import functools

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import condition, require_safe

from public import selectors
from public.ratelimit import rate_limited_page
from public.reports import report_find
from public.search import query_parse


def _page_number(value: str | None) -> int:
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1


def public_cached(view):
    """Cache-Control: public, max-age — on 200s and on 304s alike, so a reverse proxy may keep the page briefly."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code in (200, 304):
            patch_cache_control(response, public=True, max_age=settings.PUBLIC_CACHE_SECONDS)
        return response

    return wrapper


@require_safe
@rate_limited_page
@public_cached
def search_page(request):
    query = query_parse(request.GET.get("q", ""))
    result = None
    if query.text:
        result = selectors.subject_search(query=query, page=_page_number(request.GET.get("page")))
    return render(request, "public/search.html",
                  {"query": query, "result": result, "data_as_of": selectors.data_as_of()}, using="jinja2")


def _subject_etag(request, code: str) -> str | None:
    page = _subject(request, code)
    return page.etag if page else None


def _subject(request, code: str) -> selectors.SubjectPage | None:
    """The page a request asks for, read once per request (the ETag and the page come from the same row)."""
    if not hasattr(request, "_public_subject"):
        category = request.GET.get("category") or None
        cursor = request.GET.get("cursor") if category else None
        try:
            request._public_subject = selectors.subject_page(code=code, category=category, cursor=cursor)
        except selectors.BadCursor:  # not a link a page gave out: the category's first page
            request._public_subject = selectors.subject_page(code=code, category=category)
    return request._public_subject


@require_safe
@rate_limited_page
@public_cached
@condition(etag_func=_subject_etag)
def subject_page(request, code: str):
    """A subject's basic information and the first page of its records in each category, or (?category=…
    &cursor=…, the "more" links) the next page of one category's records."""
    page = _subject(request, code)
    if page is None:
        canonical = selectors.subject_code_for_alias(code=code)
        if canonical:
            return redirect("public:subject", code=canonical, permanent=True)
        return render(request, "public/not_found.html", {"code": code, "data_as_of": selectors.data_as_of()},
                      status=404, using="jinja2")
    return render(request, "public/subject.html", {"page": page, "data_as_of": selectors.data_as_of()},
                  using="jinja2")


@require_safe
@rate_limited_page
@public_cached
def report_page(request, number: str):
    """Verify a credit report by its number (portal.md §6): what the platform issued, and its digest."""
    report = report_find(number=number)
    if report is None:
        return render(request, "public/report_not_found.html", {"number": number}, status=404, using="jinja2")
    return render(request, "public/report.html", {"report": report}, using="jinja2")


def bench_trivial(request):
    """Benchmarks only (settings.PUBLIC_BENCH_VIEWS): the cheapest Django response, as a throughput baseline."""
    return HttpResponse("ok", content_type="text/plain")

"""The public pages: search (/) and a subject (/subjects/<code>). Reads only through public.selectors."""

from __future__ import annotations

import functools

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import quote_etag
from django.views.decorators.http import require_safe

from public import html, selectors
from public.ratelimit import rate_limited_page
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
            if response.has_header("Cache-Control"):  # merge with the view's own directives
                patch_cache_control(response, public=True, max_age=settings.PUBLIC_CACHE_SECONDS)
            else:  # the same header, without patch_cache_control's parsing (~10 µs of a ~1 ms page)
                response["Cache-Control"] = f"public, max-age={settings.PUBLIC_CACHE_SECONDS}"
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
    return render(request, "public/search.html", {
        "query": query, "result": result, "match_cap": selectors.MATCH_CAP,
        "hits_html": html.hits_html(result.hits) if result else "",
    })


# What @condition reads. It costs ~20 µs a request (of a ~1 ms page) even when the client asks nothing,
# so the subject page calls Django's get_conditional_response (what @condition calls) only when it does.
_CONDITIONAL_HEADERS = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE")


@require_safe
@rate_limited_page
@public_cached
def subject_page(request, code: str):
    page = selectors.subject_page(code=code)  # one query, 304 or 200: the ETag comes from the same rows
    if page is None:
        canonical = selectors.subject_code_for_alias(code=code)
        if canonical:
            return redirect("public:subject", code=canonical, permanent=True)
        return render(request, "public/not_found.html", {"code": code}, status=404)
    etag = quote_etag(page.etag)
    response = None
    if any(header in request.META for header in _CONDITIONAL_HEADERS):
        response = get_conditional_response(request, etag=etag)  # 304 (or 412), or None: send the page
    if response is None:
        # Made in Python (public/html.py) into base.html's frame: no template rendering, no context processors.
        response = HttpResponse(html.subject_html(page, kind_label=selectors.kind_label(page.subject.kind)))
    response["ETag"] = etag
    return response


def bench_trivial(request):
    """Benchmarks only (settings.PUBLIC_BENCH_VIEWS): the cheapest Django response, as a throughput baseline."""
    return HttpResponse("ok", content_type="text/plain")

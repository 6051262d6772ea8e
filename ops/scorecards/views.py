"""/scorecards/ in the intranet zone (scorecards.md): the month's ranking, each department's 12-month trend,
links to the batches and rejections behind the figures, CSV and XLSX downloads. The console's own
protection (ops.console.ConsoleSite.admin_view: staff with a verified second factor), then a permission."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from exchange.models import Batch
from ops.scorecards.charts import trend_chart
from ops.scorecards.exports import scorecards_csv, scorecards_xlsx
from ops.scorecards.figures import TIMELINESS_CATEGORIES
from ops.scorecards.months import (
    MonthInvalid,
    month_add,
    month_bounds,
    month_current,
    month_is_over,
    month_label,
    month_parse,
)
from ops.scorecards.selectors import score_trends, scorecards_of_month
from ops.scorecards.services import scorecards_store

VIEW_PERMISSION = "ops.view_departmentscorecard"
RECOMPUTE_PERMISSION = "ops.recompute_departmentscorecard"
REJECTION_LINK_MAX_BATCHES = 200  # beyond that the link lists the batches (each links to its rejections)


def _protected(view):
    def checked(request, *args, **kwargs):
        if not request.user.has_perm(VIEW_PERMISSION):
            raise PermissionDenied("没有查看部门绩效评估的权限")
        return view(request, *args, **kwargs)
    return admin.site.admin_view(checked)


def _month(request):
    text = request.GET.get("month", "")
    return month_parse(text) if text else month_add(month_current(), -1)


def _links(month, cards: list[dict]) -> dict[str, dict[str, str]]:
    """Per department, the console's lists behind its figures: batches (all, failed, with rejected rows,
    licences and penalties) and rejections by code."""
    start, end = month_bounds(month)
    batches_url, rejections_url = (reverse("admin:exchange_batch_changelist"),
                                   reverse("admin:exchange_batchrejection_changelist"))
    with_rejections: dict[int, list[int]] = {}
    for department_id, batch_id in Batch.objects.filter(received_at__gte=start, received_at__lt=end,
                                                        rejected__gt=0).values_list("department_id", "id"):
        with_rejections.setdefault(department_id, []).append(batch_id)
    links = {}
    for card in cards:
        base = {"department__id__exact": card["department_id"], "received_at__gte": start.isoformat(),
                "received_at__lt": end.isoformat()}
        ids = with_rejections.get(card["department_id"], [])
        rejected = f"{batches_url}?{urlencode({**base, 'rejected__gt': 0})}"
        links[card["department"]] = {
            "batches": f"{batches_url}?{urlencode(base)}",
            "batches_failed": f"{batches_url}?{urlencode({**base, 'status__exact': 'failed'})}",
            "rejected": rejected,
            "timeliness": f"{batches_url}?{urlencode({**base, 'category__in': ','.join(TIMELINESS_CATEGORIES)})}",
            "codes": {item["code"]: (
                f"{rejections_url}?{urlencode({'code__exact': item['code'], 'batch__id__in': ','.join(map(str, ids))})}"
                if len(ids) <= REJECTION_LINK_MAX_BATCHES else rejected) for item in card["top_rejection_codes"]},
        }
    return links


@_protected
@require_GET
def scorecards_page(request):
    try:
        month = _month(request)
    except MonthInvalid as error:
        return render(request, "ops/scorecards.html", {"error": str(error), "month": None}, status=400,
                      using="jinja2")
    cards, stored = scorecards_of_month(month=month)
    trends = score_trends(month=month, cards=cards)
    context = {
        "month": month_label(month), "previous": month_label(month_add(month, -1)),
        "next": month_label(month_add(month, 1)) if month_is_over(month) else None,
        "stored": stored, "computed_at": cards[0].get("computed_at") if stored and cards else None,
        "month_is_over": month_is_over(month), "may_recompute": request.user.has_perm(RECOMPUTE_PERMISSION),
        "cards": cards, "charts": {code: trend_chart(points) for code, points in trends.items()},
        "links": _links(month, cards), "error": None,
    }
    return render(request, "ops/scorecards.html", context, using="jinja2")


@_protected
@require_POST
def scorecards_recompute(request):
    if not request.user.has_perm(RECOMPUTE_PERMISSION):
        raise PermissionDenied("没有重新计算部门绩效评估的权限")
    try:
        month = month_parse(request.POST.get("month", ""))
    except MonthInvalid as error:
        return HttpResponse(str(error), status=400, content_type="text/plain; charset=utf-8")
    if month_is_over(month):
        scorecards_store(month=month, recompute=True)
    return redirect(f"{reverse('scorecards')}?{urlencode({'month': month_label(month)})}")


@_protected
@require_GET
def scorecards_download(request, extension: str):
    try:
        month = _month(request)
    except MonthInvalid as error:
        return HttpResponse(str(error), status=400, content_type="text/plain; charset=utf-8")
    cards, _ = scorecards_of_month(month=month)
    name = f"scorecards-{month_label(month)}.{extension}"
    if extension == "csv":
        response = HttpResponse(scorecards_csv(cards), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(scorecards_xlsx(cards, title=month_label(month)),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


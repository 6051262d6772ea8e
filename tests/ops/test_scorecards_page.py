"""/scorecards/ (intranet): staff with a verified second factor and the permission only; the ranking, its
trend charts with their text alternative, links to the console's lists, CSV and XLSX downloads."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from openpyxl import load_workbook

from exchange.models import Batch
from ops.models import DepartmentScorecard
from tests.exchange.test_console_admin import console

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("console_groups")]
PAGE = "/scorecards/?month=2026-02"


def with_permission(client: Client, username: str, *codenames: str) -> Client:
    user = get_user_model().objects.get(username=username)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="ops", codename__in=codenames))
    return client


def without_scorecards(username: str) -> Client:
    client = console(username, "viewer")
    for group in get_user_model().objects.get(username=username).groups.all():
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="ops"))
    return client


def test_anonymous_and_non_staff_are_sent_to_the_console_login(february):
    assert Client().get(PAGE).status_code == 302
    get_user_model().objects.create_user(username="citizen", password="pw-123456789")
    client = Client()
    client.login(username="citizen", password="pw-123456789")
    for url in (PAGE, "/scorecards/scorecards.csv?month=2026-02", "/scorecards/scorecards.xlsx?month=2026-02"):
        answer = client.get(url)
        assert answer.status_code == 302 and answer["Location"].startswith("/admin/login/")


def test_staff_without_the_permission_is_refused(february):
    client = without_scorecards("nosee")
    for url in (PAGE, "/scorecards/scorecards.csv?month=2026-02", "/scorecards/scorecards.xlsx?month=2026-02"):
        answer = client.get(url)
        assert answer.status_code == 403
        assert "HN-SCJG" not in answer.content.decode(errors="replace")
    assert client.post("/scorecards/recompute", {"month": "2026-02"}).status_code == 403


def test_the_page_ranks_links_and_draws(february):
    client = with_permission(without_scorecards("see"), "see", "view_departmentscorecard")
    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    order = [m for m in re.findall(r"HN-[A-Z]+", html) if m != "HN-LATE"]
    assert list(dict.fromkeys(order)) == ["HN-GTZY", "HN-STHJ", "HN-SWJ", "HN-SCJG"]
    assert "实时计算" in html and "重新计算" not in html  # not stored; this account may not store it
    # each department's trend: an SVG image with a title and a description in words
    assert html.count('role="img"') == 4
    assert "<desc id=\"trend-4-desc\">得分：2026-02 70.0（11 个月无已保存的结果）</desc>" in html
    # the rejected-row code links to the rejections of SCJG's February batches with that code
    href = re.search(r'href="([^"]*batchrejection[^"]*)">required<', html)[1].replace("&amp;", "&")
    query = parse_qs(urlsplit(href).query)
    friday = Batch.objects.get(batch_id="P-1")
    assert query == {"code__exact": ["required"], "batch__id__in": [str(friday.pk)]}
    # the console's batch list behind "batches": SCJG's 4 February batches (a superuser follows the link)
    batches_href = re.search(r'href="(/admin/exchange/batch/\?[^"]*)">4<', html)[1].replace("&amp;", "&")
    listing = console("root", superuser=True).get(batches_href)
    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 4
    rejections = console("root2", superuser=True).get(href)
    assert rejections.status_code == 200 and len(rejections.context["cl"].result_list) == 1


def test_the_console_index_links_to_the_page_for_those_who_may_see_it(db):
    seeing = with_permission(without_scorecards("see"), "see", "view_departmentscorecard")
    assert 'href="/scorecards/"' in seeing.get("/admin/").content.decode()
    assert 'href="/scorecards/"' not in without_scorecards("nosee").get("/admin/").content.decode()


def test_a_bad_month_is_explained(february):
    client = with_permission(without_scorecards("see"), "see", "view_departmentscorecard")
    answer = client.get("/scorecards/?month=2026-2")
    assert answer.status_code == 400 and "月份应写作 YYYY-MM" in answer.content.decode()


def test_downloads(february):
    client = with_permission(without_scorecards("see"), "see", "view_departmentscorecard")
    answer = client.get("/scorecards/scorecards.csv?month=2026-02")
    assert answer.status_code == 200 and answer["Content-Disposition"] == 'attachment; filename="scorecards-2026-02.csv"'
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert [row["department"] for row in rows] == ["HN-GTZY", "HN-STHJ", "HN-SWJ", "HN-SCJG"]
    scjg = rows[3]
    assert (scjg["score"], scjg["rank"], scjg["median_delay_working_days"], scjg["top_rejection_codes"],
            scjg["acceptance_rate"]) == ("70.0", "4", "3.5", "required:1", "0.875")
    assert rows[0]["acceptance_rate"] == ""  # null: no rows
    answer = client.get("/scorecards/scorecards.xlsx?month=2026-02")
    assert answer.status_code == 200
    sheet = load_workbook(io.BytesIO(answer.content), read_only=True)["2026-02"]
    table = list(sheet.iter_rows(values_only=True))
    assert table[0][:3] == ("department", "name", "month")
    assert table[4][0] == "HN-SCJG" and table[4][-2:] == (70.0, 4)


def test_an_operator_stores_the_month_and_it_is_shown_as_stored(february):
    client = with_permission(without_scorecards("op"), "op", "view_departmentscorecard", "recompute_departmentscorecard")
    assert "计算并保存" in client.get(PAGE).content.decode()
    answer = client.post("/scorecards/recompute", {"month": "2026-02"})
    assert answer.status_code == 302 and answer["Location"] == "/scorecards/?month=2026-02"
    assert DepartmentScorecard.objects.filter(month="2026-02-01").count() == 4
    html = client.get(PAGE).content.decode()
    assert "已保存的结果" in html and "重新计算并保存" in html

"""/scorecards/ in Chromium: signed in through the console's second factor, the ranking and its SVG trends
render with every request not addressed to the platform aborted, and the CSV download arrives."""

from __future__ import annotations

import pytest
from django_otp.oath import TOTP

from tests.public.test_site_in_browser import CHROMIUM_ARGS, outside_requests_blocked


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_ranking_renders_from_the_platform_alone(live_server, february, artifacts_dir, request):
    from django.contrib.auth.models import Permission
    from playwright.sync_api import sync_playwright

    from ops.operators import operator_create

    request.getfixturevalue("console_groups")
    new = operator_create(username="scorecard-viewer", password="pw-for-the-browser", groups=["viewer"])
    new.user.user_permissions.add(Permission.objects.get(codename="view_departmentscorecard"))
    failed = []

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 900}, accept_downloads=True)
        outside = outside_requests_blocked(page, live_server.url)
        page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
        page.goto(live_server.url + "/scorecards/?month=2026-02")  # to the console's sign-in first
        page.fill("#id_username", "scorecard-viewer")
        page.fill("#id_password", "pw-for-the-browser")
        page.fill("#id_otp_token", f"{TOTP(new.device.bin_key).token():06d}")
        page.click("input[type=submit]")
        page.get_by_role("heading", level=1, name="部门绩效评估：2026-02").wait_for()
        table = page.get_by_role("table", name="2026-02 各部门排名（4 个部门）")
        rows = table.locator("tbody tr")
        assert rows.count() == 4
        assert rows.nth(3).locator("th").inner_text().split() == ["HN-SCJG", "名称", "HN-SCJG"]
        assert page.get_by_role("img", name="HN-SCJG 名称近 12 个月得分趋势").is_visible()
        page.screenshot(path=str(artifacts_dir / "scorecards.png"), full_page=True)
        with page.expect_download() as download:
            page.get_by_role("link", name="下载 CSV").click()
        assert download.value.suggested_filename == "scorecards-2026-02.csv"
        browser.close()

    assert outside == [] and failed == []

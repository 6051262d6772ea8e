"""Every asset of every page comes from the platform: on a government intranet no CDN and no font host is
reachable. Chromium aborts each request not addressed to the live server, and the API docs, the console
(its login with the second factor, and a page behind it) and the public pages still render, with none of
their own requests failing."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest
from django_otp.oath import TOTP

from tests.public.conftest import PUBLIC_DB
from tests.public.test_site_in_browser import CHROMIUM_ARGS, outside_requests_blocked

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, databases=PUBLIC_DB)
def test_docs_console_and_public_pages_render_with_every_outside_request_blocked(live_server, store_again,
                                                                                  artifacts_dir, request):
    from playwright.sync_api import sync_playwright

    from ops.operators import operator_create

    request.getfixturevalue("console_groups")
    new = operator_create(username="browser-op", password="pw-for-the-browser", groups=["viewer"])
    platform = urlparse(live_server.url).netloc
    failed, blocked_in_the_browser = [], []

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        outside = outside_requests_blocked(page, live_server.url)

        def request_failed(r):
            if urlparse(r.url).netloc == platform:
                failed.append(f"{r.failure} {r.url}")
            elif r.url not in outside:  # never sent: the page's Content-Security-Policy stopped it
                blocked_in_the_browser.append(f"{r.failure} {r.url}")

        page.on("requestfailed", request_failed)
        page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))

        page.goto(live_server.url + "/api/docs/")
        page.get_by_text("Credit information sharing platform API").first.wait_for(timeout=30000)
        page.screenshot(path=str(artifacts_dir / "api-docs.png"))
        page.wait_for_load_state("networkidle")

        page.goto(live_server.url + "/admin/login/")
        page.fill("#id_username", "browser-op")
        page.fill("#id_password", "pw-for-the-browser")
        page.fill("#id_otp_token", f"{TOTP(new.device.bin_key).token():06d}")
        page.click("input[type=submit]")
        page.get_by_role("link", name="部门签名密钥").first.wait_for()
        page.wait_for_load_state("networkidle")
        page.goto(live_server.url + "/admin/exchange/batch/")
        assert page.get_by_role("heading", level=1).inner_text()
        page.screenshot(path=str(artifacts_dir / "console-batches.png"))
        # a stylesheet's icons may still be loading after the load event: leaving the page then aborts them,
        # which is this test's navigation, not the platform failing to serve them
        page.wait_for_load_state("networkidle")

        page.goto(live_server.url + "/")
        assert page.get_by_role("heading", level=1).inner_text()
        page.wait_for_load_state("networkidle")
        page.goto(f"{live_server.url}/subjects/{store_again.tianyi_uscc}")
        assert page.get_by_role("heading", level=1).inner_text() == "湖南天翼（长沙）科技有限公司"
        browser.close()

    assert outside == [] and failed == []
    # Redoc's bundle names its maker's logo on a CDN: the docs page's policy keeps it from being asked for
    assert all(line.startswith("csp ") for line in blocked_in_the_browser), blocked_in_the_browser


def test_no_template_names_an_outside_host():
    """The browser test covers the pages it opens; this covers every template and stylesheet we ship."""
    ours = [path for folder in ("api", "config", "credit", "exchange", "ops", "public", "validation")
            for pattern in ("*.html", "*.css", "*.js") for path in (ROOT / folder).rglob(pattern)]
    assert ours
    named = [str(path) for path in ours if "//" in (text := path.read_text(encoding="utf-8"))
             and any(f"{scheme}//" in text and "w3.org" not in text for scheme in ("http:", "https:"))]
    assert named == []

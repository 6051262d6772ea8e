"""The public site in real headless Chromium (Debian's /usr/bin/chromium; no browser download)."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.public.conftest import PUBLIC_DB
from tests.public.seed import SCRIPT

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def outside_requests_blocked(page, platform_url: str) -> list[str]:
    """Abort every request the page makes to another host than the platform's; the list returned fills
    with their URLs (an intranet reaches nothing outside: a test asserts it stays empty)."""
    platform, outside = urlparse(platform_url).netloc, []

    def route(r):
        if urlparse(r.request.url).netloc == platform:
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return outside


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, databases=PUBLIC_DB)
def test_search_open_subject_and_read_it(live_server, store, artifacts_dir):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 375, "height": 740})  # a phone
        page.goto(live_server.url + "/")
        page.get_by_label("企业名称或统一社会信用代码").fill("天翼")
        page.keyboard.press("Enter")
        link = page.get_by_role("link", name="湖南天翼（长沙）科技有限公司")
        link.focus()
        page.keyboard.press("Enter")  # keyboard only
        page.wait_for_url(f"**/subjects/{store.tianyi_uscc}")
        assert page.get_by_role("heading", level=1).inner_text() == "湖南天翼（长沙）科技有限公司"
        penalties = page.locator("#admin_penalty")
        assert "湘市监罚〔2025〕1号" in penalties.inner_text()
        assert "湘市监罚〔2020〕9号" not in page.content()  # expired
        assert "异议处理中" in penalties.inner_text()
        assert page.evaluate("window.__pwned") is None  # the payload did not run …
        assert f"有履行能力而拒不履行{SCRIPT}" in page.locator("#black_list").inner_text()  # … it shows as text
        assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling
        page.screenshot(path=str(artifacts_dir / "public-subject-phone.png"), full_page=True)

        page.goto(live_server.url + "/?q=赵六")
        page.get_by_role("link", name="赵六").click()
        assert store.person_masked in page.locator("main").inner_text()
        assert store.person_id not in page.content()
        browser.close()

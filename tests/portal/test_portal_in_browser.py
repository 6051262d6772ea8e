"""The portal's main path in real headless Chromium (Debian's /usr/bin/chromium), keyboard only, at phone width:
sign up with an activation code, sign in with password and a TOTP code computed here, read the own records
with a non-public record's reason and its history, raise an objection against that record with a scan as
evidence, let the owning department decide it through the signed exchange API (real signed HTTP requests to
the live server, as a department's clerk sends them), see the decision, sign out. Nothing is loaded from
outside the platform; a screenshot of each step goes to test-artifacts/."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from tests.portal.conftest import PASSWORD, activation_code, totp
from tests.public.test_site_in_browser import CHROMIUM_ARGS, outside_requests_blocked

# What the public site's browser tests hold its pages to (WCAG 2.1 AA basics a script can check): a language,
# a title, one h1, every form control labelled, every image described, ids unique, focus visibly outlined, no
# sideways scrolling on a phone.
ACCESSIBILITY_PROBLEMS = """() => {
  const problems = [];
  if (!document.documentElement.lang) problems.push('no lang on <html>');
  if (!document.title.trim()) problems.push('no <title>');
  if (document.querySelectorAll('h1').length !== 1) problems.push('not exactly one h1');
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label')) problems.push('unlabelled ' + el.name);
  }
  for (const img of document.querySelectorAll('img')) if (!img.hasAttribute('alt')) problems.push('img without alt');
  const ids = [...document.querySelectorAll('[id]')].map(e => e.id);
  if (new Set(ids).size !== ids.length) problems.push('duplicate ids');
  for (const el of document.querySelectorAll('[aria-describedby]')) {
    for (const id of el.getAttribute('aria-describedby').split(' ')) {
      if (!document.getElementById(id)) problems.push('aria-describedby names no element: ' + id);
    }
  }
  if (document.documentElement.scrollWidth > window.innerWidth) problems.push('sideways scrolling');
  return problems;
}"""


OBJECTION_REASON = "该处罚决定书记载的违法事实与本企业实际情况不符，已附整改证明，请核实更正。"
DEPARTMENT_WORDS = "经核实，违法事实记载有误，已按更正后的决定书重新报送。"


def department_clerk(url: str):
    """HN-SCJG, which supplied the enterprise's records, as its clerk reaches the platform: the exchange
    client's session, signing every request with the department's demo key and checking each response's
    signature against the platform's published keys."""
    from exchange.client.session import ExchangeSession, load_private_key
    from exchange.demo_keys import demo_key_files
    from exchange.services.departments import department_key_add

    private, public = demo_key_files("hn-scjg-2026")
    department_key_add(department_code="HN-SCJG", keyid="hn-scjg-2026", public_key_pem=public.read_bytes())
    return ExchangeSession(url=url, keyid="hn-scjg-2026", private_key=load_private_key(private))


def accessible(page) -> None:
    assert page.evaluate(ACCESSIBILITY_PROBLEMS) == []


def type_into(page, label: str, text: str) -> None:
    """Tab until the field with this label has the focus, then type: the keyboard only."""
    field = page.get_by_label(label, exact=True)
    for _ in range(20):
        if field.evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press("Tab")
    else:
        raise AssertionError(f"the field {label!r} cannot be reached with Tab")
    focus_outline = field.evaluate("el => getComputedStyle(el).outlineStyle")
    assert focus_outline != "none", f"{label}: no visible focus"
    page.keyboard.type(text)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_sign_in_object_to_a_non_public_record_and_see_the_decision(live_server, batches_in_process, enterprises,
                                                                     artifacts_dir, tmp_path):
    from playwright.sync_api import sync_playwright

    first, _ = enterprises
    code = activation_code(first.uscc)
    clerk = department_clerk(live_server.url)
    scan = tmp_path / "scan.png"
    Image.new("RGB", (120, 80), "white").save(scan)  # the evidence: a small scan of a document

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 375, "height": 740})  # a phone
        outside = outside_requests_blocked(page, live_server.url)

        page.goto(live_server.url + "/portal/signup")
        accessible(page)
        type_into(page, "统一社会信用代码", first.uscc)
        type_into(page, "激活码", code)
        type_into(page, "电子邮箱（登录名）", "boss@example.cn")
        type_into(page, "密码", PASSWORD)
        page.keyboard.press("Enter")
        page.get_by_role("heading", name="账户已开通").wait_for()
        accessible(page)
        secret = page.locator("#totp-secret").inner_text().strip()
        assert page.locator("#totp-uri").inner_text().startswith("otpauth://totp/")
        assert page.get_by_role("img").evaluate("img => img.complete && img.naturalWidth > 0")  # the QR code
        page.screenshot(path=str(artifacts_dir / "portal-signed-up-phone.png"), full_page=True)

        page.goto(live_server.url + "/portal/")
        page.wait_for_url("**/portal/login")
        accessible(page)
        type_into(page, "电子邮箱", "boss@example.cn")
        type_into(page, "密码", PASSWORD)
        type_into(page, "动态验证码", totp(secret))
        page.keyboard.press("Enter")
        page.wait_for_url("**/portal/records")
        accessible(page)
        assert page.get_by_role("heading", level=1).inner_text() == first.name

        simple = page.locator(f"#record-{first.records['P-SIMPLE']}")
        assert "不公开" in simple.inner_text()
        assert "适用简易程序作出的行政处罚，依规定不公示" in simple.inner_text()
        assert "湖南省市场监督管理局（HN-SCJG）" in simple.inner_text()
        corrected = page.locator(f"#record-{first.records['P-PUBLIC']}")
        summary = corrected.locator("summary")
        summary.focus()
        page.keyboard.press("Enter")  # the version history opens from the keyboard
        history = corrected.locator("table.versions")
        assert history.is_visible() and history.locator("tbody tr").count() == 2
        assert "罚款一万元" in history.inner_text() and "警告" in history.inner_text()
        page.screenshot(path=str(artifacts_dir / "portal-records-phone.png"), full_page=True)

        # a record only departments the enterprise authorises may read: not public, and why
        authorized_id = first.records["P-AUTHORIZED"]
        authorized = page.locator(f"#record-{authorized_id}")
        assert "不公开" in authorized.inner_text()
        assert "仅本企业授权的部门可以查询，不向社会公开" in authorized.inner_text()
        authorized.locator("summary").focus()
        page.keyboard.press("Enter")
        assert authorized.locator("table.versions tbody tr").count() == 1
        authorized.screenshot(path=str(artifacts_dir / "portal-non-public-record-phone.png"))

        authorized.get_by_role("link", name="对这条记录提出异议").focus()
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/portal/objections?record={authorized_id}")
        accessible(page)
        assert page.get_by_label("记录编号", exact=True).input_value() == str(authorized_id)
        type_into(page, "异议理由", OBJECTION_REASON)
        page.get_by_label("证明材料（可选）").set_input_files(str(scan))  # a file chooser: no keyboard path to script
        page.get_by_role("button", name="提交异议").focus()
        page.keyboard.press("Enter")
        page.wait_for_url("**/portal/objections")
        accessible(page)
        filed = page.locator("article[id^=objection-]")
        assert filed.count() == 1
        objection_id = int(filed.get_attribute("id").removeprefix("objection-"))
        assert filed.locator(".status").inner_text() == "处理中"
        assert f"记录 {authorized_id}" in filed.inner_text() and "已提交（image/png）" in filed.inner_text()
        page.screenshot(path=str(artifacts_dir / "portal-objection-filed-phone.png"), full_page=True)

        # the department that supplied the record finds it among its open objections and decides, signed
        listed = clerk.request("GET", "objections", params={"status": "open"}).json()["results"]
        assert [(o["id"], o["record"], o["reason"]) for o in listed] == [(objection_id, authorized_id,
                                                                         OBJECTION_REASON)]
        decision = json.dumps({"decision": "corrected", "reason": DEPARTMENT_WORDS}, ensure_ascii=False).encode()
        decided = clerk.request("POST", f"objections/{objection_id}/decision", body=decision,
                                content_type="application/json").json()
        assert decided["status"] == "corrected"

        page.reload()
        accessible(page)
        decided_shown = page.locator(f"#objection-{objection_id}")
        assert decided_shown.locator(".status").inner_text() == "已更正"
        assert decided_shown.locator(".decision").inner_text() == f"已更正：{DEPARTMENT_WORDS}"
        page.screenshot(path=str(artifacts_dir / "portal-objection-decided-phone.png"), full_page=True)
        page.goto(live_server.url + "/portal/records")
        assert "异议：已更正" in page.locator(f"#record-{authorized_id}").inner_text()

        page.get_by_role("button", name="退出登录").focus()
        page.keyboard.press("Enter")
        page.wait_for_url("**/portal/login")
        page.goto(live_server.url + "/portal/records")
        page.wait_for_url("**/portal/login?next=/portal/records")
        browser.close()

    assert outside == []

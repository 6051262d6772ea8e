"""The search and subject pages: what they show, what they hold back, caching and the rate limit."""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import clear_script_prefix, set_script_prefix

from tests.public.conftest import PUBLIC_DB, committed
from tests.public.seed import SCRIPT

pytestmark = pytest.mark.django_db(databases=PUBLIC_DB)


def _names(html: str) -> list[str]:
    return re.findall(r'<a class="name" href="[^"]+">([^<]+)</a>', html)


def test_search_finds_names_from_any_two_characters_and_codes(client, store, django_assert_max_num_queries):
    # two characters from the middle; full-width brackets; half-width brackets and spaces; a former name
    for q in ["长沙", "天翼", "（长沙）科技", "天翼 (长沙)科", "翼（长", "天翼电子"]:
        response = client.get("/", {"q": q})
        assert response.status_code == 200, q
        names = _names(response.content.decode())
        assert "湖南天翼（长沙）科技有限公司" in names, q
    assert _names(client.get("/", {"q": "长沙"}).content.decode()) == [
        "长沙红星食品有限公司", "湖南天翼（长沙）科技有限公司"]  # prefix matches first
    assert _names(client.get("/", {"q": "天翼电子"}).content.decode()) == ["湖南天翼（长沙）科技有限公司"]
    # full code, part of a code, lower case and full-width
    code = store.tianyi_uscc
    for q in [code, code[-9:], code.lower(), code.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})]:
        assert _names(client.get("/", {"q": q}).content.decode()) == ["湖南天翼（长沙）科技有限公司"], q
    with django_assert_max_num_queries(2, using="public"):
        html = client.get("/", {"q": "天翼"}).content.decode()
    assert '<span class="badge black">失信</span>' in html
    assert "行政处罚 1 条" in html
    assert "异议处理中" in html
    red = client.get("/", {"q": "红星"}).content.decode()
    assert '<span class="badge red">守信</span>' in red and "吊销" in red and "失信</span>" not in red
    assert "没有找到" in client.get("/", {"q": "不存在的公司"}).content.decode()
    assert "请至少输入两个字" in client.get("/", {"q": "长"}).content.decode()


def test_natural_person_shows_only_a_masked_id_number(client, store):
    html = client.get("/", {"q": store.person_name}).content.decode()
    assert store.person_masked in html and store.person_id not in html
    href = re.search(r'<a class="name" href="([^"]+)">赵六</a>', html).group(1)
    assert href.startswith("/subjects/N-")
    page = client.get(href).content.decode()
    assert store.person_masked in page and store.person_id not in page
    assert "湘市监罚〔2025〕5号" in page
    assert client.get("/", {"q": store.person_id}).content.decode().count('class="name"') == 0


def test_subject_page_shows_records_in_publicity_only(client, store):
    response = client.get(f"/subjects/{store.tianyi_uscc}")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>湖南天翼（长沙）科技有限公司</h1>" in html
    assert "湘市监罚〔2025〕1号" in html  # in publicity, under objection
    for absent in ["湘市监罚〔2020〕9号", "湘市监罚〔2025〕2号", "湘市监罚〔2025〕3号", "湘市监罚〔2025〕4号"]:
        assert absent not in html  # expired, simple procedure, shared only, withdrawn
    assert "行政处罚（1 条）" in html and "行政许可（1 条）" in html and "严重失信主体名单（1 条）" in html
    assert "失信被执行人" in html and "(2025)湘01执123号" in html
    assert html.count("该信息正在异议处理中") == 1
    assert "长沙天翼电子有限公司" in html  # former name
    assert "来源：湖南省市场监督管理局" in html
    assert SCRIPT not in html and "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html


def test_subject_page_frame_and_basic_information(client, store):
    """The page is made in public/html.py into base.html's frame (rendered once per URL prefix)."""
    html = client.get(f"/subjects/{store.tianyi_uscc}").content.decode()
    assert "<title>湖南天翼（长沙）科技有限公司 · 湖南省信用信息共享平台</title>" in html
    assert html.count('href="/"') == 2  # the header's and "← 重新查询"
    assert f'<dt>统一社会信用代码</dt><dd class="code">{store.tianyi_uscc}</dd>' in html
    assert '<dt>组织机构代码</dt><dd class="code">' in html and "<dt>曾用名</dt><dd>长沙天翼电子有限公司</dd>" in html
    assert "<dt>法定代表人</dt><dd>王五</dd>" in html and "<dt>登记状态</dt><dd>存续</dd>" in html
    assert "长沙市岳麓区&lt;script&gt;" in html and "来源：长沙市中级人民法院&lt;script&gt;" in html
    assert html.rstrip().endswith("</html>") and "\x00" not in html
    set_script_prefix("/credit/")  # as WSGIHandler does behind a proxy that mounts the site at /credit
    try:
        behind_a_prefix = client.get(f"/subjects/{store.tianyi_uscc}").content.decode()
    finally:
        clear_script_prefix()
    assert behind_a_prefix.count('href="/credit/"') == 2 and 'href="/"' not in behind_a_prefix
    person = client.get("/", {"q": store.person_name}).content.decode()
    href = re.search(r'<a class="name" href="([^"]+)">赵六</a>', person).group(1)
    page = client.get(href).content.decode()
    assert f'<dt>证件号码</dt><dd class="code">{store.person_masked}</dd>' in page
    assert "<dt>统一社会信用代码</dt>" not in page and "暂无登记注册信息。" in page


def test_subject_page_by_lower_case_code_and_unknown_code(client, store):
    assert client.get(f"/subjects/{store.tianyi_uscc.lower()}").status_code == 200
    missing = client.get("/subjects/91430100MA4L000000")
    assert missing.status_code == 404 and "未找到信用主体" in missing.content.decode()
    assert client.get("/subjects/N-99999999999999999999").status_code == 404  # past any id (bigint)
    # A NUL (no PostgreSQL text holds one; libpq would cut the code short there): no such subject, no 500.
    assert client.get(f"/subjects/{store.tianyi_uscc}%00x").status_code == 404
    assert "湖南天翼（长沙）科技有限公司" in _names(client.get("/", {"q": "天翼\x00"}).content.decode())


def test_rate_limit_answers_429_in_chinese_with_retry_after(client, store, settings):
    settings.PUBLIC_RATE_LIMIT = "3/minute"
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}}
    address = {"REMOTE_ADDR": "203.0.113.77"}
    statuses = [client.get("/", {"q": "天翼"}, **address).status_code for _ in range(3)]
    statuses.append(client.get(f"/subjects/{store.tianyi_uscc}", **address).status_code)
    assert statuses == [200, 200, 200, 429]
    limited = client.get("/", {"q": "天翼"}, **address)
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 61
    assert "请求过于频繁" in limited.content.decode()
    assert client.get("/", {"q": "天翼"}, REMOTE_ADDR="203.0.113.78").status_code == 200  # another address
    api = client.get("/api/v1/public/subjects", {"q": "天翼"}, **address)
    assert api.status_code == 429 and api["Content-Type"] == "application/problem+json"
    assert api.json()["code"] == "rate_limited" and api["Retry-After"]


def test_subject_page_cache_headers_and_conditional_get(client, store, settings):
    settings.PUBLIC_CACHE_SECONDS = 45
    url = f"/subjects/{store.tianyi_uscc}"
    first = client.get(url)
    assert first["Cache-Control"] == "public, max-age=45"
    etag = first["ETag"]
    again = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag and again["Cache-Control"] == "public, max-age=45"
    assert client.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200
    assert client.get(url, HTTP_IF_NONE_MATCH="*").status_code == 304
    assert client.get(url, HTTP_IF_MATCH='"other"').status_code == 412  # as Django's @condition answers
    assert client.get(url, HTTP_IF_MATCH=etag).status_code == 200
    with committed("UPDATE credit_objection SET status = 'upheld', decided_at = now()",
                   "UPDATE credit_objection SET status = 'open', decided_at = NULL"):
        changed = client.get(url, HTTP_IF_NONE_MATCH=etag)
        assert changed.status_code == 200 and changed["ETag"] != etag
        assert "该信息正在异议处理中" not in changed.content.decode()
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_public_cached_keeps_a_views_own_cache_directives(rf, settings):
    from django.http import HttpResponse

    from public.views import public_cached

    settings.PUBLIC_CACHE_SECONDS = 30

    def view(request):
        response = HttpResponse("x")
        response["Cache-Control"] = "no-transform"
        return response

    assert public_cached(view)(rf.get("/"))["Cache-Control"] == "no-transform, public, max-age=30"
    assert public_cached(lambda request: HttpResponse("x"))(rf.get("/"))["Cache-Control"] == "public, max-age=30"


def test_rate_limit_counts_an_ipv6_client_per_64_and_a_proxied_client_by_its_forwarded_address(client, store,
                                                                                                settings):
    settings.PUBLIC_RATE_LIMIT = "2/minute"
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}}
    # one subscriber's /64: a new address for every request does not escape the limit
    statuses = [client.get("/", {"q": "天翼"}, REMOTE_ADDR=f"2001:db8:1:2::{i:x}").status_code for i in range(1, 4)]
    assert statuses == [200, 200, 429]
    assert client.get("/", {"q": "天翼"}, REMOTE_ADDR="2001:db8:1:3::1").status_code == 200  # the next /64

    # behind one trusted reverse proxy: the address it saw (the last hop it appended) is the client
    settings.PUBLIC_TRUSTED_PROXIES = 1
    proxy = {"REMOTE_ADDR": "10.0.0.5"}
    first = [client.get("/", {"q": "天翼"}, HTTP_X_FORWARDED_FOR=f"1.2.3.4, 198.51.100.{n}", **proxy).status_code
             for n in (7, 7, 7)]
    assert first == [200, 200, 429]  # a spoofed first hop (1.2.3.4) does not make it another client
    assert client.get("/", {"q": "天翼"}, HTTP_X_FORWARDED_FOR="198.51.100.8", **proxy).status_code == 200

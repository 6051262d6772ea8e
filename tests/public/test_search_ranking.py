"""Search results in the order people expect, and a bounded list for a fragment found in very many names
(issue #19): the exact name first, then names that start with the query, then names that contain it, 存续 before
deregistered within each; the total as a number up to 1000 and "1000+" beyond it, with a hint to type more;
the same on the page and in the JSON API."""

from __future__ import annotations

import re

import pytest

from tests.public.conftest import PUBLIC_DB, committed

pytestmark = pytest.mark.django_db(databases=PUBLIC_DB)

CITIES = ["长沙", "株洲", "湘潭", "衡阳", "岳阳"]
# 5,000 names holding 甲乙 (so many that the search walks its ranking index for them), every 7th deregistered,
# and a few that rank above them: the exact name and names that start with it, deregistered or not.
COMMON = [(f"{CITIES[i % 5]}甲乙{i:04d}有限公司", "deregistered" if i % 7 == 0 else "active") for i in range(5000)]
ABOVE = [("甲乙", "deregistered"), ("甲乙公司", "deregistered"), ("甲乙科技有限公司", "active")]
# A rare fragment: each way of matching has a deregistered name inserted before an active one.
RARE = [("华信科技", "active"), ("华信科技有限公司", "deregistered"), ("华信科技长沙有限公司", "active"),
        ("长沙华信科技有限公司", "deregistered"), ("湖南华信科技有限公司", "active")]
NAMES = COMMON + ABOVE + RARE

INSERT = """
INSERT INTO credit_subject (kind, uscc, id_type, id_number_masked, name, name_key, registered, legal_representative,
                            status, address, registration_authority, registration, created_at, updated_at)
SELECT 'legal_person', '9943' || lpad(n::text, 13, '0') || 'Y', '', '', t.name, t.name, true, '', t.status, '', '',
       '{}', now(), now()
FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS t(name, status, n)
"""
UNDO = "DELETE FROM credit_subject WHERE uscc LIKE '9943%%' AND name = ANY(%s::text[]) AND status = ANY(%s::text[])"


@pytest.fixture(scope="module")
def many_names(store, django_db_blocker):
    """The names above in the store (committed, so the public connection sees them), and PostgreSQL's statistics
    taken with them, as autovacuum would."""
    with django_db_blocker.unblock(), committed(INSERT, UNDO,
                                                 [[n for n, _ in NAMES], [s for _, s in NAMES]]), \
            committed("ANALYZE credit_subject", "ANALYZE credit_subject"):
        yield


def _search(client, q: str, page: int = 1) -> dict:
    response = client.get("/api/v1/public/subjects", {"q": q, "page": page})
    assert response.status_code == 200
    return response.json()


def _contains_order(names: list[tuple[str, str]]) -> list[str]:
    """Names that contain the query, as listed: 存续 first, then in the order the platform first saw them."""
    return [n for n, _ in sorted(names, key=lambda ns: ns[1] != "active")]  # a stable sort


def test_a_rare_fragment_lists_exact_then_prefix_then_contains_active_first(client, many_names):
    body = _search(client, "华信科技")
    assert [(h["name"], h["status"]) for h in body["results"]] == [
        ("华信科技", "active"),
        ("华信科技长沙有限公司", "active"), ("华信科技有限公司", "deregistered"),
        ("湖南华信科技有限公司", "active"), ("长沙华信科技有限公司", "deregistered"),
    ]
    assert [h["match"] for h in body["results"]] == ["exact", "prefix", "prefix", "contains", "contains"]
    assert (body["total"], body["total_text"], body["capped"], body["hint"]) == (5, "5", False, None)

    page = client.get("/", {"q": "华信科技"}).content.decode()
    assert "共 <span class=\"total\">5</span> 条相符结果" in page and "请输入更完整的名称" not in page
    shown = re.findall(r'<a class="name" href="[^"]+">([^<]+)</a>', page)
    assert shown == ["华信科技", "华信科技长沙有限公司", "华信科技有限公司", "湖南华信科技有限公司", "长沙华信科技有限公司"]


def test_a_fragment_in_thousands_of_names_lists_the_first_1000_with_the_exact_name_first(client, many_names):
    body = _search(client, "甲乙")
    expected = ["甲乙", "甲乙科技有限公司", "甲乙公司", *_contains_order(COMMON)[:17]]
    assert [h["name"] for h in body["results"]] == expected
    assert [h["match"] for h in body["results"]][:4] == ["exact", "prefix", "prefix", "contains"]
    assert (body["total"], body["total_text"], body["capped"], body["pages"]) == (1000, "1000+", True, 50)
    assert "请输入更完整的名称" in body["hint"]

    last = _search(client, "甲乙", page=50)
    assert [h["name"] for h in last["results"]] == _contains_order(COMMON)[977:997]
    assert _search(client, "甲乙", page=51)["page"] == 50  # nothing past the 1000 listed

    page = client.get("/", {"q": "甲乙"}).content.decode()
    assert "共 <span class=\"total\">1000+</span> 条相符结果" in page and "请输入更完整的名称" in page
    assert re.findall(r'<a class="name" href="[^"]+">([^<]+)</a>', page) == expected


def test_fewer_matches_than_the_cap_are_counted_exactly_and_ranked(client, many_names):
    # 长沙 and 甲乙 are each in 1,000 or more names, 长沙甲乙0 starts 200 of them
    body = _search(client, "长沙甲乙0")
    names = sorted((n for n in COMMON if n[0].startswith("长沙甲乙0")), key=lambda ns: (ns[1] != "active", ns[0]))
    assert [h["name"] for h in body["results"]] == [n for n, _ in names[:20]]  # names starting so: by name
    assert (body["total"], body["total_text"], body["capped"]) == (200, "200", False)

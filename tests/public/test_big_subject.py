"""A subject with 100,000 public records: its page and its JSON show them a page per category at a time."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from tests.credit.factories import uscc
from tests.public.conftest import PUBLIC_DB, committed

pytestmark = pytest.mark.django_db(databases=PUBLIC_DB)

BIG_USCC = uscc(1999)
RECORDS = 100_000
# Penalties decided over the last 300 days (record i on day today - i % 300), all in publicity.
SEED = """
WITH s AS (
    INSERT INTO credit_subject (kind, uscc, id_type, id_number_masked, name, name_key, registered, legal_representative,
                                status, address, registration_authority, registration, created_at, updated_at)
    VALUES ('legal_person', %(uscc)s, '', '', '湖南大额处罚测试有限公司', '湖南大额处罚测试有限公司', true, '', 'active',
            '', '', '{}', now(), now())
    RETURNING id
)
INSERT INTO credit_record (category, natural_key, pending_key, subject_id, state, payload, content_hash, version,
                           department_id, subject_name_key, name_mismatch, publicity_from, publicity_until,
                           publicity_ends_on, publicity_never, repaired_at, is_public, publicity_reason, created_at,
                           updated_at)
SELECT 'admin_penalty', 'big-subject:' || i, '', s.id, 'active',
       jsonb_build_object('decision_no', '湘罚〔大〕' || i || '号', 'content', '罚款', 'procedure', 'ordinary'),
       md5(i::text), 1, (SELECT id FROM exchange_department WHERE code = 'HN-SCJG'), '', false,
       current_date - i %% 300, current_date + 400, current_date + 401, '', NULL, true, 'public', now(), now()
  FROM s, generate_series(1, %(records)s) AS i
"""
UNDO = """
WITH records AS (DELETE FROM credit_record WHERE natural_key LIKE 'big-subject:%%')
DELETE FROM credit_subject WHERE uscc = %(uscc)s
"""


@pytest.fixture(scope="module")
def big_subject(store, django_db_blocker):
    with django_db_blocker.unblock(), committed(SEED, UNDO, {"uscc": BIG_USCC, "records": RECORDS}):
        yield BIG_USCC


def _decisions(html: str) -> list[int]:
    return [int(n) for n in re.findall(r"湘罚〔大〕(\d+)号", html)]


def test_the_page_of_a_subject_with_100k_records_shows_20_and_links_to_more(client, big_subject,
                                                                            django_assert_max_num_queries):
    client.get(f"/subjects/{big_subject}")  # the catalog read once
    with django_assert_max_num_queries(1, using="public"):
        response = client.get(f"/subjects/{big_subject}")
    html = response.content.decode()
    assert response.status_code == 200 and len(response.content) < 100_000
    assert "行政处罚（超过 1000 条）" in html and "行政处罚 超过 1000 条" in html  # counted up to 1000
    first = _decisions(html)
    # newest first: the 333 decided today (i a multiple of 300), the highest id first
    assert first == list(range(99_900, 99_900 - 20 * 300, -300))
    more = re.search(r'<a href="([^"]+)" rel="next">更多行政处罚', html).group(1).replace("&amp;", "&")
    assert more.startswith(f"/subjects/{big_subject}?category=admin_penalty&cursor=")

    second = client.get(more)
    assert second.status_code == 200 and len(second.content) < 100_000
    following = _decisions(second.content.decode())
    assert following == list(range(93_900, 93_900 - 20 * 300, -300))  # the next 20, none shown twice
    assert "基本信息" not in second.content.decode()  # one category's page


def test_the_last_page_of_a_category_has_no_more_link(client, big_subject):
    # the oldest day (i % 300 == 299): its records are the last 334 - 1 of the list
    # the cursor of record 599 as the store holds it: ids follow a sequence earlier tests may have advanced, and
    # the seed's current_date is the database's day, which differs from the platform's (Shanghai) for 8 hours a day
    with connection.cursor() as cursor:
        cursor.execute("SELECT publicity_from, id FROM credit_record WHERE natural_key = 'big-subject:599'")
        oldest, second_last = cursor.fetchone()
    html = client.get(f"/subjects/{big_subject}", {"category": "admin_penalty",
                                                   "cursor": f"{oldest.isoformat()}~{second_last}"}).content.decode()
    assert _decisions(html) == [299] and 'rel="next"' not in html
    assert client.get(f"/subjects/{big_subject}", {"category": "admin_penalty", "cursor": "garbage"}).status_code == 200
    assert client.get(f"/subjects/{big_subject}", {"category": "no_such_category"}).status_code == 404


def test_the_json_of_a_subject_with_100k_records_pages_them(client, big_subject):
    response = client.get(f"/api/v1/public/subjects/{big_subject}")
    body = response.json()
    assert response.status_code == 200 and len(response.content) < 100_000
    assert body["record_counts"]["admin_penalty"] == 1000 and body["record_counts_capped"]["admin_penalty"]
    assert body["penalties"] == 1000 and body["record_counts"]["black_list"] == 0
    assert len(body["records"]["admin_penalty"]) == 20 and body["records_next"]["black_list"] is None
    assert [r["fields"]["decision_no"] for r in body["records"]["admin_penalty"]][:2] == ["湘罚〔大〕99900号",
                                                                                          "湘罚〔大〕99600号"]
    page = client.get(body["records_next"]["admin_penalty"]).json()
    assert (page["total"], page["capped"], page["category"]) == (1000, True, "admin_penalty")
    assert [r["fields"]["decision_no"] for r in page["results"]][:2] == ["湘罚〔大〕93900号", "湘罚〔大〕93600号"]
    assert page["next"].startswith("http://testserver/api/v1/public/subjects/")
    bad = client.get(f"/api/v1/public/subjects/{big_subject}/records/admin_penalty", {"cursor": "x~1"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_cursor"
    assert client.get(f"/api/v1/public/subjects/{big_subject}/records/nope").json()["code"] == "not_found"

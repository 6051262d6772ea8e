"""`GET subjects/{code}` (exchange-protocol §4, §8): every record carries its versions oldest first, read in
one query for the whole page; a subject's records come a page per category (`next_cursors`, then
`?category=…&cursor=…`), so a subject with 100,000 records answers a bounded page."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from credit.models import Record, Subject
from credit.selectors import SUBJECT_RECORDS_PAGE, subject_unified_record
from tests.credit.factories import ingest, penalty, registration, uscc

pytestmark = pytest.mark.django_db
SUBJECT = "/api/v1/exchange/subjects/"


def test_every_record_carries_its_versions_oldest_first(as_scjg, scjg):
    ingest(scjg, "admin_penalty", [penalty("湘罚〔2026〕1号", 1, content="警告")], "v1")
    ingest(scjg, "admin_penalty", [penalty("湘罚〔2026〕1号", 1, content="警告（已更正）")], "v2")
    ingest(scjg, "admin_penalty", [{"op": "withdraw", "decision_no": "湘罚〔2026〕1号"}], "v3")

    answer = as_scjg.get(SUBJECT + uscc(1))

    assert answer.status_code == 200, answer.content
    [record] = answer.json()["records"]["admin_penalty"]
    versions = record["versions"]
    assert [(v["version"], v["op"]) for v in versions] == [(1, "upsert"), (2, "upsert"), (3, "withdraw")]
    assert [v["data"].get("content") for v in versions[:2]] == ["警告", "警告（已更正）"]
    assert versions[0]["valid_from"] < versions[1]["valid_from"] < versions[2]["valid_from"]
    assert record["version"] == 3 and record["state"] == "withdrawn"


def test_an_authorised_only_version_is_not_shown_to_another_department(scjg, gy):
    ingest(scjg, "admin_penalty", [penalty("湘罚〔2026〕1号", 1, usage_scope="authorized")], "v1")
    ingest(scjg, "admin_penalty", [penalty("湘罚〔2026〕1号", 1)], "v2")
    readers = {"owner": scjg.pk, "other": gy.pk}
    seen = {who: subject_unified_record(code=uscc(1), categories=["admin_penalty"], department_id=pk)
            for who, pk in readers.items()}
    assert [v["version"] for v in seen["owner"]["records"]["admin_penalty"][0]["versions"]] == [1, 2]
    assert [v["version"] for v in seen["other"]["records"]["admin_penalty"][0]["versions"]] == [2]


def test_a_subject_page_costs_the_same_few_queries_however_many_records_and_versions(scjg,
                                                                                  django_assert_num_queries):
    ingest(scjg, "registration", [registration(1)], "reg")
    for n in range(3):
        ingest(scjg, "admin_penalty", [penalty(f"湘罚〔2026〕{i}号", 1, content=f"第{n}版") for i in range(5)],
               f"pen-{n}")
    categories = ["registration", "admin_license", "admin_penalty"]
    # subject, its records (one statement for every category), sources, versions, aliases
    with django_assert_num_queries(5):
        record = subject_unified_record(code=uscc(1), categories=categories, department_id=scjg.pk)
    assert [len(r["versions"]) for r in record["records"]["admin_penalty"]] == [3] * 5
    assert len(record["records"]["registration"]) == 1 and record["records"]["admin_license"] == []


def seed_records(subject: Subject, department_id: int, category: str, count: int) -> None:
    """`count` records of one subject, each with one version, written by SQL (the merge would take minutes)."""
    with connection.cursor() as cursor:
        cursor.execute("""
            WITH r AS (
                INSERT INTO credit_record (category, natural_key, subject_id, pending_key, state, payload,
                    content_hash, version, department_id, subject_name_key, name_mismatch, publicity_never,
                    is_public, publicity_reason, created_at, updated_at)
                SELECT %(category)s, 'SEED-' || n, %(subject)s, '', 'active',
                       jsonb_build_object('decision_no', 'SEED-' || n, 'content', repeat('罚', 40)),
                       md5(n::text), 1, %(department)s, '', false, '', true, '', now(), now()
                FROM generate_series(1, %(count)s) n
                RETURNING id, payload, content_hash)
            INSERT INTO credit_recordversion (record_id, version, op, payload, content_hash, batch_id, row,
                                              department_id, valid_from, category)
            SELECT id, 1, 'upsert', payload, content_hash, 0, -id, %(department)s, now(), %(category)s FROM r""",
                       {"category": category, "subject": subject.pk, "department": department_id, "count": count})
        cursor.execute("ANALYZE credit_record")
        cursor.execute("ANALYZE credit_recordversion")


def test_a_subject_with_100k_records_answers_a_bounded_page_per_category(as_scjg, scjg):
    ingest(scjg, "admin_penalty", [penalty("湘罚〔2026〕1号", 1)], "first")
    subject = Subject.objects.get(uscc=uscc(1))
    seed_records(subject, scjg.pk, "admin_penalty", 90_000)
    seed_records(subject, scjg.pk, "admin_license", 10_000)

    # bounded by construction: a fixed number of statements, each reading at most a page per category
    # (how fast it answers is bench/lookup's business, not a test's)
    with CaptureQueriesContext(connection) as statements:
        answer = as_scjg.get(SUBJECT + uscc(1))

    assert answer.status_code == 200
    body = answer.json()
    assert {c: len(rs) for c, rs in body["records"].items() if rs} == {
        "admin_penalty": SUBJECT_RECORDS_PAGE, "admin_license": SUBJECT_RECORDS_PAGE}
    assert len(answer.content) < 1_000_000, len(answer.content)
    assert len(statements) <= 12, [q["sql"][:120] for q in statements]
    assert not any("FROM \"credit_record\"" in q["sql"] and "LIMIT" not in q["sql"] for q in statements), (
        "a statement read the subject's records without a page limit")
    penalties = body["records"]["admin_penalty"]
    assert body["next_cursors"]["admin_penalty"] == str(penalties[-1]["id"])
    assert body["next_cursors"]["black_list"] is None

    second = as_scjg.get(f"{SUBJECT}{uscc(1)}?category=admin_penalty&cursor={body['next_cursors']['admin_penalty']}")
    assert second.status_code == 200
    assert list(second.json()["records"]) == ["admin_penalty"]
    ids = [r["id"] for r in second.json()["records"]["admin_penalty"]]
    assert len(ids) == SUBJECT_RECORDS_PAGE and ids[0] > penalties[-1]["id"] and ids == sorted(ids)

    last = Record.objects.filter(subject=subject, category="admin_penalty").order_by("-id")[1].pk
    end = as_scjg.get(f"{SUBJECT}{uscc(1)}?category=admin_penalty&cursor={last}").json()
    assert len(end["records"]["admin_penalty"]) == 1 and end["next_cursors"] == {"admin_penalty": None}


def test_paging_refusals(as_scjg, as_gy, scjg):
    ingest(scjg, "admin_penalty", [penalty("湘罚〔2026〕1号", 1)], "first")
    refused = as_gy.get(f"{SUBJECT}{uscc(1)}?category=admin_penalty")
    assert (refused.status_code, refused.json()["code"]) == (403, "category_not_readable")
    for query, code in (("cursor=5", "invalid_request"), ("category=admin_penalty&cursor=x", "invalid_cursor"),
                        ("category=admin_penalty&cursor=%C2%B2", "invalid_cursor")):
        answer = as_scjg.get(f"{SUBJECT}{uscc(1)}?{query}")
        assert (answer.status_code, answer.json()["code"]) == (400, code), query
    # past its last record a category's page is empty, and the subject still exists for this reader
    beyond = as_scjg.get(f"{SUBJECT}{uscc(1)}?category=admin_penalty&cursor=999999999")
    assert beyond.status_code == 200 and beyond.json()["records"] == {"admin_penalty": []}

"""The public projection: what the public role can read, and what it cannot."""

from __future__ import annotations

import pytest
from django.db import connections

from tests.public.conftest import PUBLIC_DB, committed

pytestmark = pytest.mark.django_db(databases=PUBLIC_DB)


def _read(sql: str, params: list | None = None):
    """As the public role."""
    with connections["public"].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _projection(sql: str):
    """As the platform: the projection's views, which the public role reads only through public_view's functions."""
    with connections["default"].cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def test_public_role_is_the_connection_user():
    from django.conf import settings

    assert _read("SELECT current_user") == [(settings.PUBLIC_DATABASE_ROLE,)]


@pytest.mark.parametrize("table", ["credit_subject", "credit_record", "credit_recordversion", "credit_objection",
                                   "exchange_department", "exchange_batch", "auth_user"])
def test_public_role_may_not_read_store_tables(table):
    import psycopg

    with pytest.raises(Exception) as excinfo:  # noqa: B017 - Django wraps psycopg's error
        _read(f"SELECT 1 FROM {table} LIMIT 1")
    assert isinstance(excinfo.value.__cause__, psycopg.errors.InsufficientPrivilege)
    assert f"permission denied for table {table}" in str(excinfo.value)


@pytest.mark.parametrize("view", ["records", "subjects", "aliases", "subject_pages"])
def test_public_role_may_not_read_the_projection_it_reads_through_functions(view):
    import psycopg

    with pytest.raises(Exception) as excinfo:  # noqa: B017 - Django wraps psycopg's error
        _read(f"SELECT 1 FROM public_projection.{view} LIMIT 1")
    assert isinstance(excinfo.value.__cause__, psycopg.errors.InsufficientPrivilege)


def test_views_show_only_records_in_publicity(store):
    rows = _projection("SELECT r.category, r.data->>'decision_no', r.data->>'case_no', r.data->>'list_code', "
                       "r.under_objection FROM public_projection.records r ORDER BY r.category, r.id")
    assert [(c, d or k or lc, o) for c, d, k, lc, o in rows] == [
        ("admin_license", "湘许〔2024〕7号", False),
        ("admin_penalty", "湘市监罚〔2025〕1号", True),
        ("admin_penalty", "湘市监罚〔2025〕5号", False),
        ("black_list", "(2025)湘01执123号", False),
        ("red_list", "TAX-A", False),
        ("registration", None, False),
        ("registration", None, False),
    ]


def test_views_never_carry_an_id_number(store):
    dump = str(_projection("SELECT s.*, (SELECT array_agg(r.data::text) FROM public_projection.records r "
                           "WHERE r.subject_id = s.id) FROM public_projection.subjects s"))
    assert store.person_id not in dump
    assert store.person_masked in dump


PAGE = "public_view.subject_page(%s, %s, ARRAY['registration', 'admin_penalty', 'black_list'], 20, NULL, NULL)"


def _repaired():
    """赵六's one public record, a penalty, ended by credit repair as credit.services records it."""
    return committed(
        "UPDATE credit_record SET repaired_at = current_date, is_public = false, publicity_reason = 'repaired' "
        "WHERE payload->>'decision_no' = %s",
        "UPDATE credit_record SET repaired_at = NULL, is_public = true, publicity_reason = 'public' "
        "WHERE payload->>'decision_no' = %s", ["湘市监罚〔2025〕5号"])


def test_subject_pages_never_carry_an_id_number(store):
    person = _projection("SELECT id FROM public_projection.subjects WHERE name = '赵六'")[0][0]
    dump = str(_read(f"SELECT * FROM {PAGE}", [None, person]))
    assert store.person_id not in dump
    assert store.person_masked in dump and "湘市监罚〔2025〕5号" in dump


def test_the_public_role_gets_a_subject_page_and_nothing_of_its_hidden_records(store):
    # 天翼 has two penalties the public may not see: 〔2025〕2号 (simple procedure) and 〔2025〕4号 (withdrawn)
    rows = _read(f"SELECT code, records::text, counts::text FROM {PAGE}", [store.tianyi_uscc, None])
    assert rows[0][0] == store.tianyi_uscc and "〔2025〕1号" in rows[0][1]
    assert "〔2025〕2号" not in rows[0][1] and "〔2025〕4号" not in rows[0][1]
    assert rows[0][2] == '{ "registration" : 1, "admin_penalty" : 1, "black_list" : 1 }'
    # a view would tell EXPLAIN ANALYZE how many rows its filter removed; a function shows its result only
    plan = str(_read(f"EXPLAIN (ANALYZE, VERBOSE) SELECT * FROM {PAGE}", [store.tianyi_uscc, None]))
    assert "Function Scan" in plan and "Removed" not in plan and "credit_record" not in plan


def test_the_public_role_gets_no_table_statistics_of_what_the_functions_read(store):
    # pg_stat_xact_user_tables would count the rows subject_page read before its filters: 天翼's hidden ones
    assert _read("SELECT current_setting('track_counts')") == [("off",)]
    _read(f"SELECT * FROM {PAGE}", [store.tianyi_uscc, None])
    _read("SELECT * FROM public_view.search_candidates(%s, %s::text[], %s, NULL, NULL, false, 10)",
          ["天翼", ["天翼"], "%天翼%"])
    counted = _read("SELECT coalesce(sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)), 0) "
                    "FROM pg_stat_xact_user_tables WHERE relname IN ('credit_record', 'credit_subject')")
    assert counted == [(0,)]


def test_the_public_role_finds_a_natural_person_only_while_public(store):
    person = _projection("SELECT id FROM public_projection.subjects WHERE name = '赵六'")[0][0]
    assert _read(f"SELECT name FROM {PAGE}", [None, person]) == [("赵六",)]
    with _repaired():
        assert _read(f"SELECT name FROM {PAGE}", [None, person]) == []
        hits = _read("SELECT search_name FROM public_view.search_candidates(%s, %s::text[], %s, NULL, NULL, false, "
                     "10)", ["赵六", ["赵六"], "%赵六%"])
        assert hits == []


def test_subjects_view_lists_natural_persons_only_while_public(store):
    assert _projection("SELECT name, code LIKE 'N-%' FROM public_projection.subjects "
                       "WHERE kind = 'natural_person'") == [("赵六", True)]
    with _repaired():
        assert _projection("SELECT name FROM public_projection.subjects WHERE kind = 'natural_person'") == []


def test_the_public_role_gets_the_loaded_catalog():
    from validation.catalog import current_catalog

    loaded = current_catalog()
    key, document = _read("SELECT * FROM public_view.catalog_current()")[0]
    assert key.startswith(f"{loaded.version}:") and '"admin_penalty"' in document

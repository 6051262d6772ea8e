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


def test_subject_pages_never_carry_an_id_number(store):
    dump = str(_projection("SELECT * FROM public_projection.subject_pages"))
    assert store.person_id not in dump
    assert store.person_masked in dump


def _subject_pages_agree_with_the_views() -> None:
    """public_projection.subject_pages is the subject page's flat form of the subjects, records and aliases
    views: the same subjects, and for each the same records (in the page's order) and aliases."""
    pages = _projection("SELECT id, code, name, records::text, aliases::text FROM public_projection.subject_pages "
                        "ORDER BY id")
    views = _projection("""
        SELECT s.id, s.code, s.name,
               (SELECT json_agg(json_build_array(r.id, r.category, r.data, r.publicity_from, r.publicity_until,
                                                 r.department_name, r.updated_at, r.under_objection)
                                ORDER BY r.category, r.publicity_from DESC, r.updated_at DESC, r.id DESC)
                FROM public_projection.records r WHERE r.subject_id = s.id)::text,
               (SELECT json_agg(json_build_array(a.kind, a.value) ORDER BY a.kind, a.id)
                FROM public_projection.aliases a WHERE a.subject_id = s.id)::text
        FROM public_projection.subjects s ORDER BY s.id""")
    assert pages == views


def test_subject_pages_show_what_the_views_show(store):
    _subject_pages_agree_with_the_views()
    assert any(name == "赵六" for _, _, name, _, _ in _projection("SELECT id, code, name, 1, 1 FROM "
                                                                "public_projection.subject_pages"))
    with committed("UPDATE credit_record SET repaired_at = current_date WHERE natural_key LIKE %s",
                   "UPDATE credit_record SET repaired_at = NULL WHERE natural_key LIKE %s", ["%湘市监罚(2025)5号%"]):
        _subject_pages_agree_with_the_views()  # the natural person leaves both with their one public record
        assert _projection("SELECT name FROM public_projection.subject_pages WHERE kind = 'natural_person'") == []


def test_the_public_role_gets_a_subject_page_and_nothing_of_its_hidden_records(store):
    # 天翼 has two penalties the public may not see: 〔2025〕2号 (simple procedure) and 〔2025〕4号 (withdrawn)
    rows = _read("SELECT code, records::text FROM public_view.subject_page(%s, NULL)", [store.tianyi_uscc])
    assert rows[0][0] == store.tianyi_uscc and "〔2025〕1号" in rows[0][1]
    assert "〔2025〕2号" not in rows[0][1] and "〔2025〕4号" not in rows[0][1]
    # a view would tell EXPLAIN ANALYZE how many rows its filter removed; a function shows its result only
    plan = str(_read("EXPLAIN (ANALYZE, VERBOSE) SELECT * FROM public_view.subject_page(%s, NULL)",
                     [store.tianyi_uscc]))
    assert "Function Scan" in plan and "Removed" not in plan and "credit_record" not in plan


def test_the_public_role_gets_no_table_statistics_of_what_the_functions_read(store):
    # pg_stat_xact_user_tables would count the rows subject_page read before its filters: 天翼's hidden ones
    assert _read("SELECT current_setting('track_counts')") == [("off",)]
    _read("SELECT * FROM public_view.subject_page(%s, NULL)", [store.tianyi_uscc])
    _read("SELECT * FROM public_view.search_candidates(%s::text[], %s, NULL, NULL, false, 10)", [["天翼"], "%天翼%"])
    counted = _read("SELECT coalesce(sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)), 0) "
                    "FROM pg_stat_xact_user_tables WHERE relname IN ('credit_record', 'credit_subject')")
    assert counted == [(0,)]


def test_the_public_role_finds_a_natural_person_only_while_public(store):
    person = _projection("SELECT id FROM public_projection.subjects WHERE name = '赵六'")[0][0]
    assert _read("SELECT name FROM public_view.subject_page(NULL, %s)", [person]) == [("赵六",)]
    with committed("UPDATE credit_record SET repaired_at = current_date WHERE natural_key LIKE %s",
                   "UPDATE credit_record SET repaired_at = NULL WHERE natural_key LIKE %s", ["%湘市监罚(2025)5号%"]):
        assert _read("SELECT name FROM public_view.subject_page(NULL, %s)", [person]) == []
        hits = _read("SELECT name FROM public_view.search_candidates(%s::text[], %s, NULL, NULL, false, 10)",
                     [["赵六"], "%赵六%"])
        assert hits == []


def test_subjects_view_lists_natural_persons_only_while_public(store):
    assert _projection("SELECT name, code LIKE 'N-%' FROM public_projection.subjects "
                       "WHERE kind = 'natural_person'") == [("赵六", True)]
    with committed("UPDATE credit_record SET repaired_at = current_date WHERE natural_key LIKE %s",
                   "UPDATE credit_record SET repaired_at = NULL WHERE natural_key LIKE %s", ["%湘市监罚(2025)5号%"]):
        assert _projection("SELECT name FROM public_projection.subjects WHERE kind = 'natural_person'") == []


def test_projection_migration_is_rerunnable():
    from importlib import import_module

    from django.db import connection

    migration = import_module("public.migrations.0002_public_view_schema_and_role")

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection
    migration.create(None, editor)  # inside this test's transaction: rolled back after it
    migration.create(None, editor)
    with connection.cursor() as cursor:
        cursor.execute("SELECT schemaname, count(*) FROM pg_views WHERE schemaname LIKE 'public\\_%' "
                       "GROUP BY schemaname")
        assert cursor.fetchall() == [("public_projection", 4)]

"""The public projection: what the public role can read, and what it cannot."""

from __future__ import annotations

import pytest
from django.db import connections

from tests.public.conftest import PUBLIC_DB, committed

pytestmark = pytest.mark.django_db(databases=PUBLIC_DB)


def _read(sql: str):
    with connections["public"].cursor() as cursor:
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


@pytest.mark.parametrize("view", ["records", "subjects", "aliases"])
def test_public_role_may_not_read_the_projection_behind_the_barriers(view):
    import psycopg

    with pytest.raises(Exception) as excinfo:  # noqa: B017 - Django wraps psycopg's error
        _read(f"SELECT 1 FROM public_projection.{view} LIMIT 1")
    assert isinstance(excinfo.value.__cause__, psycopg.errors.InsufficientPrivilege)


def test_views_show_only_records_in_publicity(store):
    rows = _read("SELECT r.category, r.data->>'decision_no', r.data->>'case_no', r.data->>'list_code', "
                 "r.under_objection FROM public_view.records r ORDER BY r.category, r.id")
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
    dump = str(_read("SELECT s.*, (SELECT array_agg(r.data::text) FROM public_view.records r "
                     "WHERE r.subject_id = s.id) FROM public_view.subjects s"))
    assert store.person_id not in dump
    assert store.person_masked in dump


def test_subject_pages_never_carry_an_id_number(store):
    dump = str(_read("SELECT * FROM public_view.subject_pages"))
    assert store.person_id not in dump
    assert store.person_masked in dump


def _subject_pages_agree_with_the_views() -> None:
    """public_view.subject_pages is the subject page's flat form of the subjects, records and aliases views:
    the same subjects, and for each the same records (in the page's order) and aliases."""
    pages = _read("SELECT id, code, name, records::text, aliases::text FROM public_view.subject_pages ORDER BY id")
    views = _read("""
        SELECT s.id, s.code, s.name,
               (SELECT json_agg(json_build_array(r.id, r.category, r.data, r.publicity_from, r.publicity_until,
                                                 r.department_name, r.updated_at, r.under_objection)
                                ORDER BY r.category, r.publicity_from DESC, r.updated_at DESC, r.id DESC)
                FROM public_view.records r WHERE r.subject_id = s.id)::text,
               (SELECT json_agg(json_build_array(a.kind, a.value) ORDER BY a.kind, a.id)
                FROM public_view.aliases a WHERE a.subject_id = s.id)::text
        FROM public_view.subjects s ORDER BY s.id""")
    assert pages == views


def test_subject_pages_show_what_the_views_show(store):
    _subject_pages_agree_with_the_views()
    assert any(name == "赵六" for _, _, name, _, _ in _read("SELECT id, code, name, 1, 1 FROM public_view.subject_pages"))
    with committed("UPDATE credit_record SET repaired_at = current_date WHERE natural_key LIKE %s",
                   "UPDATE credit_record SET repaired_at = NULL WHERE natural_key LIKE %s", ["%湘市监罚〔2025〕5号%"]):
        _subject_pages_agree_with_the_views()  # the natural person leaves both with their one public record
        assert _read("SELECT name FROM public_view.subject_pages WHERE kind = 'natural_person'") == []


# A function of the caller's that raises what it is shown, made cheap so the planner would run it before
# anything else: the classic leaky-view attack. Each view must filter first (security_barrier).
_PEEK = """
CREATE OR REPLACE FUNCTION pg_temp.peek(value text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
    IF value LIKE '%〔2025〕2号%' OR value LIKE '%〔2025〕4号%' OR value = '赵六' THEN
        RAISE EXCEPTION 'saw %', value;
    END IF;
    RETURN true;
END $$
"""


def test_a_compromised_public_process_cannot_make_the_views_show_it_hidden_rows(store):
    # hidden: a simple-procedure penalty (〔2025〕2号), a withdrawn one (〔2025〕4号), and while their only
    # public record is repaired, the natural person 赵六 (test_subjects_view_lists_… shows them hidden)
    with connections["public"].cursor() as cursor:
        cursor.execute(_PEEK)  # as the public role: it may make functions of its own, in pg_temp
    probes = ["SELECT count(*) FROM public_view.records WHERE pg_temp.peek(data::text)",
              "SELECT count(*) FROM public_view.subject_pages WHERE pg_temp.peek(records::text)",
              "SELECT count(*) FROM public_view.subjects WHERE pg_temp.peek(name)",
              "SELECT count(*) FROM public_view.subject_pages WHERE pg_temp.peek(name)",
              "SELECT count(*) FROM public_view.aliases WHERE pg_temp.peek(value)"]
    with committed("UPDATE credit_record SET repaired_at = current_date WHERE natural_key LIKE %s",
                   "UPDATE credit_record SET repaired_at = NULL WHERE natural_key LIKE %s", ["%湘市监罚〔2025〕5号%"]):
        for probe in probes:
            assert _read(probe)[0][0] > 0, probe  # ran, over the rows the view shows, and saw none hidden


def test_subjects_view_lists_natural_persons_only_while_public(store):
    assert _read("SELECT name, code LIKE 'N-%%' FROM public_view.subjects WHERE kind = 'natural_person'") == [
        ("赵六", True)]
    with committed("UPDATE credit_record SET repaired_at = current_date WHERE natural_key LIKE %s",
                   "UPDATE credit_record SET repaired_at = NULL WHERE natural_key LIKE %s", ["%湘市监罚〔2025〕5号%"]):
        assert _read("SELECT name FROM public_view.subjects WHERE kind = 'natural_person'") == []


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
        cursor.execute("SELECT count(*) FROM pg_views WHERE schemaname = 'public_view'")
        assert cursor.fetchone() == (4,)

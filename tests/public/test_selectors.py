"""public/selectors.py: the public connection's reads (tests/public/test_pages.py covers what they show)."""

from __future__ import annotations

import psycopg
import pytest
from django.db import DataError, connections, transaction

from public import selectors
from tests.public.conftest import PUBLIC_DB

pytestmark = pytest.mark.django_db(databases=PUBLIC_DB)


def _terminate(pid: int) -> None:
    """Drop a public-role backend as a server restart or an idle timeout would (a role may end its own)."""
    db = connections["public"].settings_dict
    with psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"] or None,
                         password=db["PASSWORD"] or None, autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)


@pytest.mark.django_db(transaction=True, databases=PUBLIC_DB)  # outside a transaction, as a request is
def test_a_dead_public_connection_is_replaced_without_a_health_check_per_request(store, monkeypatch):
    connection = connections["public"]
    assert selectors.subject_page(code=store.tianyi_uscc) is not None  # connected, statement prepared
    checks = []
    is_usable = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append(1) or is_usable())
    connection.health_check_done = False  # as at the start of every request (CONN_HEALTH_CHECKS)
    assert selectors.subject_page(code=store.tianyi_uscc) is not None
    assert checks == []  # no `SELECT 1` round trip before the page's one query

    pid = connection.connection.info.backend_pid
    _terminate(pid)
    page = selectors.subject_page(code=store.tianyi_uscc)
    assert page is not None and page.subject.name == "湖南天翼（长沙）科技有限公司"
    assert connection.connection.info.backend_pid != pid
    assert checks == [1]  # the one check, after the failure
    _terminate(connection.connection.info.backend_pid)
    result = selectors.subject_search(query=selectors.Query(text="天翼", name="天翼", code=None))
    assert [hit.code for hit in result.hits] == [store.tianyi_uscc] and result.hits[0].black_listed
    assert checks == [1, 1]


@pytest.mark.django_db(transaction=True, databases=PUBLIC_DB)
def test_the_subject_page_statement_is_prepared_again_after_psycopg_deallocates_it(store_again):
    store = store_again
    connection = connections["public"]
    page = selectors.subject_page(code=store.tianyi_uscc)
    assert page is not None
    name = selectors._SUBJECT.name
    assert name in connection._public_kept_cursor.prepared  # read by libpq, not psycopg's cursor
    raw = connection.connection

    def prepared() -> list[str]:
        return [row[0] for row in raw.execute("SELECT name FROM pg_prepared_statements").fetchall()]

    assert name.decode() in prepared()
    raw.execute("DEALLOCATE ALL")  # what psycopg runs after it runs a DROP, ALTER or ROLLBACK
    assert name.decode() not in prepared()
    assert selectors.subject_page(code=store.tianyi_uscc) == page
    assert name.decode() in prepared()

    # In an atomic block it is psycopg's cursor that reads (it prepares under its own names), to the same text.
    def by_psycopg() -> list[str]:
        return [row[0] for row in raw.execute("SELECT name FROM pg_prepared_statements WHERE statement = %s",
                                              [selectors._SUBJECT.libpq_sql.decode()]).fetchall()]

    params = [store.tianyi_uscc, None]
    by_libpq = selectors._read(lambda cursor: selectors._SUBJECT.value(cursor, params))
    assert by_psycopg() == [name.decode()]
    with transaction.atomic(using="public"):
        assert selectors._read(lambda cursor: selectors._SUBJECT.value(cursor, params)) == by_libpq
    assert len(by_psycopg()) == 2 and by_libpq.startswith("[") and "湖南天翼（长沙）科技有限公司" in by_libpq


@pytest.mark.django_db(transaction=True, databases=PUBLIC_DB)
def test_an_error_of_a_statement_read_by_libpq_is_django_s_and_not_retried():
    calls = []
    divide = selectors.Statement(b"test_divide", "SELECT (1 / {}::int)::text")

    def read(cursor):
        calls.append(1)
        return divide.value(cursor, ["0"])

    with pytest.raises(DataError, match="division by zero"):
        selectors._read(read)
    assert calls == [1] and divide.name in connections["public"]._public_kept_cursor.prepared
    assert selectors._read(lambda cursor: divide.value(cursor, ["4"])) == "0"  # the connection still serves


def test_other_errors_on_the_public_connection_are_not_retried():
    calls = []

    def divide_by_zero(cursor):
        calls.append(1)
        cursor.execute("SELECT 1 / 0")

    with pytest.raises(DataError):
        selectors._read(divide_by_zero)
    assert calls == [1]

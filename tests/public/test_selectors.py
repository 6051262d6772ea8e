"""public/selectors.py: the public connection's reads (tests/public/test_pages.py covers what they show)."""

from __future__ import annotations

import psycopg
import pytest
from django.db import DataError, connections

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
    assert selectors.subject_page(code=store.tianyi_uscc) is not None  # connected
    checks = []
    is_usable = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append(1) or is_usable())
    connection.health_check_done = False  # as at the start of every request
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
def test_a_page_read_again_on_the_same_connection_is_the_same_page(store_again):
    """The statements are prepared on their first run; a second run (and one after DEALLOCATE, which psycopg
    runs after a DROP or ALTER) reads the same."""
    store = store_again
    first = selectors.subject_page(code=store.tianyi_uscc)
    assert selectors.subject_page(code=store.tianyi_uscc) == first
    connections["public"].connection.execute("DEALLOCATE ALL")
    assert selectors.subject_page(code=store.tianyi_uscc) == first


def test_other_errors_on_the_public_connection_are_not_retried():
    calls = []

    def divide_by_zero(cursor):
        calls.append(1)
        cursor.execute("SELECT 1 / 0")

    with pytest.raises(DataError):
        selectors._read(divide_by_zero)
    assert calls == [1]

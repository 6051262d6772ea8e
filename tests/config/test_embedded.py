"""The embedded services the checkout runs on: a UTF-8 PostgreSQL cluster and a Redis broker."""

import pytest
from django.db import connection

from config import embedded


@pytest.mark.django_db
def test_cluster_is_utf8_so_trigrams_cover_chinese_text():
    with connection.cursor() as cursor:
        cursor.execute("SHOW lc_ctype")
        (ctype,) = cursor.fetchone()
        cursor.execute("SHOW server_encoding")
        (encoding,) = cursor.fetchone()
    assert encoding == "UTF8"
    if connection.settings_dict["HOST"] == str(embedded.PG_RUN):
        assert ctype == "C.UTF-8"


def test_broker_answers_ping():
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        assert conn.connected


def test_secrets_are_made_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded, "VAR", tmp_path)
    monkeypatch.setattr(embedded, "SECRETS_FILE", tmp_path / "secrets.env")
    first = embedded.ensure_secrets()
    second = embedded.ensure_secrets()
    assert first == second
    assert set(first) == {"DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEY", "BLIND_INDEX_KEY", "DEMO_OPERATOR_PASSWORD"}
    assert len(bytes.fromhex(first["FIELD_ENCRYPTION_KEY"])) == 32
    assert oct((tmp_path / "secrets.env").stat().st_mode & 0o777) == "0o600"

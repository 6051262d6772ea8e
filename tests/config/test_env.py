import pytest

from config.env import database_from_url


def test_unix_socket_url_keeps_the_socket_directory():
    db = database_from_url("postgresql://credit@/credit?host=/srv/app/var/pg/run")
    assert (db["NAME"], db["USER"], db["HOST"], db["PORT"]) == ("credit", "credit", "/srv/app/var/pg/run", "")


def test_tcp_url_with_password_and_options():
    db = database_from_url("postgres://app:p%40ss@db.internal:6432/credit?sslmode=require")
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == ("app", "p@ss", "db.internal", "6432")
    assert db["OPTIONS"] == {"sslmode": "require"}


def test_other_schemes_are_refused_in_plain_words():
    with pytest.raises(ValueError, match="postgresql://"):
        database_from_url("sqlite:///tmp/x.db")

"""The embedded services the checkout runs on: a UTF-8 PostgreSQL cluster that only the checkout's processes
can reach, each role with its password, and a Redis broker; the checkout's secrets, made once."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from config import embedded

ROOT = Path(__file__).resolve().parents[2]

on_embedded_cluster = pytest.mark.skipif(
    settings.DATABASES["default"]["HOST"] != str(embedded.PG_RUN), reason="DATABASE_URL names another server")
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as other OS users")


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


@on_embedded_cluster
@as_root
def test_another_os_user_cannot_reach_the_cluster_even_with_the_password():
    result = subprocess.run(
        ["runuser", "-u", "nobody", "--", str(embedded.pg_bindir() / "psql"), "-h", str(embedded.PG_RUN),
         "-U", embedded.DB_USER, "-d", embedded.DB_NAME, "-w", "-XAtc", "SELECT current_user"],
        env={"PATH": os.environ["PATH"], "PGPASSWORD": embedded.ensure_secrets().get("EMBEDDED_DB_PASSWORD", "")},
        capture_output=True, text=True, cwd="/")
    assert result.returncode != 0 and result.stdout == ""
    assert "Permission denied" in result.stderr


@on_embedded_cluster
@pytest.mark.parametrize("role", [embedded.DB_USER, embedded.public_role(), embedded.PG_USER])
def test_no_role_logs_in_without_its_password(role, monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", "/nonexistent")
    with pytest.raises(psycopg.OperationalError, match="password|authentication failed"):
        psycopg.connect(host=str(embedded.PG_RUN), dbname=embedded.DB_NAME, user=role, connect_timeout=5).close()


@on_embedded_cluster
@pytest.mark.django_db
def test_no_tcp_listener_and_a_private_socket():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('listen_addresses'), current_setting('unix_socket_permissions')")
        assert cursor.fetchone() == ("", "0700")


@on_embedded_cluster
def test_the_settings_connect_as_each_role_with_its_password():
    for alias, role in (("default", embedded.DB_USER), ("public", settings.PUBLIC_DATABASE_ROLE)):
        db = settings.DATABASES[alias]
        with psycopg.connect(host=db["HOST"], dbname=embedded.DB_NAME, user=db["USER"], password=db["PASSWORD"],
                             connect_timeout=5) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (role,)
    with psycopg.connect(embedded.database_url(), connect_timeout=5) as conn:  # the URL settings use
        assert conn.execute("SELECT current_user").fetchone() == (embedded.DB_USER,)


@as_root
@pytest.mark.slow
def test_a_cluster_made_by_earlier_versions_is_moved_and_locked_down_with_its_data():
    """Earlier versions kept a `trust` cluster in var/pg itself; the next start moves it out of the checkout
    and keeps every row."""
    var = Path(tempfile.mkdtemp(prefix="h-legacy-", dir="/tmp"))
    os.chmod(var, 0o755)  # the earlier versions opened the folders above var/ like this
    legacy = var / "pg"
    (legacy / "run").mkdir(parents=True)
    shutil.chown(legacy, embedded.PG_USER)
    shutil.chown(legacy / "run", embedded.PG_USER)
    bindir = embedded.pg_bindir()
    as_postgres = ["runuser", "-u", embedded.PG_USER, "--"]
    env = {**os.environ, "CREDIT_VAR_DIR": str(var)}
    try:
        subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(legacy / "data"), "-U", "postgres",
                        "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"], check=True, capture_output=True)
        subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(legacy / "data"), "-l",
                        str(legacy / "postgres.log"), "-o", f"-k {legacy / 'run'} -c listen_addresses=''",
                        "-w", "start"], check=True, capture_output=True)
        subprocess.run([str(bindir / "psql"), "-h", str(legacy / "run"), "-U", "postgres", "-XAtq", "-c",
                        "CREATE TABLE kept AS SELECT 42 AS answer; GRANT SELECT ON kept TO PUBLIC"], check=True, capture_output=True)

        subprocess.run([sys.executable, "-m", "config.embedded", "start"], cwd=ROOT, env=env, check=True,
                       capture_output=True)

        moved = subprocess.run([sys.executable, "-c", "from config import embedded; import json; print(json.dumps("
                                "[str(embedded.PG_RUN), embedded.ensure_secrets()['EMBEDDED_DB_PASSWORD']]))"],
                               cwd=ROOT, env=env, check=True, capture_output=True, text=True)
        socket_dir, password = json.loads(moved.stdout)
        assert legacy.is_symlink() and not socket_dir.startswith(str(var))
        with psycopg.connect(host=socket_dir, dbname="postgres", user=embedded.DB_USER, password=password) as conn:
            assert conn.execute("SELECT answer FROM kept").fetchone() == (42,)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(host=socket_dir, dbname="postgres", user=embedded.DB_USER, password="wrong").close()
    finally:
        subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(legacy / "data"), "-m", "immediate",
                        "stop"], capture_output=True)
        subprocess.run([sys.executable, "-m", "config.embedded", "reset"], cwd=ROOT, env=env, capture_output=True)
        shutil.rmtree(var, ignore_errors=True)


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
    assert set(first) == {"DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEY", "BLIND_INDEX_KEY", "DEMO_OPERATOR_PASSWORD",
                          "DEMO_OPERATOR_TOTP_KEY", "EMBEDDED_DB_PASSWORD", "EMBEDDED_PUBLIC_DB_PASSWORD",
                          "EMBEDDED_REPLICATION_PASSWORD"}
    assert len(bytes.fromhex(first["FIELD_ENCRYPTION_KEY"])) == 32
    assert oct((tmp_path / "secrets.env").stat().st_mode & 0o777) == "0o600"


RACER = """
import json, os, sys, time
from config import embedded
while not os.path.exists(sys.argv[1]):  # all start at once
    time.sleep(0.001)
print(json.dumps(embedded.ensure_secrets()))
"""


def test_processes_starting_together_all_get_the_same_secrets(tmp_path):
    var, go = tmp_path / "var", tmp_path / "go"
    env = {**os.environ, "CREDIT_VAR_DIR": str(var)}
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(go)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               text=True) for _ in range(12)]
    time.sleep(1.5)  # every racer has imported and waits
    go.touch()
    seen = [json.loads(racer.communicate(timeout=60)[0]) for racer in racers]
    assert all(values == seen[0] for values in seen)
    kept = dict(line.split("=", 1) for line in (var / "secrets.env").read_text().splitlines())
    assert kept == seen[0]
    assert oct((var / "secrets.env").stat().st_mode & 0o777) == "0o600"

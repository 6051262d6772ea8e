"""The internet zone through PgBouncer in transaction mode (issue #16, deploy/pgbouncer.ini): a real PgBouncer, run
from the deployment's own file with only its addresses, ports, paths and pool size replaced, in front of the test
database; a live internet-zone web server with DATABASE_POOL_MODE=transaction reaches both its databases (the
public lookup's role and the portal's) through it, and answers search, subject pages, the public API and the
portal exactly as a web server connected directly does, also with many requests at once on fewer server
connections than threads. Processes that need a session of their own refuse a transaction pool."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import psycopg
import pytest
import requests
from django.conf import settings

from config.pgbouncer import PgBouncer
from tests.conftest import ROOT, subprocess_database_url, web_server_start
from tests.portal.conftest import PASSWORD, totp
from tests.public.conftest import PUBLIC_DB

# the mark makes pytest-django create the test database: without it the store would be seeded into (and flushed
# out of) whatever database the settings name
pytestmark = [pytest.mark.slow, pytest.mark.django_db(databases=PUBLIC_DB)]

POOLER_PORT, POOLED_PORT, DIRECT_PORT = 8620, 8621, 8622  # this test's range: 8620-8629
POOL_SIZE = 2  # server connections per database and role, fewer than the web server's threads
WEB_THREADS = 4


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "PUBLIC_DATABASE_URL", "DATABASE_POOL_MODE", "PLATFORM_ZONE"}}
    env.update(CELERY_BROKER_URL=settings.CELERY_BROKER_URL, CACHE_URL=settings.CACHES["default"]["LOCATION"],
               CACHE_KEY_PREFIX=f"pgbouncer-test-{uuid.uuid4().hex[:8]}", PUBLIC_RATE_LIMIT="off")
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def servers(store, tmp_path_factory):
    """PgBouncer; an internet-zone web server through it in transaction mode; one connected directly."""
    from django.db import connections

    database, public = connections["default"].settings_dict, connections["public"].settings_dict
    assert database["NAME"] == settings.DATABASES["default"]["TEST"]["NAME"], "not on the test database"
    assert public["USER"] == settings.PUBLIC_DATABASE_ROLE and public["NAME"] == database["NAME"]
    # the deployment's file, but for where things are, and a pool smaller than the threads that share it
    pooler = PgBouncer(host=database["HOST"], port=database["PORT"], dbname=database["NAME"],
                       passwords={database["USER"]: database["PASSWORD"], public["USER"]: public["PASSWORD"]},
                       listen_port=POOLER_PORT, pool_size=POOL_SIZE, reserve_pool_size=0)
    logs = tmp_path_factory.mktemp("pgbouncer")
    started: list[subprocess.Popen] = []
    try:
        pooler.start()
        started.append(web_server_start(
            _environment(PLATFORM_ZONE="internet", DATABASE_POOL_MODE="transaction",
                         DATABASE_URL=pooler.url(database["USER"], "credit"),
                         PUBLIC_DATABASE_URL=pooler.url(public["USER"], "credit_public")),
            port=POOLED_PORT, log=logs / "pooled.log", workers=2, threads=WEB_THREADS))
        started.append(web_server_start(
            _environment(PLATFORM_ZONE="internet", DATABASE_URL=subprocess_database_url(database),
                         PUBLIC_DATABASE_URL=subprocess_database_url(public)),
            port=DIRECT_PORT, log=logs / "direct.log", workers=1, threads=2))
        yield pooler
    finally:
        for process in started:
            os.killpg(process.pid, 15)
            process.wait(timeout=30)
        pooler.stop()


POOLED, DIRECT = f"http://127.0.0.1:{POOLED_PORT}", f"http://127.0.0.1:{DIRECT_PORT}"


def _requests(store) -> list[str]:
    """Search pages, subject pages and the public API: what a surge of citizens asks."""
    code = store.tianyi_uscc
    return [
        "/?q=长沙", "/?q=天翼", "/?q=红星", f"/?q={quote(store.person_name)}", "/?q=不存在的公司",
        f"/subjects/{code}", f"/subjects/{store.hongxing_uscc}", "/subjects/91430100MA4L000000",
        "/api/v1/public/subjects?q=长沙", f"/api/v1/public/subjects?q={quote(store.person_name)}",
        f"/api/v1/public/subjects/{code}", f"/api/v1/public/subjects/{code}/records/admin_penalty",
        f"/api/v1/public/subjects/{store.hongxing_uscc}",
    ]


def _answer(base: str, path: str, **kwargs) -> tuple[int, str, str]:
    response = requests.get(base + path, timeout=30, **kwargs)
    return response.status_code, response.headers.get("Content-Type", ""), response.text


def test_the_public_lookup_answers_through_pgbouncer_as_it_does_directly(servers, store):
    paths = _requests(store)
    direct = {path: _answer(DIRECT, path) for path in paths}
    assert direct[f"/subjects/{store.tianyi_uscc}"][0] == 200
    assert "湖南天翼（长沙）科技有限公司" in direct["/?q=天翼"][2]
    assert direct["/subjects/91430100MA4L000000"][0] == 404
    transactions_before = {row["database"]: row["total_xact_count"] for row in servers.admin("SHOW STATS")}

    # each path several times, all at once: more requests in flight than threads, more threads than server
    # connections, so every thread's statements run on server connections other threads used just before
    rounds = paths * 6
    with ThreadPoolExecutor(max_workers=16) as pool:
        pooled = list(pool.map(lambda path: (path, _answer(POOLED, path)), rounds))
    for path, answer in pooled:
        assert answer == direct[path], path

    # the answers came through the pooler, on at most POOL_SIZE server connections per database
    stats = {row["database"]: row for row in servers.admin("SHOW STATS")}
    assert stats["credit_public"]["total_xact_count"] - transactions_before.get("credit_public", 0) >= len(rounds)
    servers_used = [row for row in servers.admin("SHOW SERVERS") if row["database"] == "credit_public"]
    assert 0 < len(servers_used) <= POOL_SIZE < 2 * WEB_THREADS


def test_the_public_pool_plans_as_a_direct_connection_does(servers):
    """One generic plan per statement of the public_view functions: set by the pool's connect_query, since the web
    process cannot pass it as a startup option through PgBouncer."""
    from django.db import connections

    with connections["public"].cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        direct = cursor.fetchone()[0]
    with psycopg.connect(servers.url(connections["public"].settings_dict["USER"], "credit_public")) as pooled:
        assert pooled.execute("SHOW plan_cache_mode").fetchone()[0] == direct == "force_generic_plan"


@pytest.mark.django_db(databases=PUBLIC_DB, transaction=True)  # the account committed: the web servers see it
def test_the_portal_signs_in_and_lists_own_records_through_pgbouncer(servers, store):
    from portal.services import account_create, activation_code_issue

    email = f"pgbouncer-{uuid.uuid4().hex[:8]}@example.cn"
    code = activation_code_issue(uscc=store.tianyi_uscc).code
    account = account_create(uscc=store.tianyi_uscc, activation_code=code, email=email, password=PASSWORD,
                             ip="192.0.2.1")

    def own_records(base: str, steps: int) -> dict:
        # the sign-in writes the session and the audit trail; each TOTP code is taken once, so each server its own
        signed_in = requests.post(f"{base}/api/v1/portal/session", timeout=30, json={
            "email": email, "password": PASSWORD, "totp": totp(account.totp_secret, steps=steps)})
        assert signed_in.status_code == 200, signed_in.text
        headers = {"Authorization": f"Bearer {signed_in.json()['token']}"}
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda _: requests.get(f"{base}/api/v1/portal/records", headers=headers,
                                                           timeout=30), range(8)))
        assert {answer.status_code for answer in answers} == {200}
        assert len({answer.text for answer in answers}) == 1
        return answers[0].json()

    through_pool = own_records(POOLED, 0)
    assert through_pool["subject"]["uscc"] == store.tianyi_uscc and through_pool["records"]
    assert through_pool == own_records(DIRECT, 1)


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=_environment(**env), capture_output=True,
                          text=True, timeout=120)


def test_a_worker_refuses_a_transaction_pool(servers):
    from django.db import connections

    worker = _run("-m", "celery", "-A", "config", "worker", "--concurrency", "1", "--loglevel", "WARNING",
                  PLATFORM_ZONE="internet", DATABASE_POOL_MODE="transaction",
                  DATABASE_URL=servers.url(connections["default"].settings_dict["USER"], "credit"))
    assert worker.returncode != 0
    assert "A worker cannot run with DATABASE_POOL_MODE=transaction" in worker.stderr + worker.stdout


@pytest.mark.parametrize("zone", ["extranet", "intranet", "all"])
def test_zones_other_than_internet_refuse_a_transaction_pool(zone):
    check = _run("manage.py", "check", PLATFORM_ZONE=zone, DATABASE_POOL_MODE="transaction")
    assert check.returncode != 0
    assert f"DATABASE_POOL_MODE=transaction is for the internet zone only, not PLATFORM_ZONE={zone}" in check.stderr

"""The internet zone on a hot standby (issue #16): `python -m config.embedded standby start` copies a primary with
pg_basebackup and streams from it; the public API and pages, pointed at it by PUBLIC_DATABASE_URL, answer with
what departments pushed through the primary once replay catches up, and the pages say "数据截至 …" while it lags.

A base backup copies the whole cluster, and the shared one holds every engineer's test databases: this test
makes a throwaway primary of its own (the embedded tooling run for another var/ folder), and deletes it, standby
and all, at the end, also on failure. Its standby is started before the platform is migrated, so the public role's
grants and the public_view functions reach the standby by streaming replication, never made there by hand."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
import requests
from django.conf import settings

from config import embedded
from tests.conftest import ROOT, web_server_start
from validation.field_rules import org_code_check_char, uscc_check_char

pytestmark = pytest.mark.slow

PORT = 8161  # this test's range: 8161-8169
LAG_SECONDS = 2  # PUBLIC_REPLICA_LAG_SECONDS for the web server under test: the test need not wait 5 s
DATA_AS_OF = re.compile(r"数据截至 \d{4}-\d{2}-\d{2} \d{2}:\d{2}")


class Platform:
    """The throwaway primary, its standby and an internet-zone web server reading the standby."""

    def __init__(self, var: Path) -> None:
        self.var = var
        self.env = {k: v for k, v in os.environ.items()
                    if k not in {"DATABASE_URL", "PUBLIC_DATABASE_URL", "PUBLIC_DATABASE_ROLE"}}
        # the checkout's embedded tooling, for another var/: a cluster and secrets of its own. Batches are pushed
        # with `manage.py ingest`, which merges them itself when no worker listens: no broker needed for that.
        self.env.update(CREDIT_VAR_DIR=str(var), CELERY_BROKER_URL="memory://",
                        CACHE_URL=settings.CACHES["default"]["LOCATION"],
                        CACHE_KEY_PREFIX=f"standby-test-{uuid.uuid4().hex[:8]}", PUBLIC_RATE_LIMIT="off")
        self.web: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{PORT}"

    def run(self, *args: str) -> str:
        result = subprocess.run([sys.executable, *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
        return result.stdout

    def embedded(self, *args: str) -> str:
        return self.run("-m", "config.embedded", *args)

    def manage(self, *args: str) -> str:
        return self.run("manage.py", *args)

    def start(self) -> None:
        self.embedded("start")
        self.primary_url = self.embedded("env").splitlines()[0].removeprefix("DATABASE_URL=")
        self.embedded("standby", "start")
        self.public_url = self.embedded("standby", "env").strip().removeprefix("PUBLIC_DATABASE_URL=")
        self.standby_run = Path(parse_qs(urlsplit(self.public_url).query)["host"][0])
        self.manage("migrate", "--verbosity", "0")
        self.manage("load_catalog", "--verbosity", "0")
        self.manage("register_department", "HN-SCJG", "--name", "湖南省市场监督管理局", "--write", "registration")
        self._serve()

    def _serve(self) -> None:
        env = {**self.env, "PLATFORM_ZONE": "internet", "PUBLIC_DATABASE_URL": self.public_url,
               "PUBLIC_REPLICA_LAG_SECONDS": str(LAG_SECONDS), "CELERY_BROKER_URL": settings.CELERY_BROKER_URL}
        self.web = web_server_start(env, port=PORT, log=self.var.parent / "gunicorn.log", workers=1, threads=2)

    def stop(self) -> None:
        """Everything this test started, and only that: the web server, then the throwaway clusters (reset
        stops the standby and the primary found through this var/ and deletes their folders)."""
        if self.web is not None and self.web.poll() is None:
            os.killpg(self.web.pid, 15)
            self.web.wait(timeout=30)
        self.embedded("reset")

    def on_standby(self, sql: str) -> str:
        """`sql` as the standby's superuser (pausing replay takes one)."""
        return embedded._psql(sql, run=self.standby_run)

    def push_company(self, name: str) -> str:
        """A registration of a new company pushed through the primary; its USCC."""
        org_code = f"MA5{uuid.uuid4().int % 10**5:05d}"
        first17 = "91430100" + org_code + org_code_check_char(org_code)
        code = first17 + uscc_check_char(first17)
        row = {"uscc": code, "name": name, "subject_type": "legal_person", "legal_representative": "李明",
               "registered_capital": "50", "established_on": "2020-05-01", "address": "湖南省长沙市岳麓路1号",
               "business_scope": "软件开发", "status": "active", "registration_authority": "长沙市市场监督管理局"}
        batch = self.var.parent / f"{code}.ndjson"
        batch.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
        out = self.manage("ingest", str(batch), "--department", "HN-SCJG", "--category", "registration",
                          "--no-progress")
        assert "completed" in out and "created=1" in out, out
        return code

    def wait_replayed(self, timeout: float = 60) -> None:
        """Until the standby has replayed everything the primary has written so far."""
        with psycopg.connect(self.primary_url) as primary:
            written = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout
        while self.on_standby(f"SELECT pg_last_wal_replay_lsn() >= '{written}'::pg_lsn") != "t":
            assert time.monotonic() < deadline, "the standby did not catch up"
            time.sleep(0.2)

    def public_connection(self) -> list[str]:
        """What the public alias of a process with this environment connects to: in recovery?, as whom."""
        out = self.manage("shell", "--no-imports", "-c", (
            "from django.db import connections\n"
            "with connections['public'].cursor() as c:\n"
            "    c.execute('SELECT pg_is_in_recovery(), current_user')\n"
            "    print(*c.fetchone())"))
        return out.split()

    def api_subject(self, code: str) -> requests.Response:
        return requests.get(f"{self.url}/api/v1/public/subjects/{code}", timeout=10)

    def page(self, code: str) -> str:
        response = requests.get(f"{self.url}/subjects/{code}", timeout=10)
        assert response.status_code == 200
        return response.text


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    platform = Platform(tmp_path_factory.mktemp("standby") / "var")
    try:
        platform.start()
        yield platform
    finally:
        platform.stop()


def test_the_public_api_answers_from_the_standby_once_replay_catches_up(platform):
    # without PUBLIC_DATABASE_URL the public alias reads the primary; with it, the standby: a server in recovery
    assert platform.public_connection() == ["False", "credit_public"]
    platform.env["PUBLIC_DATABASE_URL"] = platform.public_url
    try:
        assert platform.public_connection() == ["True", "credit_public"]
    finally:
        del platform.env["PUBLIC_DATABASE_URL"]

    code = platform.push_company("长沙备库验证科技有限公司")
    platform.wait_replayed()
    response = platform.api_subject(code)
    assert response.status_code == 200
    assert response.json()["name"] == "长沙备库验证科技有限公司"
    assert not DATA_AS_OF.search(platform.page(code))  # caught up: nothing to say


def test_the_pages_say_data_as_of_while_the_standby_lags(platform):
    platform.wait_replayed()
    known = platform.push_company("长沙回放暂停前有限公司")
    platform.wait_replayed()
    assert not DATA_AS_OF.search(platform.page(known))
    platform.on_standby("SELECT pg_wal_replay_pause()")
    try:
        code = platform.push_company("长沙回放暂停后有限公司")  # on the primary; the standby receives, not replays
        assert platform.api_subject(code).status_code == 404
        deadline = time.monotonic() + LAG_SECONDS + 20
        while not DATA_AS_OF.search(page := platform.page(known)):
            assert time.monotonic() < deadline, "no 数据截至 line while the standby lags"
            time.sleep(0.5)
        assert "此后的更新稍后显示" in page
        assert platform.api_subject(code).status_code == 404  # still the standby's data
    finally:
        platform.on_standby("SELECT pg_wal_replay_resume()")
    platform.wait_replayed()
    assert platform.api_subject(code).status_code == 200
    deadline = time.monotonic() + 10
    while DATA_AS_OF.search(platform.page(known)):  # each process checks again within a second
        assert time.monotonic() < deadline, "the 数据截至 line stays after the standby caught up"
        time.sleep(0.5)

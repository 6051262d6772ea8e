"""Public-lookup fixtures: the `public` alias connected as the public role, and a small
credit store built through the real intake services (batch_receive + the pipeline in-process)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

PUBLIC_DB = ["default", "public"]


@pytest.fixture(scope="session", autouse=True)
def public_alias_as_role(django_db_setup):
    """Django makes the `public` test alias a mirror of default (same connection settings, so the app
    role); point it back at the public role, in every thread (live_server's too)."""
    from django.conf import settings
    from django.db import connections

    default = connections["default"].settings_dict
    overrides = {"NAME": default["NAME"], "USER": settings.PUBLIC_DATABASE_ROLE,
                 "PASSWORD": settings.DATABASES["public"]["PASSWORD"],
                 "OPTIONS": settings.DATABASES["public"]["OPTIONS"],
                 "CONN_HEALTH_CHECKS": settings.DATABASES["public"]["CONN_HEALTH_CHECKS"]}
    connections.settings["public"].update(overrides)
    connection = connections["public"]
    connection.close()
    connection.settings_dict = {**default, **overrides, "TEST": connections.settings["public"]["TEST"]}
    yield


@pytest.fixture(autouse=True)
def no_rate_limit_unless_asked(settings):
    settings.PUBLIC_RATE_LIMIT = "off"


@contextlib.contextmanager
def _batches_in_process(base: Path):
    """Batches are processed in the test's process, never handed to a broker some other worker reads."""
    from django.test import override_settings

    with pytest.MonkeyPatch.context() as patch, override_settings(
            BATCH_STORAGE_DIR=base / "batches", PLATFORM_SIGNING_KEY_DIR=base / "platform-keys"):
        patch.setattr("ingest.handoff.batch_enqueue", lambda *, batch_id: None)
        yield


@pytest.fixture(scope="module")
def store(django_db_setup, django_db_blocker, tmp_path_factory):
    """Seeded once and committed (the public connection sees only committed rows); seeded again only
    after a transactional test flushed it. Tests that use it only read (or use `committed` and undo)."""
    from django.core.management import call_command

    with django_db_blocker.unblock():
        seeded = _seeded(tmp_path_factory.getbasetemp())
    yield seeded
    # Leave the database as other modules expect it: empty but for the catalog.
    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)
        call_command("load_catalog", verbosity=0)


def _seeded(base: Path):
    from django.core.management import call_command

    from tests.public.seed import expected, is_seeded, seed_store

    with _batches_in_process(base):
        if is_seeded():
            return expected()
        call_command("flush", interactive=False, verbosity=0)
        call_command("load_catalog", verbosity=0)
        return seed_store()


@pytest.fixture
def store_again(store, django_db_blocker, tmp_path_factory):
    """`store` for a transactional test that follows another in its module: seeded again when that one's
    flush emptied it."""
    with django_db_blocker.unblock():
        return _seeded(tmp_path_factory.getbasetemp())


@contextlib.contextmanager
def committed(sql: str, undo: str, params: list | None = None):
    """Change the store outside the test's transaction (so the public connection sees it), then undo it."""
    import psycopg
    from django.db import connections

    db = connections["default"].settings_dict
    with psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"] or None,
                         password=db["PASSWORD"] or None, autocommit=True) as conn:
        conn.execute(sql, params)
        try:
            yield
        finally:
            conn.execute(undo, params)


def database_url(name: str | None = None) -> str:
    """A URL of the test cluster's database `name` (the test database by default) as the platform's role, for
    processes started by a test (manage.py, pg_dump)."""
    from urllib.parse import quote

    from django.db import connections

    db = connections["default"].settings_dict
    name = name or db["NAME"]
    host, credentials = db["HOST"], f"{quote(db['USER'])}:{quote(db['PASSWORD'] or '', safe='')}"
    if not host or host.startswith("/"):
        return f"postgresql://{credentials}@/{name}?host={host}"
    return f"postgresql://{credentials}@{host}:{db['PORT']}/{name}"


def manage(*args: str, database: str | None = None) -> None:
    """manage.py in a process of its own, on `database` (committed work, which the public connection sees)."""
    import os
    import subprocess
    import sys

    from django.conf import settings

    subprocess.run([sys.executable, "manage.py", *args, "-v", "0", "--skip-checks"], cwd=settings.BASE_DIR,
                   env={**os.environ, "DATABASE_URL": database_url(database)}, check=True)

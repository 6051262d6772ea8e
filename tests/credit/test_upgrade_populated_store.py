"""A database made by the migrations of 832a832 (the last commit before the write path's redesign, issue #15),
holding a store that commit's code wrote, upgrades to today's schema with its data intact: after `migrate`,
today's readers return for every subject, record, version and feed page exactly what that commit's readers
returned, and `verify_store` finds the store whole.

The store (fixtures/upgrade/store.sql.gz, a data-only dump) and the readers' answers
(fixtures/upgrade/readers.json.gz) were made by tests/upgrade/make_populated_store.py run from a checkout of
that commit (tests/upgrade/README.md). Everything runs in a database of the test's own, through `manage.py` in
subprocesses, as an operator upgrading a deployment would."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from config import embedded
from tests.conftest import ROOT, subprocess_database_url
from tests.upgrade.store_readers import FIXTURE_SECRETS

FIXTURE = ROOT / "fixtures" / "upgrade"

# Every app's leaf migration at 832a832 (`git ls-tree 832a832 <app>/migrations/`; the contrib apps' as the
# Django of that commit had them): the schema the fixture's store was written into.
MIGRATIONS_AT_832A832 = [
    ("contenttypes", "0002_remove_content_type_name"),
    ("auth", "0012_alter_user_first_name_max_length"),
    ("admin", "0003_logentry_add_action_flag_choices"),
    ("sessions", "0001_initial"),
    ("otp_totp", "0003_add_timestamps"),
    ("validation", "0001_initial"),
    ("exchange", "0008_batch_finished_notify"),
    ("credit", "0012_console_groups_view_workflows"),
    ("public", "0015_subject_page_reads_shown_columns"),
    ("portal", "0002_console_groups_view_portal"),
    ("ops", "0002_scorecard_permissions_for_console_groups"),
]


@pytest.fixture
def upgrade_database():
    """A database of the test's own on the tests' server, dropped afterwards; its name is fixed and starts with
    credit_upgrade_test (never the development database nor the pytest test database)."""
    name = f"credit_upgrade_test{os.environ.get('TEST_DB_SUFFIX', '')}"
    settings = {**connection.settings_dict, "NAME": name}
    admin_url = subprocess_database_url({**settings, "NAME": "postgres"})

    def drop():
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    drop()
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield subprocess_database_url(settings)
    finally:
        drop()


def _manage(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **FIXTURE_SECRETS, "DATABASE_URL": database_url, "CELERY_BROKER_URL": "memory://",
           "BATCH_STORAGE_DIR": str(tmp_path / "batches"), "PLATFORM_SIGNING_KEY_DIR": str(tmp_path / "keys")}
    env.pop("BATCH_STORAGE_URL", None)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


def _checked(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert done.returncode == 0, f"{done.args[2:]} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def _store_load(database_url: str) -> None:
    """The dump into the old schema, in one transaction (the foreign keys are deferred: table order is free)."""
    sql = gzip.decompress((FIXTURE / "store.sql.gz").read_bytes())
    psql = str(embedded.pg_bindir() / "psql")
    loaded = subprocess.run([psql, "--no-psqlrc", "--quiet", "--single-transaction", "-v", "ON_ERROR_STOP=1",
                             f"--dbname={database_url}"], input=sql, capture_output=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr.decode()


# Tables the redesign keeps as they were: every row, every column they had at 832a832, the same after the
# upgrade (ids included: departments hold record ids and feed cursors). The feed and the sources, which the
# redesign reshapes, are held to what the readers return instead.
KEPT_TABLES = ["credit_subject", "credit_subjectalias", "credit_record", "credit_recordversion", "credit_objection",
               "credit_authorization", "credit_conflictingduplicate", "exchange_department", "exchange_batch",
               "exchange_batchrejection", "exchange_exchangelogentry"]


def _kept_columns(database_url: str) -> dict[str, list[str]]:
    """Per kept table, the columns it has now."""
    with psycopg.connect(database_url) as conn:
        return {table: [name for (name,) in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s"
            " ORDER BY ordinal_position", [table])] for table in KEPT_TABLES}


def _kept_rows(database_url: str, columns: dict[str, list[str]]) -> dict[str, list[str]]:
    """Per kept table, its rows in id order, each the JSON text of `columns`."""
    with psycopg.connect(database_url) as conn:
        return {table: [row for (row,) in conn.execute(sql.SQL(
            "SELECT row_to_json(t)::text FROM (SELECT {} FROM {} ORDER BY id) t").format(
                sql.SQL(", ").join(map(sql.Identifier, names)), sql.Identifier(table)))]
                for table, names in columns.items()}


def _next_version_id(database_url: str) -> int:
    """The id the next version will take, read without taking it."""
    with psycopg.connect(database_url) as conn:
        [sequence] = conn.execute("SELECT pg_get_serial_sequence('credit_recordversion', 'id')").fetchone()
        return conn.execute(sql.SQL("SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM {}")
                            .format(sql.Identifier(*sequence.split(".")))).fetchone()[0]


def _first_difference(got, expected, path: str = "") -> str | None:
    """Where two readers' answers first differ, as a path into them and the two values there."""
    if isinstance(got, dict) and isinstance(expected, dict):
        for key in sorted(set(got) | set(expected)):
            if key not in got or key not in expected:
                return f"{path}/{key}: {'missing after the upgrade' if key not in got else 'new after the upgrade'}"
            found = _first_difference(got[key], expected[key], f"{path}/{key}")
            if found:
                return found
        return None
    if isinstance(got, list) and isinstance(expected, list):
        for i, (a, b) in enumerate(zip(got, expected, strict=False)):  # a length difference is told below
            found = _first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        if len(got) != len(expected):
            return f"{path}: {len(got)} items after the upgrade, {len(expected)} before"
        return None
    return None if got == expected else f"{path}: {got!r} after the upgrade, {expected!r} before"


def test_a_store_written_by_832a832_upgrades_with_what_its_readers_return_intact(upgrade_database, tmp_path):
    migrate_to_832a832 = "; ".join(f"call_command('migrate', {app!r}, {name!r}, verbosity=0)"
                                   for app, name in MIGRATIONS_AT_832A832)
    _checked(_manage(upgrade_database, tmp_path, "shell", "-c",
                     f"from django.core.management import call_command; {migrate_to_832a832}"))
    _store_load(upgrade_database)
    columns = _kept_columns(upgrade_database)
    rows_before = _kept_rows(upgrade_database, columns)
    assert rows_before["credit_recordversion"], "the fixture holds a store, not an empty one"
    next_version_id = _next_version_id(upgrade_database)

    _checked(_manage(upgrade_database, tmp_path, "migrate", "--verbosity", "0"))

    rows_after = _kept_rows(upgrade_database, columns)
    for table in KEPT_TABLES:
        assert rows_after[table] == rows_before[table], table
    # versions became a partitioned table (credit 0015): its ids go on from the same next value
    assert _next_version_id(upgrade_database) == next_version_id

    answers = tmp_path / "readers.json"
    _checked(_manage(upgrade_database, tmp_path, "shell", "-c",
                     "from pathlib import Path; from tests.upgrade.store_readers import store_as_read_json; "
                     f"Path({str(answers)!r}).write_text(store_as_read_json())"))
    got = json.loads(answers.read_text())
    expected = json.loads(gzip.decompress((FIXTURE / "readers.json.gz").read_bytes()))
    assert expected["feed"]["all categories"]["None"][0]["items"], "the fixture holds a store, not an empty one"
    assert _first_difference(got, expected) is None
    assert got == expected

    verified = _manage(upgrade_database, tmp_path, "verify_store")
    assert verified.returncode == 0, verified.stdout + verified.stderr

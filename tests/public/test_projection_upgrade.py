"""Migration 0007 brings a database migrated before 0002's later edits to the very projection a fresh one has."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from django.db import connections

from config import embedded
from tests.public.conftest import database_url, manage

pytestmark = pytest.mark.django_db(databases=["default"])

FIRST_LANDED = Path(__file__).parent / "fixtures" / "public_0002_as_first_landed.sql"


def _psql(name: str, sql: str) -> None:
    subprocess.run([str(embedded.pg_bindir() / "psql"), "-XqA", "-v", "ON_ERROR_STOP=1", "-d", database_url(name)],
                   input=sql, text=True, check=True, capture_output=True)


def _projection(name: str) -> str:
    """What the public role's access is made of: public_view and public_projection (objects, definitions,
    grants) and the indexes the lookup reads."""
    dump = subprocess.run([str(embedded.pg_bindir() / "pg_dump"), "--schema-only", "--no-owner",
                           "-n", "public_view", "-n", "public_projection", "-d", database_url(name)],
                          text=True, check=True, capture_output=True).stdout
    indexes = subprocess.run([str(embedded.pg_bindir() / "psql"), "-XAtq", "-d", database_url(name), "-c",
                              "SELECT indexdef FROM pg_indexes WHERE indexname LIKE 'public\\_%' ORDER BY 1"],
                             text=True, check=True, capture_output=True).stdout
    lines = [line for line in dump.splitlines() if not line.startswith(("--", "\\restrict", "\\unrestrict"))]
    return "\n".join(lines) + indexes


@pytest.fixture
def old_database():
    name = f"{connections['default'].settings_dict['NAME']}_upgrade"
    with connections["default"].cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    yield name
    with connections["default"].cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.django_db(transaction=True, databases=["default"])  # CREATE DATABASE runs outside a transaction
def test_a_database_migrated_before_the_edits_of_0002_ends_with_the_projection_of_a_fresh_one(old_database):
    fresh = _projection(connections["default"].settings_dict["NAME"])
    assert "subject_page(q_uscc text, q_id bigint, q_categories text[]" in fresh

    manage("migrate", "--noinput", database=old_database)
    manage("migrate", "public", "0001", "--noinput", database=old_database)  # 0007's reverse, then 0002's
    _psql(old_database, FIRST_LANDED.read_text())  # the projection as 0002 first made it: plain views
    manage("migrate", "public", "0006", "--fake", "--noinput", database=old_database)  # as if 0002–0006 ran then
    old = _projection(old_database)
    assert "GRANT SELECT ON TABLE public_view.records TO credit_public" in old  # views the role could read

    manage("migrate", "public", "--noinput", database=old_database)  # 0007
    assert _projection(old_database) == fresh

"""Public-lookup fixtures: the `public` alias connected as the public role, and a small
credit store built through the real intake services (batch_receive + the pipeline in-process)."""

from __future__ import annotations

import pytest

PUBLIC_DB = ["default", "public"]


@pytest.fixture(scope="session", autouse=True)
def public_alias_as_role(django_db_setup):
    """Django makes the `public` test alias a mirror of default (same connection settings, so the app
    role); point it back at the public role, in every thread (live_server's too)."""
    from django.conf import settings
    from django.db import connections

    default = connections["default"].settings_dict
    overrides = {"NAME": default["NAME"], "USER": settings.PUBLIC_DATABASE_ROLE, "PASSWORD": ""}
    connections.settings["public"].update(overrides)
    connection = connections["public"]
    connection.close()
    connection.settings_dict = {**default, **overrides, "TEST": connections.settings["public"]["TEST"]}
    yield


@pytest.fixture(autouse=True)
def no_rate_limit_unless_asked(settings):
    settings.PUBLIC_RATE_LIMIT = "off"


@pytest.fixture(autouse=True)
def batches_in_process(monkeypatch, settings, tmp_path_factory):
    """Batches are processed in the test's process, never handed to a broker some other worker reads."""
    monkeypatch.setattr("exchange.services.batches.batch_enqueue", lambda *, batch_id: None)
    settings.BATCH_STORAGE_DIR = tmp_path_factory.getbasetemp() / "batches"
    settings.PLATFORM_SIGNING_KEY_DIR = tmp_path_factory.getbasetemp() / "platform-keys"


@pytest.fixture
def store(transactional_db):
    from tests.public.seed import seed_store

    return seed_store()

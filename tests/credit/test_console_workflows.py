"""Repair requests, authorisations and credit reports in the operators' console (credit/admin.py, credit
migration 0012): every console group sees them, nobody adds, changes or deletes them there."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from credit.authorizations import authorization_grant
from credit.models import Record, RepairRequest
from tests.credit.factories import ingest, penalty
from tests.exchange.test_console_admin import console

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("console_groups")]


@pytest.fixture
def groups_see_the_workflows(console_groups):
    """Migration 0012 run again on the groups a flush may have remade (see the console_groups fixture)."""
    state = MigrationExecutor(connection).loader.project_state(("credit", "0012_console_groups_view_workflows"),
                                                              at_end=True)
    importlib.import_module("credit.migrations.0012_console_groups_view_workflows").grant_viewing(state.apps, None)


def test_every_group_sees_them_and_changes_nothing(sthj, groups_see_the_workflows):
    ingest(sthj, "admin_penalty", [penalty("P-1", 1)], "p1")
    record = Record.objects.get()
    repair = RepairRequest.objects.create(record=record, subject=record.subject, filed_by="甲", reason="已整改",
                                          commitment=True)
    authorization_grant(subject=record.subject, department_code="HN-STHJ", until=dt.date.today(), granted_by="甲")
    viewer = console("viewer1", "viewer")
    for path in ("/admin/credit/repairrequest/", "/admin/credit/authorization/", "/admin/credit/creditreport/"):
        assert viewer.get(path).status_code == 200, path
    assert viewer.get(f"/admin/credit/repairrequest/{repair.pk}/change/").status_code == 200
    assert viewer.get("/admin/credit/repairrequest/add/").status_code == 403
    assert viewer.get(f"/admin/credit/repairrequest/{repair.pk}/delete/").status_code == 403
    superuser = console("root1", superuser=True)
    assert superuser.get("/admin/credit/authorization/add/").status_code == 403

"""Storing a month (ops.scorecards.services.scorecards_store), the beat task and manage.py department_scorecards."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ops.models import DepartmentScorecard
from ops.scorecards.exports import HEADINGS
from ops.scorecards.months import month_current
from ops.scorecards.selectors import scorecards_of_month
from ops.scorecards.services import ScorecardMonthNotOver, scorecards_store
from tests.ops.conftest import _batch

pytestmark = pytest.mark.django_db


def scores(cards):
    return {card["department"]: card["score"] for card in cards}


def test_a_stored_month_stays_as_stored_until_recomputed_on_request(february):
    from tests.credit.factories import penalty

    stored = scorecards_store(month=february.month)
    assert scorecards_store(month=february.month) == stored  # twice: the same rows, nothing added
    assert DepartmentScorecard.objects.filter(month=february.month).count() == 4
    # a late-arriving batch dated in February: the stored month does not move
    _batch(february.swj, "admin_penalty", [penalty("S9", 3, decided_on="2026-01-05")], "S-9", "2026-02-26 10:00")
    shown, is_stored = scorecards_of_month(month=february.month)
    assert is_stored and scores(shown)["HN-SWJ"] == Decimal("80.0")
    # until an operator asks: SWJ's timeliness 1/3 → 100 × (0.4/3 + 0.4 + 0.2) = 73.3
    recomputed = scorecards_store(month=february.month, recompute=True)
    assert scores(recomputed)["HN-SWJ"] == Decimal("73.3")
    assert DepartmentScorecard.objects.filter(month=february.month).count() == 4


def test_a_month_still_running_is_not_stored(db):
    with pytest.raises(ScorecardMonthNotOver):
        scorecards_store(month=month_current())
    assert not DepartmentScorecard.objects.exists()


def test_the_beat_task_stores_last_month_once(february, monkeypatch):
    from ops import tasks

    monkeypatch.setattr(tasks, "month_current", lambda: february.month.replace(month=3))
    tasks.scorecards_store_last_month()
    first = list(DepartmentScorecard.objects.values_list("department__code", "score", "computed_at"))
    tasks.scorecards_store_last_month()
    assert list(DepartmentScorecard.objects.values_list("department__code", "score", "computed_at")) == first
    assert len(first) == 4


def test_command_prints_json(february):
    out = io.StringIO()
    call_command("department_scorecards", "--month", "2026-02", "--json", stdout=out)
    cards = json.loads(out.getvalue())
    assert [card["department"] for card in cards] == ["HN-GTZY", "HN-STHJ", "HN-SWJ", "HN-SCJG"]
    assert tuple(cards[3]) == HEADINGS
    assert cards[3] | {"top_rejection_codes": None} == {
        "department": "HN-SCJG", "name": "HN-SCJG 名称", "month": "2026-02", "batches": 4, "batches_failed": 1,
        "rows": 8, "accepted": 7, "rejected": 1, "acceptance_rate": 0.875, "top_rejection_codes": None,
        "timeliness_rows": 4, "timely_rows": 3, "timeliness_rate": 0.75, "median_delay_working_days": 3.5,
        "objections_received": 5, "objections_on_time": 1, "objections_late": 3, "repairs_received": 2,
        "repairs_decided": 1, "score": 70.0, "rank": 4}
    assert cards[3]["top_rejection_codes"] == [{"code": "required", "count": 1}]
    assert not DepartmentScorecard.objects.exists()  # printing stores nothing


def test_command_prints_a_table_and_recomputes_on_request(february):
    out = io.StringIO()
    call_command("department_scorecards", "--month", "2026-02", "--recompute", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "2026-02  已保存的结果"
    assert lines[-1].split()[:3] == ["4", "HN-SCJG", "70.0"]
    assert DepartmentScorecard.objects.filter(month=february.month).count() == 4


def test_command_refuses_a_bad_month(db):
    with pytest.raises(CommandError, match="月份应写作 YYYY-MM"):
        call_command("department_scorecards", "--month", "2026-13", stdout=io.StringIO())
    with pytest.raises(CommandError, match="尚未结束"):
        call_command("department_scorecards", "--month", f"{month_current():%Y-%m}", "--recompute",
                     stdout=io.StringIO())


def test_beat_schedules_the_task_on_the_first():
    from django.conf import settings

    from config.celery import app

    app.loader.import_default_modules()  # what a worker does at start: autodiscovers each app's tasks
    entry = settings.CELERY_BEAT_SCHEDULE["ops.scorecards_store_last_month"]
    assert entry["task"] in app.tasks
    assert entry["schedule"].day_of_month == {1}

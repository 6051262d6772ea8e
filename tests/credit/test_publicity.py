"""Publicity from the catalog, credit repair, date-driven transitions and the change feed."""

from __future__ import annotations

import datetime as dt

import pytest

from credit.models import ChangeFeedEntry, ChangeFeedItem, Record, RecordVersion
from credit.publicity import add_duration
from credit.selectors import change_feed_page
from credit.services import RepairRefused, publicity_transitions_apply, record_repair
from tests.credit.factories import ingest, penalty

pytestmark = pytest.mark.django_db

TODAY = dt.date.today()


def _iso(day: dt.date) -> str:
    return day.isoformat()


def test_penalty_publicity_rules(sthj):
    recent = TODAY - dt.timedelta(days=30)
    rows = [
        penalty("P-general", 1, decided_on=_iso(recent)),
        penalty("P-serious", 1, decided_on=_iso(recent), severity="serious"),
        penalty("P-expired", 1, decided_on=_iso(TODAY - dt.timedelta(days=400))),
        penalty("P-simple", 1, decided_on=_iso(recent), procedure="simple"),
        penalty("P-shared", 1, decided_on=_iso(recent), usage_scope="shared"),
        penalty("P-until", 1, decided_on=_iso(recent), publicity_until=_iso(TODAY + dt.timedelta(days=10))),
    ]
    batch = ingest(sthj, "admin_penalty", rows, "p1")
    assert batch.counts["created"] == 6
    got = {r.payload["decision_no"]: (r.is_public, r.publicity_reason, r.publicity_until)
           for r in Record.objects.filter(category="admin_penalty")}
    assert got == {
        "P-general": (True, "public", add_duration(recent, "P1Y")),
        "P-serious": (True, "public", add_duration(recent, "P3Y")),
        "P-expired": (False, "expired", add_duration(TODAY - dt.timedelta(days=400), "P1Y")),
        "P-simple": (False, "procedure_simple", add_duration(recent, "P1Y")),
        "P-shared": (False, "usage_scope_shared", add_duration(recent, "P1Y")),
        "P-until": (True, "public", TODAY + dt.timedelta(days=10)),
    }


def test_credit_repair_not_before_minimum_period(sthj):
    decided = TODAY - dt.timedelta(days=120)
    ingest(sthj, "admin_penalty", [penalty("P-g", 1, decided_on=_iso(decided)),
                                   penalty("P-s", 1, decided_on=_iso(decided), severity="serious")], "p1")
    general, serious = Record.objects.get(natural_key="P-G"), Record.objects.get(natural_key="P-S")  # keys upper-cased
    with pytest.raises(RepairRefused):
        record_repair(record_id=serious.id, repaired_on=TODAY)  # serious: 6 months
    with pytest.raises(RepairRefused):
        record_repair(record_id=general.id, repaired_on=add_duration(decided, "P3M") - dt.timedelta(days=1))
    assert not ChangeFeedItem.objects.filter(kind="publicity_ended").exists()
    repaired = record_repair(record_id=general.id, repaired_on=TODAY)
    assert (repaired.is_public, repaired.publicity_reason, repaired.repaired_at) == (False, "repaired", TODAY)
    assert list(ChangeFeedItem.objects.filter(kind="publicity_ended").values_list("record_id", flat=True)) == [
        general.id]


def test_date_driven_transitions_appear_in_the_feed(sthj, swj):
    decided = TODAY - dt.timedelta(days=20)
    ingest(sthj, "admin_penalty", [penalty("P-ending", 1, decided_on=_iso(decided),
                                           publicity_until=_iso(TODAY + dt.timedelta(days=1)))], "p1")
    red = penalty("x", 1)
    red = {k: red[k] for k in ("subject_name", "subject_type", "uscc")} | {
        "list_code": "TAX-A", "list_name": "A级纳税人", "listed_on": _iso(decided),
        "expires_on": _iso(TODAY + dt.timedelta(days=2)), "authority": "国家税务总局湖南省税务局"}
    assert ingest(swj, "red_list", [red], "red1").counts["created"] == 1
    assert publicity_transitions_apply(today=TODAY) == 0
    assert publicity_transitions_apply(today=TODAY + dt.timedelta(days=2)) == 2  # penalty: last day was +1
    assert publicity_transitions_apply(today=TODAY + dt.timedelta(days=2)) == 0  # idempotent
    ended = list(ChangeFeedItem.objects.filter(kind="publicity_ended").values_list("category", flat=True))
    assert sorted(ended) == ["admin_penalty", "red_list"]
    assert not Record.objects.filter(is_public=True).exists()


def test_change_feed_pages_by_cursor(sthj, swj):
    ingest(sthj, "admin_penalty", [penalty(f"P-{i}", 1) for i in range(5)], "p1")
    items, cursor = change_feed_page(categories=["admin_penalty"], cursor=None, limit=3)
    assert [i["natural_key"] for i in items] == ["P-0", "P-1", "P-2"]
    assert {i["kind"] for i in items} == {"created"} and items[0]["department"] == "HN-STHJ"
    more, cursor2 = change_feed_page(categories=["admin_penalty"], cursor=cursor, limit=3)
    assert [i["natural_key"] for i in more] == ["P-3", "P-4"]
    empty, cursor3 = change_feed_page(categories=["admin_penalty"], cursor=cursor2, limit=3)
    assert (empty, cursor3) == ([], cursor2)
    assert change_feed_page(categories=["red_list"], cursor=None, limit=3)[0] == []


def test_a_feed_page_interleaves_versions_and_a_publicity_entry_in_id_order(sthj):
    """Versions are the feed's entries for changes that make one; a repair's publicity_ended is a feed entry of
    its own; a page reads both in the one order of their ids."""
    decided = _iso(TODAY - dt.timedelta(days=120))
    first = ingest(sthj, "admin_penalty", [penalty("P-1", 1, decided_on=decided)], "p1")
    record = Record.objects.get(natural_key="P-1")
    record_repair(record_id=record.id, repaired_on=TODAY)
    second = ingest(sthj, "admin_penalty", [penalty("P-1", 1, decided_on=decided, content="更正")], "p2")
    v1, v2 = RecordVersion.objects.filter(record=record).order_by("version")
    ended = ChangeFeedEntry.objects.get(kind="publicity_ended")
    assert v1.feed_id < ended.id < v2.feed_id
    items, cursor = change_feed_page(categories=["admin_penalty"], cursor=None, limit=10)
    assert [(i["id"], i["kind"], i["version"], i["batch"]) for i in items] == [
        (v1.feed_id, "created", 1, first.id), (ended.id, "publicity_ended", 1, None),
        (v2.feed_id, "updated", 2, second.id)]
    assert {(i["record"], i["natural_key"], i["department"], i["subject"]) for i in items} == {
        (record.id, "P-1", "HN-STHJ", record.subject.uscc)}
    assert [i["changed_at"] for i in items] == [v1.valid_from.isoformat(), ended.changed_at.isoformat(),
                                                v2.valid_from.isoformat()]
    assert cursor == str(v2.feed_id)
    # a cursor between them: the rest, in the same order
    assert [i["id"] for i in change_feed_page(categories=["admin_penalty"], cursor=str(v1.feed_id), limit=1)[0]] == [
        ended.id]

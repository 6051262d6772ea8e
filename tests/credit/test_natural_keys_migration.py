"""credit/migrations/0009 on a populated store: records keyed by the spelling their departments used are
brought to the normalised key, one department's collisions merged, two departments' flagged; run twice,
the second run changes nothing."""

from __future__ import annotations

import io
from importlib import import_module

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from credit.models import (
    ChangeFeedItem,
    ConflictingDuplicate,
    Objection,
    Record,
    RecordSender,
    RecordVersion,
)
from credit.selectors import change_feed_page
from exchange.models import BatchRejection
from tests.credit.conftest import _department
from tests.credit.factories import id_number, ingest, penalty, uscc

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("credit", "0008_subject_records_paged_by_id")
MIGRATION = ("credit", "0009_natural_keys_normalised")


@pytest.fixture(autouse=True)
def batches_in_process(monkeypatch):
    """Committed batches are processed here, never handed to a broker some other worker reads."""
    monkeypatch.setattr("ingest.handoff.batch_enqueue", lambda *, batch_id: None)


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


def _migrate_to_latest():
    """Back to today's schema: what follows (the code under test, later tests) needs every later migration."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def black_list(case_no: str, n: int, **extra) -> dict:
    return {"subject_name": f"湖南测试{n}有限公司", "subject_type": "legal_person", "uscc": uscc(n),
            "list_code": "COURT-SXBZXR", "list_name": "失信被执行人", "case_no": case_no, "reason": "拒不履行",
            "listed_on": "2026-01-05", "authority": "长沙市中级人民法院", **extra}


def _store_as_before(monkeypatch):
    """The store as the code before normalised keys left it: keys as spelt, hashes of the spelling."""
    with monkeypatch.context() as before:
        before.setattr("credit.staging.natural_key_normalise", lambda value: value)
        before.setattr("credit.staging._key_spelling_neutral", lambda payload, spelt, keyed: payload)
        sthj = _department("HN-STHJ", ["admin_penalty"])
        swj = _department("HN-SWJ", ["admin_penalty", "red_list", "black_list"])
        scjg = _department("HN-SCJG", ["admin_penalty"])
        ingest(sthj, "admin_penalty", [penalty("湘环罚〔2026〕41290024号", 1), penalty("P-1", 1)], "a")
        ingest(sthj, "admin_penalty", [penalty("湘环罚[2026]41290024号", 1, content="警告并责令改正")], "b")
        ingest(sthj, "admin_penalty", [penalty("湘环罚〔2026〕41290024号", 1, content="警告，已整改")], "a2")
        ingest(sthj, "admin_penalty", [penalty("湘环罚（2026）41290024 号", 1, content="罚款", penalty_types="罚款",
                                               fine_amount="1")], "c")
        ingest(sthj, "admin_penalty", [penalty("湘环罚〔2026〕7号", 2)], "d")
        ingest(swj, "admin_penalty", [penalty("湘环罚[2026]7号", 2, content="另一部门")], "e")
        ingest(swj, "admin_penalty", [penalty("湘环罚(2026)7号", 2, content="另一部门更正")], "f")
        ingest(swj, "black_list", [black_list("（2026）湘01执123号", 3), black_list("(2026)湘01执123号", 3)], "g")
        person = {"subject_name": "李四", "subject_type": "natural_person", "id_type": "resident_id",
                  "id_number": id_number(4), "list_code": "TAX-A", "list_name": "A级纳税人", "listed_on": "2026-01-05",
                  "authority": "税务局"}
        ingest(swj, "red_list", [person], "h")
    assert Record.objects.filter(category="admin_penalty").count() == 7
    loser = Record.objects.get(natural_key="湘环罚[2026]41290024号")
    Objection.objects.create(record=loser, raised_by="湖南测试1有限公司", reason="已整改")
    return sthj, swj, scjg


def _snapshot() -> dict:
    return {
        "records": sorted(Record.objects.values_list("id", "category", "natural_key", "department__code", "version",
                                                     "state", "content_hash", "payload__content")),
        "versions": sorted(RecordVersion.objects.values_list("record_id", "version", "batch__batch_id", "row",
                                                             "valid_from", "valid_to")),
        "sources": sorted(RecordSender.objects.values_list("record_id", "department__code", "first_batch__batch_id",
                                                           "last_batch__batch_id", "last_row")),
        "feed": list(ChangeFeedItem.objects.order_by("id").values_list("kind", "record_id", "version",
                                                                         "merged_from")),
        "objections": list(Objection.objects.values_list("record_id", flat=True)),
        "flagged": list(ConflictingDuplicate.objects.values_list("category", "natural_key", "record_id", "kept_id")),
    }


def test_the_migration_merges_one_departments_spellings_and_flags_two_departments(monkeypatch):
    sthj, swj, scjg = _store_as_before(monkeypatch)
    spelt = dict(Record.objects.values_list("natural_key", "id"))
    first, second, fourth = (spelt["湘环罚〔2026〕41290024号"], spelt["湘环罚[2026]41290024号"],
                             spelt["湘环罚（2026）41290024 号"])
    kept, other, other_later = spelt["湘环罚〔2026〕7号"], spelt["湘环罚[2026]7号"], spelt["湘环罚(2026)7号"]
    person_key = Record.objects.get(category="red_list").natural_key
    try:
        _migrate(BEFORE)
        _migrate(MIGRATION)
    finally:
        _migrate_to_latest()

    # one department's three records are one: the earliest, its history in arrival order
    merged = Record.objects.get(category="admin_penalty", natural_key="湘环罚(2026)41290024号")
    assert merged.id == first
    assert (merged.version, merged.state, merged.payload["decision_no"], merged.payload["content"]) == (
        4, "active", "湘环罚（2026）41290024 号", "罚款")
    history = list(RecordVersion.objects.filter(record=merged).order_by("version")
                   .values_list("version", "batch__batch_id", "payload__content", "valid_from", "valid_to"))
    assert [h[:3] for h in history] == [(1, "a", "警告"), (2, "b", "警告并责令改正"), (3, "a2", "警告，已整改"),
                                        (4, "c", "罚款")]
    assert [h[4] for h in history] == [h[3] for h in history[1:]] + [None]
    assert not Record.objects.filter(id__in=[second, fourth]).exists()
    assert list(RecordSender.objects.filter(record=merged).values_list(
        "department__code", "first_batch__batch_id", "last_batch__batch_id")) == [("HN-STHJ", "a", "c")]
    assert list(Objection.objects.values_list("record_id", flat=True)) == [first]
    assert list(ChangeFeedItem.objects.filter(record=merged).order_by("id").values_list(
        "kind", "version", "merged_from")) == [("created", 1, None), ("created", 2, None), ("updated", 3, None),
                                               ("created", 4, None), ("merged", 4, second), ("merged", 4, fourth)]

    # two departments' records are not merged: the later one is keyed apart and flagged
    assert sorted(Record.objects.filter(id__in=[kept, other, other_later])
                  .values_list("id", "natural_key", "department__code")) == [
        (kept, "湘环罚(2026)7号", "HN-STHJ"), (other, f"湘环罚(2026)7号 #{other}", "HN-SWJ")]
    assert Record.objects.get(id=other).payload["content"] == "另一部门更正"
    assert list(ConflictingDuplicate.objects.values_list("category", "natural_key", "record_id", "kept_id")) == [
        ("admin_penalty", "湘环罚(2026)7号", other, kept)]

    black = Record.objects.get(category="black_list")
    assert (black.natural_key, black.version) == ("COURT-SXBZXR|(2026)湘01执123号", 2)
    assert Record.objects.get(category="red_list").natural_key == person_key  # the subject part is left alone
    assert Record.objects.filter(natural_key="P-1").exists()

    # departments learn from the feed which ids were merged into which; operators see the flagged pair
    feed, _ = change_feed_page(categories=["admin_penalty"], cursor=None, limit=1000, department_id=sthj.id)
    assert [(i["record"], i["merged_from"]) for i in feed if i["kind"] == "merged"] == [
        (first, second), (first, fourth), (other, other_later)]
    assert all("merged_from" not in i for i in feed if i["kind"] != "merged")
    out = io.StringIO()
    call_command("conflicting_duplicates", stdout=out)
    assert out.getvalue().splitlines() == [
        f"admin_penalty 湘环罚(2026)7号: 记录 {kept}（HN-STHJ）与记录 {other}（HN-SWJ，键为“湘环罚(2026)7号 #{other}”）"
        "自然键相同，未合并", "1 conflicting_duplicate"]

    # a second run changes nothing
    before = _snapshot()
    with connection.schema_editor() as editor:
        import_module("credit.migrations.0009_natural_keys_normalised").normalise_keys(None, editor)
    assert _snapshot() == before

    # the hashes were taken again: the same content in yet another spelling is unchanged
    again = ingest(sthj, "admin_penalty", [penalty("湘环罚【2026】41290024号", 1, content="罚款", penalty_types="罚款",
                                                   fine_amount="1")], "i")
    assert (again.counts["unchanged"], again.counts["updated"]) == (1, 0)
    # each owner's row reaches its own record; a third department's is refused naming the owner
    ours = ingest(swj, "admin_penalty", [penalty("湘环罚〔2026〕7号", 2, content="本部门再更正")], "j")
    theirs = ingest(sthj, "admin_penalty", [penalty("湘环罚〔2026〕7号", 2, content="生态环境更正")], "k")
    third = ingest(scjg, "admin_penalty", [penalty("湘环罚〔2026〕7号", 2, content="他人")], "l")
    assert (ours.counts["updated"], theirs.counts["updated"], third.counts["rejected"]) == (1, 1, 1)
    assert Record.objects.get(id=other).payload["content"] == "本部门再更正"
    assert Record.objects.get(id=kept).payload["content"] == "生态环境更正"
    rejection = BatchRejection.objects.get(batch=third)
    assert rejection.code == "record_owned_by_other_department" and "HN-STHJ" in rejection.message

"""Natural keys compare after normalisation (catalog.md, "Field rules common to all"): the spellings
departments really use for one decision, case or list entry make one record, in one batch or many."""

from __future__ import annotations

import pytest

from credit.models import ChangeFeedItem, Record, RecordVersion
from exchange.models import BatchRejection
from tests.credit.factories import authority_uscc, ingest, penalty, uscc

pytestmark = pytest.mark.django_db

ZERO = {"rows": 0, "accepted": 0, "rejected": 0, "created": 0, "updated": 0, "unchanged": 0, "withdrawn": 0,
        "pending_subject": 0}
SPELLINGS = ["湘环罚〔2026〕41290024号", "湘环罚[2026]41290024号", "湘环罚（2026）41290024号",
             "湘环罚(2026)41290024号", " 湘环罚〔2026〕41290024 号"]
KEY = "湘环罚(2026)41290024号"


def counts(**kw):
    return ZERO | kw


def black_list(case_no: str, n: int, **extra) -> dict:
    return {"subject_name": f"湖南测试{n}有限公司", "subject_type": "legal_person", "uscc": uscc(n),
            "list_code": "COURT-SXBZXR", "list_name": "失信被执行人", "case_no": case_no, "reason": "拒不履行",
            "listed_on": "2026-01-05", "authority": "长沙市中级人民法院", **extra}


def red_list(list_code: str, n: int, **extra) -> dict:
    return {"subject_name": f"湖南测试{n}有限公司", "subject_type": "legal_person", "uscc": uscc(n),
            "list_code": list_code, "list_name": "A级纳税人", "listed_on": "2026-01-05",
            "authority": "国家税务总局湖南省税务局", **extra}


def test_five_spellings_in_five_batches_make_one_record_with_its_history(sthj):
    outcomes = [ingest(sthj, "admin_penalty", [penalty(no, 1)], f"b{i}").counts
                for i, no in enumerate(SPELLINGS[:2])]
    # the third spelling corrects the content: a new version, shown with the spelling it came with
    outcomes.append(ingest(sthj, "admin_penalty", [penalty(SPELLINGS[2], 1, content="警告并责令改正")], "b2").counts)
    outcomes += [ingest(sthj, "admin_penalty", [penalty(no, 1, content="警告并责令改正")], f"b{i}").counts
                 for i, no in enumerate(SPELLINGS[3:], start=3)]

    assert outcomes == [counts(rows=1, accepted=1, created=1), counts(rows=1, accepted=1, unchanged=1),
                        counts(rows=1, accepted=1, updated=1), counts(rows=1, accepted=1, unchanged=1),
                        counts(rows=1, accepted=1, unchanged=1)]
    record = Record.objects.get()
    assert (record.natural_key, record.version, record.payload["decision_no"]) == (KEY, 2, SPELLINGS[2])
    history = list(RecordVersion.objects.filter(record=record).order_by("version")
                   .values_list("version", "payload__decision_no", "payload__content", "valid_to"))
    assert [h[:3] for h in history] == [(1, SPELLINGS[0], "警告"), (2, SPELLINGS[2], "警告并责令改正")]
    assert history[0][3] is not None and history[1][3] is None
    assert list(ChangeFeedItem.objects.values_list("kind", "record_id")) == [("created", record.id),
                                                                              ("updated", record.id)]


def test_five_spellings_in_one_batch_identical_content_is_one_record(sthj):
    batch = ingest(sthj, "admin_penalty", [penalty(no, 1) for no in SPELLINGS], "one")
    assert batch.counts == counts(rows=5, accepted=5, created=1, unchanged=4)
    assert list(Record.objects.values_list("natural_key", "payload__decision_no")) == [(KEY, SPELLINGS[0])]


def test_spellings_in_one_batch_with_different_content_are_rejected_as_before(sthj):
    batch = ingest(sthj, "admin_penalty", [penalty(SPELLINGS[0], 1), penalty(SPELLINGS[1], 1, content="另一内容"),
                                           penalty("湘环罚〔2026〕1号", 1)], "one")
    assert batch.counts == counts(rows=3, accepted=1, rejected=2, created=1)
    assert list(BatchRejection.objects.filter(batch=batch).order_by("row").values_list("row", "code")) == [
        (1, "conflicting_duplicate"), (2, "conflicting_duplicate")]


def test_a_withdrawal_finds_its_record_by_another_spelling(sthj):
    ingest(sthj, "admin_penalty", [penalty(SPELLINGS[0], 1)], "b1")
    batch = ingest(sthj, "admin_penalty", [{"op": "withdraw", "decision_no": "湘环罚【2026】41290024号"}], "b2")
    assert batch.counts == counts(rows=1, accepted=1, withdrawn=1)
    assert Record.objects.get().state == "withdrawn"


def test_court_case_numbers_and_list_codes(swj):
    assert ingest(swj, "black_list", [black_list("（2026）湘01执123号", 1)], "k1").counts == counts(
        rows=1, accepted=1, created=1)
    assert ingest(swj, "black_list", [black_list("(2026)湘01执123号", 1)], "k2").counts == counts(
        rows=1, accepted=1, unchanged=1)
    assert ingest(swj, "black_list", [black_list("〔2026〕湘01执 123号", 1, reason="仍未履行")], "k3").counts == counts(
        rows=1, accepted=1, updated=1)
    assert list(Record.objects.values_list("natural_key", "version", "payload__case_no")) == [
        ("COURT-SXBZXR|(2026)湘01执123号", 2, "〔2026〕湘01执 123号")]

    assert ingest(swj, "red_list", [red_list("TAX-A", 2)], "l1").counts == counts(rows=1, accepted=1, created=1)
    assert ingest(swj, "red_list", [red_list("ｔａｘ－ａ", 2), red_list(" tax-a", 2)], "l2").counts == counts(
        rows=2, accepted=2, unchanged=2)
    assert Record.objects.filter(category="red_list").get().natural_key == f"TAX-A|{uscc(2)}|2026-01-05"


def test_another_departments_spelling_of_a_record_is_still_its_owners(sthj, swj):
    ingest(sthj, "admin_penalty", [penalty(SPELLINGS[0], 1)], "own")
    batch = ingest(swj, "admin_penalty", [penalty(SPELLINGS[1], 1, authority_uscc=authority_uscc())], "other")
    assert batch.counts == counts(rows=1, rejected=1)
    assert BatchRejection.objects.get(batch=batch).code == "record_owned_by_other_department"
    assert Record.objects.get().department == sthj

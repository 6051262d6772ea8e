"""scorecards.md's figures on the hand-built February 2026 (tests/ops/conftest.py), worked out by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ops.scorecards.figures import scorecards_compute

pytestmark = pytest.mark.django_db


def by_code(cards):
    return {card["department"]: card for card in cards}


def test_batches_rows_and_rejections(february):
    scjg = by_code(scorecards_compute(month=february.month))["HN-SCJG"]
    # registrations (1 Feb 00:10), Friday, after the holiday, the broken one; not 31 Jan 23:50 nor 1 Mar 00:30
    assert (scjg["batches"], scjg["batches_failed"]) == (4, 1)
    assert (scjg["rows"], scjg["accepted"], scjg["rejected"]) == (8, 7, 1)
    assert scjg["acceptance_rate"] == Decimal("0.8750")
    assert scjg["top_rejection_codes"] == [{"code": "required", "count": 1}]


def test_timeliness_in_working_days_across_the_spring_festival(february):
    cards = by_code(scorecards_compute(month=february.month))
    scjg, swj = cards["HN-SCJG"], cards["HN-SWJ"]
    # P1 0, P2 9, P3 3, P4 4 (the unchanged P1 and the registrations are not timeliness rows)
    assert (scjg["timeliness_rows"], scjg["timely_rows"]) == (4, 3)
    assert scjg["timeliness_rate"] == Decimal("0.7500")
    assert scjg["median_delay_working_days"] == Decimal("3.5")
    # 5 (Sat 14 Feb worked) and 11 (both worked Saturdays, none of 15–23 Feb)
    assert (swj["timeliness_rows"], swj["timely_rows"], swj["median_delay_working_days"]) == (2, 1, Decimal("8.0"))


def test_objections_and_repairs_as_of_the_months_end(february):
    scjg = by_code(scorecards_compute(month=february.month))["HN-SCJG"]
    assert (scjg["objections_received"], scjg["objections_on_time"], scjg["objections_late"]) == (5, 1, 3)
    assert (scjg["repairs_received"], scjg["repairs_decided"]) == (2, 1)


def test_score_and_rank(february):
    cards = scorecards_compute(month=february.month)
    # SCJG 100 × (0.4 × 0.75 + 0.4 × 0.875 + 0.2 × 1/4) = 70.0; SWJ 100 × (0.4 × 0.5 + 0.4 + 0.2) = 80.0;
    # STHJ and GTZY sent nothing: every term without a denominator counts as 1 (100.0, sharing rank 1)
    assert [(c["department"], c["score"], c["rank"]) for c in cards] == [
        ("HN-GTZY", Decimal("100.0"), 1), ("HN-STHJ", Decimal("100.0"), 1),
        ("HN-SWJ", Decimal("80.0"), 3), ("HN-SCJG", Decimal("70.0"), 4)]
    empty = by_code(cards)["HN-STHJ"]
    assert (empty["acceptance_rate"], empty["timeliness_rate"], empty["median_delay_working_days"]) == (None, None, None)
    # HN-LATE was made in March: not in February's ranking
    assert "HN-LATE" not in by_code(cards)


def test_months_one_after_another_in_one_transaction(february):
    from django.db import transaction

    with transaction.atomic():
        empty = scorecards_compute(month=february.month.replace(month=4))  # HN-LATE too by then
        again = scorecards_compute(month=february.month)
    assert [card["rows"] for card in empty] == [0, 0, 0, 0, 0]
    assert by_code(again)["HN-SCJG"]["rows"] == 8

"""What `subjects/{code}` gives a department: never a lookup by ID number, never
registration details to a department that may not read registrations."""

from __future__ import annotations

import pytest

from credit.selectors import subject_unified_record
from tests.credit.factories import id_number, ingest, penalty, registration

pytestmark = pytest.mark.django_db


@pytest.fixture
def store():
    from exchange.services.departments import department_register

    scjg = department_register(code="HN-SCJG", name="市场监管", write=["registration", "admin_penalty"],
                               read=["registration", "admin_penalty"]).obj
    ingest(scjg, "registration", [registration(1, business_scope="内部经营范围")], "reg")
    person = penalty("湘罚〔2026〕9号", None, subject_name="李四", subject_type="natural_person",
                     id_type="resident_id", id_number=id_number(3))
    ingest(scjg, "admin_penalty", [penalty("湘罚〔2026〕1号", 1), person], "pen")


def test_an_id_number_is_not_a_lookup_key(store):
    assert subject_unified_record(code=id_number(3), categories=["admin_penalty", "registration"]) is None


def test_registration_details_only_for_readers_of_registrations(store):
    from tests.credit.factories import uscc

    full = subject_unified_record(code=uscc(1), categories=["registration", "admin_penalty"])
    assert full["subject"]["registration"]["business_scope"] == "内部经营范围"
    limited = subject_unified_record(code=uscc(1), categories=["admin_penalty"])
    assert "registration" not in limited["subject"] and "address" not in limited["subject"]
    assert [r["natural_key"] for r in limited["records"]["admin_penalty"]] == ["湘罚(2026)1号"]  # normalised


def test_a_subject_with_nothing_readable_is_not_found(store):
    from tests.credit.factories import uscc

    assert subject_unified_record(code=uscc(1), categories=["black_list"]) is None

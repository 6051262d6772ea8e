"""Whether a record is public today is decided once (credit.publicity, stored with the record by the merge,
credit repair and the publicity transitions); the public projection and what the platform reports of a record
(credit.selectors.publicity_of: the department API, the portal) agree on every category and reason."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.credit.factories import authority_uscc, uscc
from tests.public.conftest import PUBLIC_DB, _batches_in_process
from tests.public.seed import ingest

pytestmark = pytest.mark.django_db(databases=PUBLIC_DB)

TODAY = dt.date.today()
A, B = uscc(2001), uscc(2002)
SUBJECT = {"subject_name": "湖南公示规则测试有限公司", "subject_type": "legal_person", "uscc": A}


def _day(days: int) -> str:
    return (TODAY + dt.timedelta(days=days)).isoformat()


def _registration(code: str, name: str) -> dict:
    return {"uscc": code, "name": name, "subject_type": "legal_person", "legal_representative": "王五",
            "established_on": "2015-03-01", "status": "active", "registration_authority": "长沙市市场监督管理局"}


def _license(no: str, **extra) -> dict:
    return {**SUBJECT, "decision_no": no, "license_category": "普通", "content": "食品经营许可", "decided_on": _day(-400),
            "valid_from": _day(-400), "authority": "长沙市市场监督管理局", "authority_uscc": authority_uscc(),
            "state": "valid", **extra}


def _penalty(no: str, days: int, **extra) -> dict:
    return {**SUBJECT, "decision_no": no, "violation_type": "虚假宣传", "violation_facts": "违法事实",
            "legal_basis": "《广告法》第五十五条", "penalty_types": "罚款", "fine_amount": "2", "content": "罚款两万元",
            "decided_on": _day(days), "authority": "长沙市市场监督管理局", "authority_uscc": authority_uscc(), **extra}


def _listed(category: str, code: str, days: int, **extra) -> dict:
    row = {**SUBJECT, "list_code": code, "list_name": "名单", "listed_on": _day(days), "authority": "长沙市中级人民法院",
           **extra}
    if category == "black_list":
        row.update(case_no=f"(2025)湘01执{code}号", reason="有履行能力而拒不履行")
    return row


# (category, the value that names the record, the reason it is (not) public today)
CASES = [
    ("registration", A, "public"), ("registration", B, "withdrawn"),
    ("admin_license", "许-public", "public"), ("admin_license", "许-withdrawn", "withdrawn"),
    ("admin_license", "许-shared", "usage_scope_shared"),
    ("admin_penalty", "罚-public", "public"), ("admin_penalty", "罚-withdrawn", "withdrawn"),
    ("admin_penalty", "罚-shared", "usage_scope_shared"), ("admin_penalty", "罚-simple", "procedure_simple"),
    ("admin_penalty", "罚-expired", "expired"), ("admin_penalty", "罚-repaired", "repaired"),
    ("red_list", "RED-PUBLIC", "public"), ("red_list", "RED-WITHDRAWN", "withdrawn"),
    ("red_list", "RED-SHARED", "usage_scope_shared"), ("red_list", "RED-EXPIRED", "expired"),
    ("black_list", "BLACK-PUBLIC", "public"), ("black_list", "BLACK-WITHDRAWN", "withdrawn"),
    ("black_list", "BLACK-SHARED", "usage_scope_shared"), ("black_list", "BLACK-EXPIRED", "expired"),
]


def _seed():
    from credit.models import Record
    from credit.services import record_repair
    from exchange.services.departments import department_register

    categories = ["registration", "admin_license", "admin_penalty", "red_list", "black_list"]
    dept = department_register(code="HN-GSGZ", name="公示规则测试部门", write=categories, read=categories).obj
    ingest(dept, "registration", [_registration(A, SUBJECT["subject_name"]), _registration(B, "湖南撤回登记有限公司")],
           "cases-reg")
    ingest(dept, "registration", [{"op": "withdraw", **_registration(B, "湖南撤回登记有限公司")}], "cases-reg-w")
    ingest(dept, "admin_license", [_license("许-public"), _license("许-withdrawn"),
                                   _license("许-shared", usage_scope="shared")], "cases-lic")
    ingest(dept, "admin_license", [{"op": "withdraw", **_license("许-withdrawn")}], "cases-lic-w")
    ingest(dept, "admin_penalty", [
        _penalty("罚-public", -30), _penalty("罚-withdrawn", -30), _penalty("罚-shared", -30, usage_scope="shared"),
        _penalty("罚-simple", -30, procedure="simple"), _penalty("罚-expired", -400), _penalty("罚-repaired", -120),
    ], "cases-pen")
    ingest(dept, "admin_penalty", [{"op": "withdraw", **_penalty("罚-withdrawn", -30)}], "cases-pen-w")
    record_repair(record_id=Record.objects.get(payload__decision_no="罚-repaired").id)
    for category, prefix in (("red_list", "RED"), ("black_list", "BLACK")):
        end = "expires_on" if category == "red_list" else "removed_on"
        ingest(dept, category, [_listed(category, f"{prefix}-PUBLIC", -5), _listed(category, f"{prefix}-WITHDRAWN", -5),
                                _listed(category, f"{prefix}-SHARED", -5, usage_scope="shared"),
                                _listed(category, f"{prefix}-EXPIRED", -50, **{end: _day(-10)})], f"cases-{prefix}")
        ingest(dept, category, [{"op": "withdraw", **_listed(category, f"{prefix}-WITHDRAWN", -5)}], f"cases-{prefix}-w")


@pytest.fixture(scope="module")
def cases(django_db_setup, django_db_blocker, tmp_path_factory):
    """Committed (the public connection sees only committed rows); the database left empty but for the catalog."""
    from django.core.management import call_command

    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)
        call_command("load_catalog", verbosity=0)
        with _batches_in_process(tmp_path_factory.mktemp("cases")):
            _seed()
    yield
    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)
        call_command("load_catalog", verbosity=0)


def _record(category: str, name: str):
    from credit.models import Record

    records = Record.objects.filter(category=category)
    if category == "registration":
        return records.get(payload__uscc=name)
    return records.get(payload__list_code=name) if category.endswith("_list") else records.get(payload__decision_no=name)


def _in_projection(record_id: int) -> bool:
    from django.db import connections

    with connections["default"].cursor() as cursor:  # the platform's view of the projection the role reads
        cursor.execute("SELECT count(*) FROM public_projection.records WHERE id = %s", [record_id])
        return cursor.fetchone()[0] == 1


@pytest.mark.parametrize(("category", "name", "reason"), CASES, ids=[f"{c}-{r}" for c, _, r in CASES])
def test_the_projection_and_the_record_s_publicity_agree(cases, category, name, reason):
    from credit.selectors import publicity_of

    record = _record(category, name)
    publicity = publicity_of(record)
    assert (publicity["public"], publicity["reason"]) == (reason == "public", reason)
    assert _in_projection(record.id) is publicity["public"]


def test_they_agree_after_the_publicity_transitions_too(cases, django_db_blocker):
    from credit.selectors import publicity_of
    from credit.services import publicity_transitions_apply

    later = TODAY + dt.timedelta(days=2 * 365)  # the general penalty's year is over: its publicity ends
    with django_db_blocker.unblock():
        assert publicity_transitions_apply(today=later) == 1
        try:
            for category, name, _ in CASES:
                record = _record(category, name)
                assert _in_projection(record.id) is publicity_of(record)["public"], (category, name)
            assert publicity_of(_record("admin_penalty", "罚-public"))["reason"] == "expired"
        finally:
            publicity_transitions_apply(today=TODAY)

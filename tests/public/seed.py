"""A small credit store for the public lookup tests, ingested through the store's own services."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tests.credit.factories import authority_uscc, uscc
from tests.credit.factories import ingest as store_ingest

SCRIPT = '<script>window.__pwned = 1</script>'


def id_number(birth: str, serial: str) -> str:
    first17 = "430102" + birth + serial
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))  # GB 11643
    return first17 + "10X98765432"[total % 11]


def _day(days_ago: int) -> str:
    return (dt.date.today() - dt.timedelta(days=days_ago)).isoformat()


def ingest(department, category: str, rows: list[dict], batch_id: str):
    batch = store_ingest(department, category, rows, batch_id)
    assert batch.status == "completed" and batch.rejected == 0, (
        batch.status, batch.failure_reason, list(batch.rejections.values_list("field", "message")))
    return batch


def _penalty(no: str, subject: dict, *, days_ago: int, **extra) -> dict:
    row = {**subject, "decision_no": no, "violation_type": "虚假宣传", "violation_facts": f"违法事实{no}",
           "legal_basis": "《广告法》第五十五条", "penalty_types": "罚款", "fine_amount": "2", "content": "罚款两万元",
           "decided_on": _day(days_ago), "authority": "长沙市市场监督管理局", "authority_uscc": authority_uscc()}
    row.update(extra)
    return row


@dataclass
class Store:
    tianyi_uscc: str  # 湖南天翼（长沙）科技有限公司: penalties, black list, licence, objection
    hongxing_uscc: str  # 长沙红星食品有限公司: red list only
    person_name: str
    person_id: str
    person_masked: str


def expected() -> Store:
    person_id = id_number("19800101", "123")
    return Store(tianyi_uscc=uscc(1001), hongxing_uscc=uscc(1002), person_name="赵六", person_id=person_id,
                 person_masked=person_id[:4] + "*" * 10 + person_id[-4:])


def is_seeded() -> bool:
    from credit.models import Objection, Subject

    return Subject.objects.filter(uscc=expected().tianyi_uscc).exists() and Objection.objects.exists()


def seed_store() -> Store:
    from credit.models import Objection, Record
    from exchange.services.departments import department_register

    all_categories = ["registration", "admin_license", "admin_penalty", "red_list", "black_list"]
    scjg = department_register(code="HN-SCJG", name="湖南省市场监督管理局", write=all_categories,
                               read=all_categories).obj
    court = department_register(code="HN-FY", name=f"长沙市中级人民法院{SCRIPT}",
                                write=["black_list", "red_list"], read=all_categories).obj

    tianyi, hongxing = uscc(1001), uscc(1002)
    ingest(scjg, "registration", [
        {"uscc": tianyi, "name": "湖南天翼（长沙）科技有限公司", "subject_type": "legal_person",
         "legal_representative": "王五", "established_on": "2015-03-01", "status": "active",
         "registration_authority": "长沙市市场监督管理局", "address": f"长沙市岳麓区{SCRIPT}",
         "former_names": "长沙天翼电子有限公司"},
        {"uscc": hongxing, "name": "长沙红星食品有限公司", "subject_type": "legal_person",
         "legal_representative": "李四", "established_on": "2010-01-01", "status": "revoked",
         "registration_authority": "长沙市市场监督管理局"},
    ], "reg-1")
    t = {"subject_name": "湖南天翼（长沙）科技有限公司", "subject_type": "legal_person", "uscc": tianyi}
    ingest(scjg, "admin_penalty", [
        _penalty("湘市监罚〔2025〕1号", t, days_ago=30),  # in publicity
        _penalty("湘市监罚〔2020〕9号", t, days_ago=3 * 365),  # general: one year, long over
        _penalty("湘市监罚〔2025〕2号", t, days_ago=20, procedure="simple"),  # never public
        _penalty("湘市监罚〔2025〕3号", t, days_ago=10, usage_scope="shared"),  # departments only
        _penalty("湘市监罚〔2025〕4号", t, days_ago=15),  # withdrawn below
    ], "pen-1")
    ingest(scjg, "admin_penalty", [{"op": "withdraw", "decision_no": "湘市监罚〔2025〕4号", **t}], "pen-2")
    ingest(scjg, "admin_license", [
        {**t, "decision_no": "湘许〔2024〕7号", "license_category": "普通", "content": "食品经营许可",
         "decided_on": _day(400), "valid_from": _day(400), "authority": "长沙市市场监督管理局",
         "authority_uscc": authority_uscc(), "state": "valid"},
    ], "lic-1")
    ingest(court, "black_list", [
        {**t, "list_code": "COURT-SXBZXR", "list_name": "失信被执行人", "case_no": "(2025)湘01执123号",
         "reason": f"有履行能力而拒不履行{SCRIPT}", "listed_on": _day(5), "authority": "长沙市中级人民法院"},
    ], "bl-1")
    h = {"subject_name": "长沙红星食品有限公司", "subject_type": "legal_person", "uscc": hongxing}
    ingest(court, "red_list", [
        {**h, "list_code": "TAX-A", "list_name": "A级纳税人", "listed_on": _day(100), "authority": "国家税务总局湖南省税务局"},
    ], "red-1")
    person_id = id_number("19800101", "123")
    person = {"subject_name": "赵六", "subject_type": "natural_person", "id_type": "resident_id",
              "id_number": person_id}
    ingest(scjg, "admin_penalty", [_penalty("湘市监罚〔2025〕5号", person, days_ago=3)], "pen-3")

    Objection.objects.create(record=Record.objects.get(payload__decision_no="湘市监罚〔2025〕1号"),
                             raised_by="湖南天翼（长沙）科技有限公司", reason="金额有误")
    return expected()

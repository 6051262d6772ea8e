"""Builders for store tests: valid codes, batch bodies, in-process ingestion."""

from __future__ import annotations

import io
import json

from stdnum.cn import ric

from validation.field_rules import org_code_check_char, uscc_check_char

AUTHORITY_USCC = "11430000006143210"  # + check char, computed below


def org_code(n: int) -> str:
    body = f"{n:08d}"
    return body + org_code_check_char(body)


def uscc(n: int, division: str = "430100") -> str:
    first17 = "91" + division + org_code(n)
    return first17 + uscc_check_char(first17)


def authority_uscc() -> str:
    first17 = "11430000" + org_code(6143210)
    return first17 + uscc_check_char(first17)


def id_number(n: int) -> str:
    first17 = f"430102{1980 + n % 20}0{1 + n % 9}1{n % 10}{n % 1000:03d}"
    return first17 + ric.calc_check_digit(first17 + "0")  # it ignores the last character


def registration(n: int, *, name: str | None = None, **extra) -> dict:
    row = {"uscc": uscc(n), "name": name or f"湖南测试{n}有限公司", "subject_type": "legal_person",
           "legal_representative": "张三", "established_on": "2015-03-01", "status": "active",
           "registration_authority": "长沙市市场监督管理局", "registration_no": f"430100{n:09d}"}
    row.update(extra)
    return row


def penalty(no: str, n: int | None = None, *, decided_on: str = "2025-06-01", **extra) -> dict:
    row = {"subject_name": f"湖南测试{n}有限公司", "subject_type": "legal_person", "decision_no": no,
           "violation_type": "虚假宣传", "violation_facts": "发布虚假广告", "legal_basis": "《广告法》第五十五条",
           "penalty_types": "警告", "content": "警告", "decided_on": decided_on, "authority": "长沙市市场监督管理局",
           "authority_uscc": authority_uscc()}
    if n is not None:
        row["uscc"] = uscc(n)
    row.update(extra)
    return {k: v for k, v in row.items() if v is not None}


def licence(no: str, n: int | None = None, *, decided_on: str = "2025-06-01", **extra) -> dict:
    """An admin_license row (行政许可) of subject n, keyed by its decision number."""
    row = {"subject_name": f"湖南测试{n}有限公司", "subject_type": "legal_person", "decision_no": no,
           "license_category": "普通", "content": "食品经营许可", "decided_on": decided_on, "valid_from": decided_on,
           "authority": "长沙市市场监督管理局", "authority_uscc": authority_uscc(), "state": "valid"}
    if n is not None:
        row["uscc"] = uscc(n)
    row.update(extra)
    return row


def ndjson(rows: list[dict]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows)


def ingest(department, category: str, rows: list[dict], batch_id: str):
    """batch_receive + the pipeline run in-process (the services the worker task calls)."""
    from exchange.services.batches import batch_receive
    from ingest.pipeline import batch_process

    batch, _ = batch_receive(department=department, category=category, batch_id=batch_id,
                             content_type="application/x-ndjson", body=io.BytesIO(ndjson(rows)))
    batch_process(batch_id=batch.pk)
    batch.refresh_from_db()
    return batch

import datetime as dt
import io

from validation.batch import validate_batch
from validation.catalog import file_catalog
from validation.field_rules import org_code_check_char, uscc_check_char

TODAY = dt.date(2025, 6, 30)


def make_uscc(prefix: str = "91430100", body: str = "MA4L1234") -> str:
    org = body + org_code_check_char(body)
    return prefix + org + uscc_check_char(prefix + org)


def make_ric(first17: str = "43010219900307123") -> str:
    from stdnum.cn import ric

    return first17 + ric.calc_check_digit(first17 + "0")


AUTHORITY_USCC = make_uscc("11430100", "00000001")
PENALTY_HEADER = [
    "subject_name",
    "subject_type",
    "uscc",
    "decision_no",
    "violation_type",
    "violation_facts",
    "legal_basis",
    "penalty_types",
    "content",
    "fine_amount",
    "decided_on",
    "authority",
    "authority_uscc",
]


def penalty_row(**over) -> dict:
    row = {
        "subject_name": "长沙某某贸易有限公司",
        "subject_type": "legal_person",
        "uscc": make_uscc(),
        "decision_no": "长市监罚〔2024〕1号",
        "violation_type": "虚假广告",
        "violation_facts": "发布虚假广告",
        "legal_basis": "《广告法》第五十五条",
        "penalty_types": "罚款;警告",
        "content": "罚款一万元",
        "fine_amount": "1",
        "decided_on": "2024-03-05",
        "authority": "长沙市市场监督管理局",
        "authority_uscc": AUTHORITY_USCC,
    }
    row.update(over)
    return row


def csv_bytes(rows: list[dict], header: list[str] | None = None, encoding: str = "utf-8") -> bytes:
    import csv

    header = header or list(rows[0].keys())
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([r.get(h, "") for h in header])
    return buf.getvalue().encode(encoding)


def run(data: bytes, category: str = "admin_penalty", content_type: str = "text/csv", **kw):
    kw.setdefault("today", TODAY)
    return list(
        validate_batch(io.BytesIO(data), category=category, content_type=content_type, catalog=CATALOG, **kw)
    )


def one(data: bytes, **kw):
    """(rows, rejections) of a small batch."""
    chunks = run(data, **kw)
    return [r for c in chunks for r in c.rows], [j for c in chunks for j in c.rejections]


CATALOG = file_catalog()

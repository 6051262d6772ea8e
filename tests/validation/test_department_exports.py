"""Files as departments export them (catalog.md v1.1): the 双公示 standard's column headings in both editions,
both bracket widths, pinyin codes, extra columns, and Excel workbooks give the very records the same rows give
as NDJSON with the catalog's field names. The heading lists are those cited in the catalog file."""

from __future__ import annotations

import datetime as dt
import io
import json

import openpyxl
import pytest

from tests.credit.factories import id_number, org_code, registration, uscc
from tests.validation.vhelpers import AUTHORITY_USCC, CATALOG, run
from validation.batch import BatchParseError, batch_ignored_columns

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
LEGAL_REP_ID = "430102197001011236"  # 法定代表人证件号码: a column no field claims, never read

LEGAL_PERSON = {
    "subject_name": "长沙某某贸易有限公司", "subject_type": "法人及非法人组织", "uscc": uscc(1234567),
    "registration_no": "430100000012345", "org_code": org_code(1234567), "legal_representative": "王五",
    "decision_no": "长市监罚〔2024〕1号", "violation_type": "虚假宣传", "violation_facts": "发布虚假广告",
    "legal_basis": "《广告法》第五十五条", "penalty_types": "罚款;警告", "content": "罚款一万元",
    "fine_amount": "1.5", "confiscated_amount": "0.2", "license_affected": "", "decided_on": "2024-03-05",
    "publicity_until": "2025-03-05", "authority": "长沙市市场监督管理局", "authority_uscc": AUTHORITY_USCC,
    "remarks": "",
}
NATURAL_PERSON = LEGAL_PERSON | {
    "subject_name": "李四", "subject_type": "自然人", "uscc": "", "registration_no": "", "org_code": "",
    "legal_representative": "", "id_type": "身份证", "id_number": id_number(7), "decision_no": "长市监罚〔2024〕2号",
    "penalty_types": "警告", "fine_amount": "", "confiscated_amount": "",
}
ROWS = [LEGAL_PERSON, NATURAL_PERSON]

# The newer edition's headings, in its order, with the columns no field claims ([A] and [C] in the catalog file).
NEWER = [
    ("行政相对人名称", "subject_name"), ("行政相对人类别", "subject_type"),
    ("行政相对人代码_1（统一社会信用代码）", "uscc"), ("行政相对人代码_2（工商注册号）", "registration_no"),
    ("行政相对人代码_3（组织机构代码）", "org_code"), ("行政相对人代码_4（税务登记号）", None),
    ("行政相对人代码_5（事业单位证书号）", None), ("行政相对人代码_6（社会组织登记证号）", None),
    ("法定代表人", "legal_representative"), ("法定代表人证件类型", None), ("法定代表人证件号码", None),
    ("证件类型", "id_type"), ("证件号码", "id_number"), ("行政处罚决定书文号", "decision_no"),
    ("违法行为类型", "violation_type"), ("违法事实", "violation_facts"), ("处罚依据", "legal_basis"),
    ("处罚类别", "penalty_types"), ("处罚内容", "content"), ("罚款金额（万元）", "fine_amount"),
    ("没收违法所得、没收非法财物的金额（万元）", "confiscated_amount"),
    ("暂扣或吊销证照名称及编号", "license_affected"), ("处罚决定日期", "decided_on"), ("处罚有效期", None),
    ("公示截止期", "publicity_until"), ("处罚机关", "authority"), ("处罚机关统一社会信用代码", "authority_uscc"),
    ("数据来源单位", None), ("数据来源单位统一社会信用代码", None), ("备注", "remarks"), ("数据导出时间", None),
]
# The same, half-width brackets, spaces and trailing colons, as other systems write them ([D]'s scraper, [E]).
NEWER_HALF_WIDTH = [(h.replace("（", " (").replace("）", ")") + ("：" if i % 3 == 0 else ""), f)
                    for i, (h, f) in enumerate(NEWER)]
# The newer edition's pinyin column codes ([C]), some lower case.
PINYIN = [
    ("CF_XDR_MC", "subject_name"), ("CF_XDR_LB", "subject_type"), ("cf_xdr_shxym", "uscc"),
    ("CF_XDR_GSZC", "registration_no"), ("CF_XDR_ZZJG", "org_code"), ("CF_XDR_SWDJ", None), ("CF_XDR_SYDW", None),
    ("CF_FRDB", "legal_representative"), ("CF_FR_ZJLX", None), ("cf_fr_sfzh", None), ("CF_XDR_ZJLX", "id_type"),
    ("CF_XDR_ZJHM", "id_number"), ("CF_WSH", "decision_no"), ("CF_WFXW", "violation_type"),
    ("CF_SY", "violation_facts"), ("CF_YJ", "legal_basis"), ("CF_CFLB", "penalty_types"), ("CF_NR", "content"),
    ("CF_NR_FK", "fine_amount"), ("CF_NR_WFFF", "confiscated_amount"), ("CF_NR_ZKDX", "license_affected"),
    ("cf_jdrq", "decided_on"), ("CF_YXQ", None), ("CF_GSJZQ", "publicity_until"), ("CF_CFJG", "authority"),
    ("CF_CFJGDM", "authority_uscc"), ("CF_SJLY", None), ("CF_SJLYDM", None), ("BZ", "remarks"),
]
# The older edition ([D]): its own numbering of the codes, 处罚类别 split in two, 处罚事由 and 处罚结果; the
# catalog's required fields it has no column for (类别, 违法行为类型, 处罚机关代码, 证件类型) under their labels.
OLDER = [
    ("行政处罚决定书文号", "decision_no"), ("处罚名称", None), ("处罚类别1", "penalty_types/0"),
    ("处罚类别2", "penalty_types/1"), ("处罚事由", "violation_facts"), ("处罚依据", "legal_basis"),
    ("行政相对人名称", "subject_name"), ("行政相对人代码_1(统一社会信用代码)", "uscc"),
    ("行政相对人代码_2(组织机构代码)", "org_code"), ("行政相对人代码_3(工商登记码)", "registration_no"),
    ("行政相对人代码_4(税务登记号)", None), ("行政相对人代码_5(居民身份证号)", "id_number"),
    ("法定代表人姓名", "legal_representative"), ("处罚结果", "content"), ("处罚决定日期", "decided_on"),
    ("处罚机关", "authority"), ("当前状态", None), ("地方编码", None), ("数据更新时间戳", None), ("备注", "remarks"),
    ("行政相对人类别", "subject_type"), ("违法行为类型", "violation_type"),
    ("处罚机关统一社会信用代码", "authority_uscc"), ("证件类型", "id_type"), ("罚款金额（万元）", "fine_amount"),
]
EXTRA_VALUES = {"法定代表人证件号码": LEGAL_REP_ID, "cf_fr_sfzh": LEGAL_REP_ID, "数据导出时间": "2026-11-30 10:00"}


def cell(row: dict, field: str | None, heading: str) -> str:
    if field is None:
        return EXTRA_VALUES.get(heading.rstrip("：").strip(), "某值")
    name, _, part = field.partition("/")
    if part:
        parts = row[name].split(";")
        return parts[int(part)] if int(part) < len(parts) else ""
    return row.get(name, "")


def as_csv(columns: list[tuple[str, str | None]], rows: list[dict]) -> bytes:
    import csv

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([h for h, _ in columns])
    for row in rows:
        writer.writerow([cell(row, f, h) for h, f in columns])
    return out.getvalue().encode("utf-8-sig")


def as_ndjson(rows: list[dict]) -> bytes:
    return b"".join(json.dumps({k: v for k, v in r.items() if v}, ensure_ascii=False).encode() + b"\n"
                    for r in rows)


def records(data: bytes, content_type: str, category: str = "admin_penalty") -> list[tuple[int, dict]]:
    rows, rejections = [], []
    for chunk in run(data, category=category, content_type=content_type):
        rows += chunk.rows
        rejections += chunk.rejections
    assert rejections == []
    return [(r.row, r.values) for r in rows]


@pytest.mark.parametrize("columns", [NEWER, NEWER_HALF_WIDTH, PINYIN, OLDER],
                         ids=["newer edition", "half-width brackets", "pinyin codes", "older edition"])
def test_a_standard_export_gives_the_records_its_ndjson_gives(columns):
    carried = {f.partition("/")[0] for _, f in columns if f}  # the older edition has no column for some fields
    expected = records(as_ndjson([{k: v for k, v in r.items() if k in carried} for r in ROWS]), "application/x-ndjson")
    got = records(as_csv(columns, ROWS), CSV)
    assert got == expected
    assert len(got) == 2 and got[0][1]["penalty_types"] == ["罚款", "警告"]
    assert all(LEGAL_REP_ID not in json.dumps(values, ensure_ascii=False) for _, values in got)


def test_the_columns_no_field_claims_are_named():
    ignored = batch_ignored_columns(io.BytesIO(as_csv(NEWER, ROWS)), category="admin_penalty", content_type=CSV,
                                    catalog=CATALOG)
    assert ignored == [h for h, f in NEWER if f is None]
    assert "法定代表人证件号码" in ignored and "数据导出时间" in ignored


# -- Excel -----------------------------------------------------------------------------------------------

def xlsx(headings: list[str], rows: list[list], *, merge: str | None = None, formula_uncomputed: bool = False) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(headings)
    for row in rows:
        sheet.append(row)
    for column in range(1, len(headings) + 1):
        for r in range(2, len(rows) + 2):
            value = sheet.cell(row=r, column=column).value
            if isinstance(value, dt.date):
                sheet.cell(row=r, column=column).number_format = "yyyy/m/d"
    if merge:
        sheet.merge_cells(merge)
    if formula_uncomputed:
        sheet.cell(row=2, column=1).value = "=UPPER(\"x\")"  # openpyxl writes no computed value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_cells(category: str, row: dict) -> tuple[list[str], list]:
    fields = CATALOG.category(category).fields
    headings, cells = [], []
    for f in fields:
        value = row.get(f.name)
        if value in (None, ""):
            continue
        headings.append(f.template_heading)
        cells.append(dt.datetime.fromisoformat(value) if f.type == "date" else value)
    return headings, cells


LEADING_ZERO_USCC = uscc(123456)  # its organisation code part starts 00…
CATEGORY_ROWS = {
    "registration": registration(123456, registration_no="043010000012345", established_on="2015-03-01"),
    "admin_license": {
        "subject_name": "长沙某某贸易有限公司", "subject_type": "legal_person", "uscc": LEADING_ZERO_USCC,
        "org_code": org_code(123456), "decision_doc_name": "食品经营许可决定书", "decision_no": "长食许〔2024〕0012号",
        "license_category": "普通", "content": "食品经营", "decided_on": "2024-01-05", "valid_from": "2024-01-05",
        "valid_to": "2029-01-04", "authority": "长沙市市场监督管理局", "authority_uscc": AUTHORITY_USCC,
        "state": "valid"},
    "admin_penalty": LEGAL_PERSON | {"uscc": LEADING_ZERO_USCC, "org_code": org_code(123456),
                                     "registration_no": "043010000012345"},
    "red_list": {"subject_name": "长沙某某贸易有限公司", "subject_type": "legal_person", "uscc": LEADING_ZERO_USCC,
                 "list_code": "007-TAX-A", "list_name": "A级纳税人", "listed_on": "2024-04-01",
                 "expires_on": "2025-04-01", "authority": "国家税务总局湖南省税务局"},
    "black_list": {"subject_name": "李四", "subject_type": "natural_person", "id_type": "resident_id",
                   "id_number": id_number(9), "list_code": "0731-SXBZXR", "list_name": "失信被执行人",
                   "case_no": "（2024）湘0102执0001号", "reason": "有履行能力而拒不履行", "listed_on": "2024-05-06",
                   "authority": "长沙市芙蓉区人民法院"},
}


@pytest.mark.parametrize("category", sorted(CATEGORY_ROWS))
def test_an_excel_workbook_of_each_category_gives_the_records_its_ndjson_gives(category):
    row = CATEGORY_ROWS[category]
    headings, cells = _xlsx_cells(category, row)
    assert any(isinstance(c, dt.datetime) for c in cells)  # dates stored as Excel dates
    assert any(isinstance(c, str) and c[:1] == "0" for c in cells)  # a code with a leading zero, kept as text
    got = records(xlsx(headings, [cells]), XLSX, category)
    assert got == records(as_ndjson([row]), "application/x-ndjson", category)


def test_a_standard_export_as_excel_ignores_and_names_extra_columns():
    headings = [h for h, _ in NEWER]
    cells = [[cell(r, f, h) for h, f in NEWER] for r in ROWS]
    data = xlsx(headings, cells)
    assert records(data, XLSX) == records(as_ndjson(ROWS), "application/x-ndjson")
    ignored = batch_ignored_columns(io.BytesIO(data), category="admin_penalty", content_type=XLSX, catalog=CATALOG)
    assert ignored == [h for h, f in NEWER if f is None]


def test_a_numeric_cell_in_a_code_column_is_a_row_rejection_and_numbers_elsewhere_are_written_in_full():
    headings, cells = _xlsx_cells("admin_penalty", LEGAL_PERSON | {"fine_amount": None})
    headings += ["罚款金额（万元）"]
    numeric_code = list(cells)
    numeric_code[headings.index("行政相对人代码_2（工商注册号）")] = 430100000012345
    rows = [numeric_code + [0.00001], [*cells[:3], *cells[3:]] + [12345678901]]
    rows[1][headings.index("行政处罚决定书文号")] = "长市监罚〔2024〕9号"
    chunks = list(run(xlsx(headings, rows), content_type=XLSX))
    rejections = [j for c in chunks for j in c.rejections]
    valid = [r for c in chunks for r in c.rows]
    assert [(j.row, j.field, j.code) for j in rejections] == [(1, "registration_no", "numeric_code")]
    assert "文本" in rejections[0].message and "430100000012345" not in rejections[0].message
    assert [r.row for r in valid] == [2]
    assert str(valid[0].values["fine_amount"]) in {"12345678901", "12345678901.00", "12345678901.0"}


@pytest.mark.parametrize("kind, code", [("merge", "merged_cells"), ("formula", "formula_not_computed"),
                                        ("garbage", "unreadable_workbook")])
def test_a_workbook_that_cannot_be_read_as_it_is_fails_with_the_reason(kind, code):
    headings, cells = _xlsx_cells("admin_penalty", LEGAL_PERSON)
    if kind == "garbage":
        data = b"PK\x03\x04 not really a workbook"
    else:
        data = xlsx(headings, [cells], merge="A1:B1" if kind == "merge" else None,
                    formula_uncomputed=kind == "formula")
    with pytest.raises(BatchParseError) as refused:
        list(run(data, content_type=XLSX))
    assert refused.value.code == code and refused.value.message


def test_an_excel_date_and_a_text_date_are_the_same_date():
    headings, cells = _xlsx_cells("admin_penalty", LEGAL_PERSON)
    as_text = list(cells)
    as_text[headings.index("处罚决定日期")] = "2024年3月5日"
    as_text[headings.index("行政处罚决定书文号")] = "长市监罚〔2024〕3号"
    got = records(xlsx(headings, [cells, as_text]), XLSX)
    assert got[0][1]["decided_on"] == got[1][1]["decided_on"] == dt.date(2024, 3, 5) or (
        got[0][1]["decided_on"] == got[1][1]["decided_on"] == "2024-03-05")


"""validation/batch.py::validate_batch — parsing, normalisation and the catalog rules."""

import copy
import io
import json

import pytest

from tests.validation.vhelpers import (
    AUTHORITY_USCC,
    CATALOG,
    TODAY,
    csv_bytes,
    make_ric,
    make_uscc,
    one,
    penalty_row,
    run,
)
from validation.batch import BatchParseError, sniff_batch, validate_batch


def codes(rejections):
    return [(j.row, j.field, j.code) for j in rejections]


def test_valid_row_is_normalised_with_defaults():
    data = csv_bytes(
        [penalty_row(decided_on="2024年3月5日", fine_amount="1.50", penalty_types="罚款；警告；")]
    )
    rows, rej = one(data)
    assert rej == []
    (row,) = rows
    assert row.row == 1 and row.op == "upsert"
    v = row.values
    assert v["decided_on"] == "2024-03-05"
    assert v["fine_amount"] == "1.5"
    assert v["penalty_types"] == ["罚款", "警告"]
    assert v["subject_type"] == "legal_person"
    assert (v["procedure"], v["severity"], v["usage_scope"], v["op"]) == (
        "ordinary",
        "general",
        "public",
        "upsert",
    )
    assert "org_code" not in v and "remarks" not in v


def test_chinese_labels_as_headers_and_enum_labels():
    labels = {f.name: f.label for f in CATALOG.category("admin_penalty").fields}
    row = penalty_row(subject_type="法人及非法人组织")
    data = csv_bytes([{labels[k]: v for k, v in row.items()}])
    rows, rej = one(data)
    assert rej == [] and rows[0].values["subject_type"] == "legal_person"


@pytest.mark.parametrize("raw", ["2024-03-05", "2024/03/05", "20240305", "2024年3月5日", " 2024/3/5 "])
def test_date_forms(raw):
    rows, rej = one(csv_bytes([penalty_row(decided_on=raw)]))
    assert rej == [] and rows[0].values["decided_on"] == "2024-03-05"


@pytest.mark.parametrize("raw", ["2023-02-29", "2024-13-01", "05/03/2024", "昨天"])
def test_invalid_dates(raw):
    _, rej = one(csv_bytes([penalty_row(decided_on=raw)]))
    assert codes(rej) == [(1, "decided_on", "invalid_date")]
    assert "处罚决定日期" in rej[0].message


def test_future_decision_date():
    _, rej = one(csv_bytes([penalty_row(decided_on="2025-07-01")]))
    assert codes(rej) == [(1, "decided_on", "future_date")]
    rows, rej = one(csv_bytes([penalty_row(decided_on="2025-06-30")]))
    assert rej == []


def test_code_fields_full_width_upper_case_spaces():
    code = make_uscc()
    full = "".join(chr(ord(c) + 0xFEE0) for c in code.lower())
    rows, rej = one(csv_bytes([penalty_row(uscc=f" {full[:6]} {full[6:]}")]))
    assert rej == [] and rows[0].values["uscc"] == code


def test_nfc_and_trim():
    rows, rej = one(csv_bytes([penalty_row(subject_name="  Cafe\u0301公司 ")]))
    assert rej == [] and rows[0].values["subject_name"] == "Caf\u00e9公司"


def test_control_character_refused():
    _, rej = one(csv_bytes([penalty_row(subject_name="公司\x07")]))
    assert codes(rej) == [(1, "subject_name", "control_character")]


def test_uscc_check_digit_message():
    bad = make_uscc()[:17] + "0"
    bad = bad if bad != make_uscc() else make_uscc()[:17] + "1"
    _, rej = one(csv_bytes([penalty_row(uscc=bad)]))
    assert codes(rej) == [(1, "uscc", "invalid_uscc")]
    assert rej[0].message == f"统一社会信用代码“{bad}”校验位错误（GB 32100-2015）"


def test_required_and_several_problems_count_once():
    data = csv_bytes([penalty_row(subject_name="", decision_no="", decided_on="x"), penalty_row()])
    chunks = run(data)
    assert sum(len(c.rows) for c in chunks) == 1
    rej = [j for c in chunks for j in c.rejections]
    assert codes(rej) == [
        (1, "subject_name", "required"),
        (1, "decision_no", "required"),
        (1, "decided_on", "invalid_date"),
    ]
    assert rej[0].message == "行政相对人名称为必填项，不能为空"


def test_uscc_required_for_legal_person_unless_org_code_or_registration_no():
    _, rej = one(csv_bytes([penalty_row(uscc="")]))
    assert codes(rej) == [(1, "uscc", "required")]
    org = make_uscc()[8:17]
    header = [*penalty_row().keys(), "org_code", "registration_no"]
    rows, rej = one(
        csv_bytes(
            [penalty_row(uscc="", org_code=org), penalty_row(uscc="", registration_no="430100000012345")],
            header,
        )
    )
    assert rej == [] and len(rows) == 2


def test_org_code_must_match_uscc():
    header = [*penalty_row().keys(), "org_code"]
    good = make_uscc()
    other = make_uscc(body="MA4L9999")[8:17]
    rows, rej = one(csv_bytes([penalty_row(org_code=good[8:17]), penalty_row(org_code=other)], header))
    assert len(rows) == 1 and codes(rej) == [(2, "org_code", "org_code_mismatch")]


def test_org_code_check_char():
    header = [*penalty_row().keys(), "org_code"]
    _, rej = one(csv_bytes([penalty_row(uscc="", org_code="D21435691")], header))
    assert codes(rej) == [(1, "org_code", "invalid_org_code")]


def test_natural_person_needs_id_and_id_is_checked_and_masked():
    header = [*penalty_row().keys(), "id_type", "id_number"]
    ric = make_ric()
    bad = ric[:17] + ("0" if ric[17] != "0" else "1")
    data = csv_bytes(
        [
            penalty_row(subject_type="natural_person", uscc=""),
            penalty_row(subject_type="自然人", uscc="", id_type="身份证", id_number=ric),
            penalty_row(subject_type="natural_person", uscc="", id_type="resident_id", id_number=bad),
            penalty_row(subject_type="natural_person", uscc="", id_type="passport", id_number="E12345678"),
        ],
        header,
    )
    rows, rej = one(data)
    assert [r.row for r in rows] == [2, 4]
    assert codes(rej) == [
        (1, "id_type", "required"),
        (1, "id_number", "required"),
        (3, "id_number", "invalid_id_number"),
    ]
    assert bad not in rej[2].message and f"{bad[:4]}****{bad[-4:]}" in rej[2].message
    assert rej[0].message == "行政相对人类别为“自然人”时，证件类型为必填项"


def test_fine_required_when_penalty_types_contain_fine():
    rows, rej = one(
        csv_bytes([penalty_row(fine_amount=""), penalty_row(fine_amount="", penalty_types="警告")])
    )
    assert [r.row for r in rows] == [2] and codes(rej) == [(1, "fine_amount", "required")]


def test_decimal_rules():
    _, rej = one(csv_bytes([penalty_row(fine_amount="-1"), penalty_row(fine_amount="一万")]))
    assert codes(rej) == [(1, "fine_amount", "below_minimum"), (2, "fine_amount", "invalid_decimal")]


def test_enum_and_enum_list():
    header = [*penalty_row().keys(), "severity"]
    _, rej = one(
        csv_bytes([penalty_row(severity="很严重"), penalty_row(penalty_types="罚款;打板子")], header)
    )
    assert codes(rej) == [(1, "severity", "invalid_enum"), (2, "penalty_types", "invalid_enum")]
    assert "打板子" in rej[1].message


def test_lengths():
    _, rej = one(csv_bytes([penalty_row(subject_name="名" * 201), penalty_row(decision_no="x" * 129)]))
    assert codes(rej) == [(1, "subject_name", "too_long"), (2, "decision_no", "too_long")]
    assert "201" in rej[0].message and "200" in rej[0].message


def test_date_order_and_pattern_in_lists():
    row = {
        "subject_name": "某公司",
        "subject_type": "legal_person",
        "uscc": make_uscc(),
        "list_code": "TAX-A",
        "list_name": "A级纳税人",
        "listed_on": "2024-01-01",
        "expires_on": "2023-12-31",
        "authority": "税务局",
    }
    bad_code = dict(row, list_code="税务-A", expires_on="")
    rows, rej = one(
        csv_bytes([row, bad_code, dict(row, list_code="tax-a", expires_on="")]), category="red_list"
    )
    assert codes(rej) == [(1, "expires_on", "date_order"), (2, "list_code", "pattern_mismatch")]
    assert rows[0].values["list_code"] == "TAX-A"  # code field: upper-cased


def test_license_valid_to_not_before_valid_from():
    row = {
        "subject_name": "某公司",
        "subject_type": "legal_person",
        "uscc": make_uscc(),
        "decision_no": "许1",
        "license_category": "普通",
        "content": "食品经营",
        "decided_on": "2024-01-01",
        "valid_from": "2024-01-01",
        "valid_to": "2023-01-01",
        "authority": "局",
        "authority_uscc": AUTHORITY_USCC,
        "state": "有效",
    }
    rows, rej = one(csv_bytes([row, dict(row, valid_to="")]), category="admin_license")
    assert codes(rej) == [(1, "valid_to", "date_order")] and rows[0].values["state"] == "valid"


def test_withdraw_needs_only_natural_key():
    header = list(penalty_row().keys()) + ["op"]
    withdraw = {k: "" for k in header} | {"decision_no": "长市监罚〔2024〕1号", "op": "撤销"}
    rows, rej = one(csv_bytes([withdraw, {k: "" for k in header} | {"op": "withdraw"}], header))
    assert [(r.row, r.op) for r in rows] == [(1, "withdraw")]
    assert codes(rej) == [(2, "decision_no", "required")]


def test_red_list_withdraw_needs_subject_key():
    base = {"list_code": "TAX-A", "listed_on": "2024-01-01", "op": "withdraw"}
    header = [
        "subject_name",
        "subject_type",
        "uscc",
        "list_code",
        "list_name",
        "listed_on",
        "authority",
        "op",
    ]
    rows, rej = one(csv_bytes([dict(base, uscc=make_uscc()), base], header), category="red_list")
    assert [r.row for r in rows] == [1] and codes(rej) == [(2, "uscc", "required")]


# -- files ------------------------------------------------------------------


def test_unknown_columns_are_ignored_and_missing_ones_refused():
    rows, rejections = one(csv_bytes([penalty_row(foo="1")], [*penalty_row().keys(), "foo"]))
    assert rejections == [] and len(rows) == 1 and "foo" not in rows[0].values
    with pytest.raises(BatchParseError) as e:
        run(csv_bytes([penalty_row()], [h for h in penalty_row() if h != "content"]))
    assert e.value.code == "missing_columns" and "处罚内容" in e.value.message


@pytest.mark.parametrize(
    "data,code",
    [
        (b"", "empty_file"),
        (b"\n\n", "empty_file"),
        (b"\x00\x01\x02PK\x03\x04" * 100, "binary_content"),
    ],
)
def test_bad_files(data, code):
    with pytest.raises(BatchParseError) as e:
        run(data)
    assert e.value.code == code and e.value.message


def test_header_only():
    with pytest.raises(BatchParseError) as e:
        run(csv_bytes([penalty_row()])[: csv_bytes([penalty_row()]).index(b"\n") + 1] + b"\n\n")
    assert e.value.code == "no_data_rows"


def test_unsupported_media_type():
    with pytest.raises(BatchParseError) as e:
        run(csv_bytes([penalty_row()]), content_type="application/vnd.ms-excel")
    assert e.value.code == "unsupported_media_type"
    with pytest.raises(BatchParseError):
        sniff_batch(io.BytesIO(b""), category="admin_penalty", content_type="text/plain", catalog=CATALOG)


def test_undecodable_header():
    with pytest.raises(BatchParseError) as e:
        run("名称,类别\n".encode("gb18030") + csv_bytes([penalty_row()]))
    assert e.value.code == "undecodable"


def test_bom_gb18030_wrong_column_count_invalid_bytes_truncated_last_line():
    good = csv_bytes([penalty_row()] * 3)
    lines = good.split(b"\n")
    bad_row = lines[1].replace("长沙".encode(), b"\xff\xfe", 1)
    data = (
        b"\xef\xbb\xbf"
        + b"\n".join([lines[0], lines[1], b"a,b,c", bad_row, lines[2], b"", b""])
        + lines[3][:30]
    )
    chunks = run(data)
    assert (chunks[0].first_row, chunks[-1].last_row) == (1, 5)
    rej = [j for c in chunks for j in c.rejections]
    assert codes(rej) == [
        (2, None, "wrong_column_count"),
        (3, "subject_name", "invalid_encoding"),
        (5, None, "wrong_column_count"),
    ]
    assert [r.row for c in chunks for r in c.rows] == [1, 4]
    gb = csv_bytes([penalty_row()], encoding="gb18030")
    rows, rej = one(gb, content_type="text/csv; charset=GB18030")
    assert rej == [] and rows[0].values["subject_name"] == "长沙某某贸易有限公司"


def test_ten_megabyte_line_is_one_rejected_row():
    good = csv_bytes([penalty_row()] * 2)
    header, first, second, _ = good.split(b"\n")
    data = b"\n".join([header, first, b"x" * 10_000_000, second]) + b"\n"
    chunks = run(data)
    assert codes([j for c in chunks for j in c.rejections]) == [(2, None, "row_too_long")]
    assert [r.row for c in chunks for r in c.rows] == [1, 3]


def test_chunks_cover_rows_and_resume():
    rows = [penalty_row(decision_no=f"罚{i}", fine_amount="-1" if i % 7 == 0 else "1") for i in range(1, 51)]
    data = csv_bytes(rows)
    chunks = run(data, chunk_rows=8)
    assert [(c.first_row, c.last_row) for c in chunks][:2] == [(1, 8), (9, 16)] and chunks[-1].last_row == 50
    for c in chunks:
        covered = sorted([r.row for r in c.rows] + list({j.row for j in c.rejections}))
        assert covered == list(range(c.first_row, c.last_row + 1))
    resumed = run(data, chunk_rows=8, start_after_row=20)
    assert resumed[0].first_row == 21 and resumed[-1].last_row == 50
    assert sum(len(c.rows) + len({j.row for j in c.rejections}) for c in resumed) == 30
    assert [j.row for c in resumed for j in c.rejections] == [21, 28, 35, 42, 49]


# -- NDJSON -----------------------------------------------------------------


def ndjson(*objs) -> bytes:
    return b"".join(
        (o if isinstance(o, bytes) else json.dumps(o, ensure_ascii=False).encode()) + b"\n" for o in objs
    )


def test_ndjson_rows():
    data = ndjson(
        penalty_row(fine_amount=12.5, penalty_types=["罚款", "警告"]),
        b"",
        [1, 2],
        penalty_row(foo="x"),
        b'{"subject_name": "trunc',
        penalty_row(**{"行政相对人名称": "标签公司"}) | {"subject_name": None},
    )
    data = data.replace(b'"subject_name": null, ', b"")
    chunks = run(data, content_type="application/x-ndjson")
    rows = [r for c in chunks for r in c.rows]
    rej = [j for c in chunks for j in c.rejections]
    assert rows[0].values["fine_amount"] == "12.5" and rows[0].values["penalty_types"] == ["罚款", "警告"]
    assert codes(rej) == [(2, None, "malformed_row"), (3, None, "unknown_field"), (4, None, "malformed_row")]
    assert [r.row for r in rows] == [1, 5] and rows[1].values["subject_name"] == "标签公司"


def test_ndjson_line_with_bytes_that_are_not_utf8_is_one_rejected_row():
    good = json.dumps(penalty_row(), ensure_ascii=False).encode()
    bad = good.replace("长沙".encode(), b"\xff\xfe", 1)
    assert bad != good
    chunks = run(ndjson(good, bad, good), content_type="application/x-ndjson")
    assert codes([j for c in chunks for j in c.rejections]) == [(2, None, "invalid_encoding")]
    assert [r.row for c in chunks for r in c.rows] == [1, 3]


def test_ndjson_missing_required_key():
    row = penalty_row()
    del row["content"]
    _, rej = one(ndjson(row), content_type="application/x-ndjson")
    assert codes(rej) == [(1, "content", "required")]


def test_validate_batch_is_lazy_and_never_raises_other_errors():
    junk = bytes(range(1, 256)) * 50
    for ct in ("text/csv", "application/x-ndjson", "text/csv; charset=gb18030"):
        try:
            list(
                validate_batch(
                    io.BytesIO(junk), category="admin_penalty", content_type=ct, catalog=CATALOG, today=TODAY
                )
            )
        except BatchParseError:
            pass


def test_results_remembered_across_blocks_are_the_same(monkeypatch):
    """GE results per feature tuple are remembered by the suite runner: blocks whose value
    combinations were seen before (in this batch or an earlier one) get the same rejections."""
    import validation.batch as vb
    from validation.expectations import suite_runner

    rows = []
    for i in range(1, 41):
        over = {"decision_no": f"罚{i}"}
        if i % 5 == 0:
            over["fine_amount"] = "-1"  # below_minimum
        if i % 8 == 0:
            over["penalty_types"], over["fine_amount"] = "罚款", ""  # required when penalty_types has 罚款
        if i % 13 == 0:
            over["decided_on"] = "2030-01-01"  # future_date
        rows.append(penalty_row(**over))
    data = csv_bytes(rows)
    fresh = copy.copy(CATALOG)  # another catalog object: its own runner, an empty memo
    whole = one(data)
    monkeypatch.setattr(vb, "GE_BLOCK_ROWS", 4)
    per_block = [
        list(validate_batch(io.BytesIO(data), category="admin_penalty", content_type="text/csv",
                            catalog=fresh, today=TODAY, chunk_rows=4))
        for _ in range(2)
    ]  # fmt: skip
    memo = suite_runner(fresh, fresh.categories["admin_penalty"], TODAY).memo
    assert any(memo.values())
    for chunks in per_block:
        rows_, rejections = [r for c in chunks for r in c.rows], [j for c in chunks for j in c.rejections]
        assert rows_ == whole[0] and rejections == whole[1]
    assert {(j.field, j.code) for j in whole[1]} == {
        ("fine_amount", "below_minimum"),
        ("fine_amount", "required"),
        ("decided_on", "future_date"),
    }

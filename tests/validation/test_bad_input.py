"""Bad input to batch validation (issue #11): one bad row is that row's rejection with a reason the
sender can act on, a bad file fails with a short, true reason, and nothing else ever escapes."""

from __future__ import annotations

import json

import pytest

from validation.batch import BatchParseError
from validation.parsing import MAX_LINE_BYTES

from .vhelpers import PENALTY_HEADER, csv_bytes, one, penalty_row, run

NDJSON = "application/x-ndjson"


def ndjson(*lines: bytes | dict) -> bytes:
    return b"".join((x if isinstance(x, bytes) else json.dumps(x, ensure_ascii=False).encode()) + b"\n"
                    for x in lines)


@pytest.mark.parametrize("deep", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"subject_name": ' * 50_000 + b'"x"' + b"}" * 50_000,
    json.dumps(penalty_row(), ensure_ascii=False).encode()[:-1] + b', "content": ' + b"[" * 100_000,
])
def test_a_deeply_nested_ndjson_line_rejects_that_row_only(deep):
    data = ndjson(penalty_row(), deep, penalty_row(decision_no="长市监罚〔2024〕2号"))
    rows, rejections = one(data, content_type=NDJSON)
    assert [r.row for r in rows] == [1, 3]
    assert [(j.row, j.code) for j in rejections] == [(2, "malformed_row")]
    assert "嵌套" in rejections[0].message


def test_a_bom_inside_the_data_is_not_kept_in_values():
    """A BOM starts the file (allowed); anywhere else it is an invisible character: removed from values."""
    csv_data = b"\xef\xbb\xbf" + csv_bytes([penalty_row(), penalty_row(subject_name="\ufeff长沙某某\ufeff贸易有限公司")])
    nd_data = ndjson(penalty_row(), b"\xef\xbb\xbf" + json.dumps(penalty_row(), ensure_ascii=False).encode())
    for data, content_type in ((csv_data, "text/csv"), (nd_data, NDJSON)):
        rows, rejections = one(data, content_type=content_type)
        assert rejections == []
        assert [r.values["subject_name"] for r in rows] == ["长沙某某贸易有限公司"] * 2


def test_a_header_line_over_the_limit_says_so():
    data = b"subject_name," * (5_000_000 // 13) + b"\n" + csv_bytes([penalty_row()]).split(b"\n", 1)[1]
    with pytest.raises(BatchParseError) as refused:
        run(data)
    assert refused.value.code == "header_too_long"
    assert f"{MAX_LINE_BYTES // 1024} KiB" in refused.value.message


@pytest.mark.parametrize("header, code", [
    ([*PENALTY_HEADER, *PENALTY_HEADER * 800], "duplicate_columns"),
    ([f"列{i}" * 1000 for i in range(3)], "unknown_columns"),
])
def test_a_failure_reason_stays_short(header, code):
    with pytest.raises(BatchParseError) as refused:
        run(",".join(header).encode() + b"\n" + b"," * (len(header) - 1) + b"\n")
    assert refused.value.code == code
    assert len(refused.value.message) < 400, refused.value.message
    if len(header) > 1000:
        assert "等" in refused.value.message


def test_a_row_with_ten_thousand_unknown_keys_has_a_short_reason():
    row = penalty_row() | {f"键{i}": "x" for i in range(10_000)}
    _, rejections = one(ndjson(row), content_type=NDJSON)
    assert [j.code for j in rejections] == ["unknown_field"] and len(rejections[0].message) < 400


@pytest.mark.parametrize("content_type", ["text/csv", NDJSON])
def test_rows_over_the_limit_fail_the_batch_in_validation(content_type):
    rows = [penalty_row(decision_no=f"长市监罚〔2024〕{i}号") for i in range(1, 6)]
    data = csv_bytes(rows) if content_type == "text/csv" else ndjson(*rows)
    assert len(one(data, content_type=content_type, max_rows=5)[0]) == 5
    with pytest.raises(BatchParseError) as refused:
        run(data, content_type=content_type, chunk_rows=2, max_rows=4)
    assert refused.value.code == "too_many_rows" and "4 行" in refused.value.message


def test_a_csv_without_a_header_row_fails_naming_the_fields_expected():
    """Exchange-protocol §8: a header row that names no catalog field of the category (a file whose first line
    is already data) fails the whole batch, and the reason says which columns the category expects."""
    data_only = csv_bytes([penalty_row(), penalty_row(decision_no="长市监罚〔2024〕2号")]).split(b"\n", 1)[1]
    with pytest.raises(BatchParseError) as refused:
        run(data_only)
    assert refused.value.code == "unknown_columns"
    message = refused.value.message
    assert "subject_name（行政相对人名称）" in message and "decision_no（行政处罚决定书文号）" in message
    assert "长沙" not in message  # the data row read as a header is not echoed back
    assert len(message) < 400, message

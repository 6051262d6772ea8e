"""Property: whatever bytes a department sends, validation either refuses the whole batch with a
BatchParseError or accounts for every row exactly once (accepted or rejected) — no other exception."""

from __future__ import annotations

import csv
import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from validation.batch import BatchParseError, validate_batch

from .vhelpers import CATALOG, PENALTY_HEADER, TODAY, penalty_row

CONTENT_TYPES = ["text/csv", "text/csv; charset=gb18030", "application/x-ndjson"]
examples = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# text with what breaks parsers: quotes, separators, line ends, BOMs, NUL and other controls, surrogates' bytes
awkward_text = st.lists(st.sampled_from([*'ab长沙,;；"\'{}[]:\\ \t\r\n\ufeff\x00\x0b\u2028０１²፩', "罚款", "警告"]),
                        max_size=12).map("".join)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | awkward_text,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(awkward_text, inner, max_size=3),
                           max_leaves=8)


@st.composite
def csv_bodies(draw) -> tuple[bytes, str]:
    header = draw(st.one_of(st.just(PENALTY_HEADER), st.lists(st.sampled_from(PENALTY_HEADER + ["x", ""]),
                                                              min_size=1, max_size=15)))
    rows = draw(st.lists(st.lists(st.one_of(awkward_text, st.sampled_from(list(penalty_row().values()))),
                                  max_size=len(header) + 2), max_size=8))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"])))
    writer.writerow(header)
    writer.writerows(rows)
    text = draw(st.sampled_from(["", "\ufeff"])) + buffer.getvalue()
    if draw(st.booleans()):
        return text.encode("gb18030", "replace"), "text/csv; charset=gb18030"
    return text.encode("utf-8", "surrogateescape"), "text/csv"


@st.composite
def ndjson_bodies(draw) -> tuple[bytes, str]:
    lines = draw(st.lists(st.one_of(
        st.builds(lambda over: json.dumps(penalty_row() | over, ensure_ascii=False),
                  st.dictionaries(st.sampled_from(PENALTY_HEADER + ["op", "id_number", "行政相对人名称", "x"]),
                                  json_values, max_size=4)),
        json_values.map(json.dumps),
        awkward_text,
        st.integers(1, 2000).map(lambda depth: '{"content": ' + "[" * depth * 50),  # nested past any stack
    ), max_size=8))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return ending.join(lines).encode("utf-8", "surrogateescape"), "application/x-ndjson"


def assert_every_row_accounted_for(data: bytes, content_type: str, chunk_rows: int = 3) -> None:
    try:
        chunks = list(validate_batch(io.BytesIO(data), category="admin_penalty", content_type=content_type,
                                     catalog=CATALOG, today=TODAY, chunk_rows=chunk_rows))
    except BatchParseError as refused:
        assert refused.code and refused.message and len(refused.message) < 1000
        return
    expected_first = 1
    for chunk in chunks:
        assert chunk.first_row == expected_first and chunk.last_row >= chunk.first_row
        accepted = [r.row for r in chunk.rows]
        rejected = {j.row for j in chunk.rejections}
        assert len(accepted) == len(set(accepted)) and not rejected & set(accepted)
        assert sorted([*accepted, *rejected]) == list(range(chunk.first_row, chunk.last_row + 1))
        assert all(j.code and j.message and len(j.message) < 1000 for j in chunk.rejections)
        expected_first = chunk.last_row + 1


@examples
@given(st.binary(max_size=400), st.sampled_from(CONTENT_TYPES))
def test_random_bytes(data, content_type):
    assert_every_row_accounted_for(data, content_type)


@examples
@given(csv_bodies())
def test_csv_structures(body):
    assert_every_row_accounted_for(*body)


@examples
@given(ndjson_bodies())
def test_ndjson_structures(body):
    assert_every_row_accounted_for(*body)

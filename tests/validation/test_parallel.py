"""validate_batch_in_workers gives exactly what validate_batch gives: same chunks, rows,
values and rejections, whether slices travel raw or parsed, and the same batch errors."""

import io
import json
import os

import pytest

import validation.parallel as parallel
import validation.slicing as slicing
from validation.batch import BatchParseError, validate_batch
from validation.parallel import validate_batch_in_workers

from .vhelpers import CATALOG, TODAY, csv_bytes, make_ric, penalty_row


@pytest.fixture(autouse=True)
def small_pieces(monkeypatch):
    """Small reads, slices and jobs, so that a few dozen rows cross every boundary."""
    monkeypatch.setattr(slicing, "READ_BYTES", 300)
    monkeypatch.setattr(parallel, "JOB_ROWS", 10)


def outcome(data: bytes, content_type: str, *, workers: int | None, **kw):
    options = dict(category="admin_penalty", content_type=content_type, catalog=CATALOG, today=TODAY, **kw)
    try:
        if workers is None:
            chunks = list(validate_batch(io.BytesIO(data), **options))
        else:
            chunks = list(validate_batch_in_workers(io.BytesIO(data), workers=workers, **options))
    except BatchParseError as exc:
        return ("error", exc.code, exc.message)
    return [
        (c.first_row, c.last_row, [(r.row, r.op, r.values) for r in c.rows], c.rejections) for c in chunks
    ]


def assert_same(data: bytes, content_type: str = "text/csv", **kw):
    expected = outcome(data, content_type, workers=None, **kw)
    for workers in (1, 2):
        assert outcome(data, content_type, workers=workers, **kw) == expected
    return expected


def rows(n: int) -> list[dict]:
    out = []
    for i in range(1, n + 1):
        over = {"decision_no": f"长市监罚〔2024〕{i}号"}
        if i % 6 == 0:
            over["fine_amount"] = "-1"  # below_minimum
        if i % 9 == 0:
            over["decided_on"] = "2024-13-01"  # invalid date
        if i % 11 == 0:
            over["subject_type"] = "natural_person"
            over["uscc"] = ""
            over["id_type"] = "身份证"
            over["id_number"] = make_ric() if i % 2 else "430102199003071230"
        out.append(penalty_row(**over))
    return out


HEADER = [*penalty_row().keys(), "id_type", "id_number"]
GOOD = csv_bytes(rows(43), HEADER)
LINES = GOOD.split(b"\n")


def with_lines(replace: dict[int, bytes]) -> bytes:
    return b"\n".join(replace.get(i, line) for i, line in enumerate(LINES))


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(GOOD, id="lines-are-rows"),
        pytest.param(GOOD.replace(b"\n", b"\r\n"), id="crlf"),
        pytest.param(GOOD[:-1], id="no-final-newline"),
        pytest.param(
            with_lines({23: LINES[23].replace("发布虚假广告".encode(), '"发布\n虚假,广告"'.encode())}),
            id="quoted-field-spanning-lines",
        ),
        pytest.param(with_lines({17: LINES[17] + b"\n\n"}), id="blank-lines"),
        pytest.param(with_lines({30: LINES[30].replace(b",", b"\r", 1)}), id="lone-cr"),
        pytest.param(with_lines({12: b"a,b,c", 13: LINES[13] + b"\x00"}), id="short-row-and-nul"),
        pytest.param(with_lines({20: b"x" * 2_000_000}), id="over-long-line"),
        pytest.param(with_lines({20: b"y" * 600_000}), id="long-line"),
        pytest.param(
            b"\xef\xbb\xbf" + with_lines({8: LINES[8].replace("长沙".encode(), b"\xff\xfe")}), id="bom"
        ),
        pytest.param(LINES[0] + b"\n", id="header-only"),
        pytest.param(b"", id="empty"),
        pytest.param(b"\n" + GOOD, id="blank-first-line"),
        pytest.param(b"\x00PK\x03" * 50, id="binary"),
    ],
)
def test_csv_same_as_in_process(data):
    found = assert_same(data, chunk_rows=4)
    if isinstance(found, list) and data is GOOD:
        assert [(c[0], c[1]) for c in found][:3] == [(1, 4), (5, 8), (9, 12)] and found[-1][1] == 43
        assert sum(len(c[2]) for c in found) + len({j.row for c in found for j in c[3]}) == 43


def test_gb18030_and_resume():
    gb = csv_bytes(rows(30), HEADER, encoding="gb18030")
    assert_same(gb, "text/csv; charset=gb18030", chunk_rows=4)
    resumed = assert_same(GOOD, chunk_rows=4, start_after_row=12)
    assert resumed[0][0] == 13


def ndjson(*objs) -> bytes:
    return b"".join(
        (o if isinstance(o, bytes) else json.dumps(o, ensure_ascii=False).encode()) + b"\n" for o in objs
    )


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(ndjson(*rows(37)), id="lines-are-rows"),
        pytest.param(b"\xef\xbb\xbf" + ndjson(*rows(25)), id="bom"),
        pytest.param(ndjson(*rows(12), b"", b"  ", "\u3000".encode(), *rows(20)), id="blank-lines"),
        pytest.param(ndjson(*rows(12), b'{"subject_name": "trunc', [1, 2], *rows(9)), id="malformed"),
        pytest.param(b"\n \n", id="empty"),
    ],
)
def test_ndjson_same_as_in_process(data):
    assert_same(data, "application/x-ndjson", chunk_rows=3)


def test_stage_in_the_worker_and_no_orphans():
    """`then` runs where the rows were checked; the workers are gone afterwards."""
    before = _children()
    got = list(
        validate_batch_in_workers(
            io.BytesIO(GOOD),
            category="admin_penalty",
            content_type="text/csv",
            catalog=CATALOG,
            today=TODAY,
            chunk_rows=4,
            workers=2,
            then=_where,
        )
    )
    assert [first for first, _, _ in got][:3] == [1, 5, 9]
    assert {pid for _, pid, _ in got} - {os.getpid()}  # some chunks were checked in a worker
    assert sum(n for _, _, n in got) == len(outcome(GOOD, "text/csv", workers=None, chunk_rows=43)[0][2])
    assert _children() <= before


def _where(chunk):
    return chunk.first_row, os.getpid(), len(chunk.rows)


def _children() -> set[int]:
    return {int(p) for p in os.listdir("/proc") if p.isdigit() and _is_child(int(p))}


def _is_child(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1]) == os.getpid()
    except (OSError, ValueError, IndexError):
        return False

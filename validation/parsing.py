"""Stream-parse a department batch (CSV or NDJSON) into blocks of raw columns.

The stream is read in 1 MiB pieces and never held whole; a line longer than
`MAX_LINE_BYTES` is skipped (and reported as one rejected row) without being
buffered. Bytes the declared charset cannot decode are kept as lone surrogates
(`surrogateescape`) so that one bad row is rejected, not the whole batch.

Blank lines are not rows (CSV and NDJSON alike). NDJSON keys may be field names
or Chinese labels; unknown keys reject the row (`unknown_field`).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import BinaryIO

from validation.catalog import Category

READ_BYTES = 1 << 20
MAX_LINE_BYTES = 1 << 20
SNIFF_BYTES = 1 << 16
_OVERLONG = "\udcff\udcfe<overlong>"  # stand-in line for a skipped over-long line

csv.field_size_limit(MAX_LINE_BYTES)


class BatchParseError(Exception):
    """The whole batch cannot be read. `message` is plain Chinese for the sender."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Rejection:
    row: int
    field: str | None
    code: str
    message: str


@dataclass
class RawBlock:
    first_row: int
    last_row: int
    rownos: list[int] = field(default_factory=list)  # rows that parsed, in order
    columns: dict[str, Sequence] = field(default_factory=dict)  # field name -> raw values along rownos
    rejections: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True)
class MediaType:
    kind: str  # csv | ndjson | xlsx
    encoding: str


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def parse_media_type(content_type: str) -> MediaType:
    main, *params = [p.strip() for p in (content_type or "").split(";")]
    main = main.lower()
    charset = "utf-8"
    for p in params:
        key, _, value = p.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    if main in {"application/x-ndjson", "application/ndjson", "application/jsonl"}:
        if charset not in {"utf-8", "utf8"}:
            raise BatchParseError("unsupported_media_type", f"NDJSON 批次只接受 UTF-8 编码，收到“{charset}”")
        return MediaType("ndjson", "utf-8")
    if main == XLSX_TYPE:
        return MediaType("xlsx", "")
    if main == "text/csv":
        if charset in {"utf-8", "utf8"}:
            return MediaType("csv", "utf-8")
        if charset in {"gb18030", "gbk", "gb2312"}:  # GB18030 is a superset of both
            return MediaType("csv", "gb18030")
        raise BatchParseError(
            "unsupported_media_type", f"CSV 批次只接受 UTF-8 或 GB18030 编码，收到“{charset}”"
        )
    raise BatchParseError(
        "unsupported_media_type",
        f"不支持的文件类型“{content_type}”，请使用 text/csv、application/x-ndjson 或 Excel（.xlsx，{XLSX_TYPE}）",
    )


BINARY_CONTENT = ("binary_content", "文件含有二进制内容（NUL 字节），不是文本格式的 CSV 或 NDJSON")


def _byte_pieces(stream: BinaryIO, encoding: str) -> Iterator[Iterable[str]]:
    """Decoded lines (newline kept) in pieces of up to ~1 MiB, each line at most
    MAX_LINE_BYTES; longer ones become _OVERLONG. Chained, the pieces are iterated
    line by line in C (csv.reader pulls one line at a time)."""
    pending = b""
    skipping = False
    first = True
    while True:
        piece = stream.read(READ_BYTES)
        if first:
            first = False
            if piece and b"\x00" in piece[:SNIFF_BYTES]:
                raise BatchParseError(*BINARY_CONTENT)
        if not piece:
            if skipping:
                yield (_OVERLONG,)
            elif pending:  # split at CR too, like every other piece
                yield io.StringIO(pending.decode(encoding, "surrogateescape"), newline="")
            return
        cut = piece.rfind(b"\n")
        if skipping:
            if cut < 0:
                continue
            start = piece.find(b"\n") + 1
            skipping = False
            yield (_OVERLONG + "\n",)
            piece = piece[start:]
            cut = piece.rfind(b"\n")
        if cut < 0:
            pending += piece
            if len(pending) > MAX_LINE_BYTES:
                pending, skipping = b"", True
            continue
        text = (pending + piece[: cut + 1]).decode(encoding, "surrogateescape")
        pending = piece[cut + 1 :]
        if len(pending) > MAX_LINE_BYTES:
            pending, skipping = b"", True
        yield io.StringIO(text, newline="")


class _Lines:
    """Line iterator over `_byte_pieces` that can be closed early."""

    def __init__(self, stream: BinaryIO, encoding: str):
        self.pieces = _byte_pieces(stream, encoding)
        self.it = chain.from_iterable(self.pieces)

    def __iter__(self) -> Iterator[str]:
        return self.it

    def __next__(self) -> str:
        return next(self.it)

    def close(self) -> None:
        self.pieces.close()


# Bytes that were not valid in the batch's encoding, as surrogateescape decodes them. A regex: the
# character-by-character generator it replaces cost ~50 µs on every NDJSON line (~400 characters).
_UNDECODABLE = re.compile("[\udc80-\udcff]")


def _bad_header(text: str) -> bool:
    return _UNDECODABLE.search(text) is not None


NO_DATA_ROWS = ("no_data_rows", "文件只有表头，没有数据行")
NDJSON_EMPTY = ("empty_file", "文件为空，没有数据行")


class CsvSource:
    def __init__(self, stream: BinaryIO, category: Category, encoding: str):
        self.category = category
        self.encoding = encoding
        self.lines = _Lines(stream, encoding)
        self.reader = csv.reader(self.lines.it)
        header = self._first_record()
        if header is None:
            raise BatchParseError("empty_file", "文件为空，没有表头和数据")
        if header[0].startswith(_OVERLONG):
            raise BatchParseError(
                "header_too_long", f"表头行超过{MAX_LINE_BYTES // 1024} KiB 的上限，未读取；请检查表头或换行符"
            )
        header = [h.lstrip("\ufeff").strip() for h in header]
        if any(_bad_header(h) for h in header):
            raise BatchParseError(
                "undecodable", f"表头无法按声明的编码（{encoding}）解读，请检查文件编码或文件是否损坏"
            )
        self.fields = resolve_header(category, header)
        self.ignored = ignored_columns(header, self.fields)

    def _first_record(self) -> list[str] | None:
        while True:
            try:
                rec = next(self.reader)
            except StopIteration:
                return None
            except csv.Error:
                raise BatchParseError("malformed_header", "表头无法解析") from None
            if rec:
                return rec

    def _take(self, want: int) -> tuple[list, bool]:
        """The next `want` rows as csv records (blank lines, which are not rows, included
        as []); a record that failed to parse is its csv.Error. Returns (records, at_end)."""
        reader = self.reader
        out: list = []
        got = 0
        while got < want:
            start = len(out)
            try:
                out.extend(islice(reader, want - got))
            except csv.Error as exc:
                out.append(exc)
            new = len(out) - start
            if new == 0:
                return out, True
            got += new - (out[start:] if start else out).count([])
        return out, False

    def blocks(self, block_rows: int, start_after_row: int) -> Iterator[RawBlock]:
        ncols = len(self.fields)
        row = 0
        at_end = False
        if start_after_row:
            skipped, at_end = self._take(start_after_row)
            row = sum(1 for r in skipped if r != [])
            del skipped
        while not at_end:
            records, at_end = self._take(block_rows)
            block = RawBlock(first_row=row + 1, last_row=row)
            try:  # common case: every record is a row with the right number of columns
                uniform = len(set(map(len, records))) == 1 and len(records[0]) == ncols
            except TypeError:  # a csv.Error has no len()
                uniform = False
            if uniform:
                block.rownos = list(range(row + 1, row + 1 + len(records)))
                row += len(records)
                good = records
            else:
                good = []
                rownos = block.rownos
                for rec in records:
                    if rec.__class__ is not list:
                        row += 1
                        block.rejections.append(
                            Rejection(row, None, "malformed_row", f"第{row}行无法解析：{rec}")
                        )
                        continue
                    if not rec:
                        continue  # blank line: not a row
                    row += 1
                    if len(rec) == ncols:
                        good.append(rec)
                        rownos.append(row)
                    elif rec[0] == _OVERLONG:
                        block.rejections.append(
                            Rejection(
                                row,
                                None,
                                "row_too_long",
                                f"第{row}行超过{MAX_LINE_BYTES // 1024} KiB，未读取",
                            )
                        )
                    else:
                        block.rejections.append(
                            Rejection(
                                row,
                                None,
                                "wrong_column_count",
                                f"第{row}行有{len(rec)}列，表头有{ncols}列（列数不符，可能是引号或分隔符有误）",
                            )
                        )
            del records
            if row < block.first_row:
                break
            block.last_row = row
            block.columns = placed_columns(self.fields, list(zip(*good, strict=True)) if good else [()] * ncols)
            del good
            yield block
        if row == 0:
            raise BatchParseError(*NO_DATA_ROWS)


def resolve_header(category: Category, header: list[str]) -> list[str | None]:
    """The field each column carries, None for a column no field claims (ignored: `ignored_columns`).
    Several columns may carry one list field (their values join); any other field, one column."""
    columns, unknown, seen, dup = [], [], set(), []
    joined = category.joined_fields
    for h in header:
        fd = category.field_for_header(h)
        columns.append(fd.name if fd else None)
        if fd is None:
            unknown.append(h)
            continue
        if fd.name in seen and fd.name not in joined:
            dup.append(h)
        seen.add(fd.name)
    names = [c for c in columns if c]
    if unknown and not names:  # no header at all, most likely a data row: echoing its values would not help
        expected = [f"{f.name}（{f.label}）" for f in category.required_fields]
        raise BatchParseError(
            "unknown_columns",
            f"表头没有一列是目录“{category.label}”的字段（第一行须为表头，列名用字段名或中文名称）；"
            f"应有的必填列：{named(expected)}",
        )
    if dup:
        raise BatchParseError("duplicate_columns", f"表头中以下列重复出现（或是同一字段的不同列名）：{named(dup)}")
    missing = [f.label for f in category.required_fields if f.name not in seen]
    if missing:
        raise BatchParseError("missing_columns", f"表头缺少必填列：{named(missing)}")
    return columns


MAX_IGNORED_LISTED = 100  # a header of 10,000 made-up columns lists the first hundred


def ignored_columns(header: list[str], columns: list[str | None]) -> list[str]:
    """The headings of the columns no field claims, as the file spells them (an empty one by its position)."""
    found = [h.strip() or f"（第{i}列，无列名）" for i, (h, c) in enumerate(zip(header, columns, strict=True), 1) if c is None]
    return [h[:NAME_CHARS * 2] for h in found[:MAX_IGNORED_LISTED]]


def placed_columns(columns: list[str | None], values: Iterable[Sequence]) -> dict[str, Sequence]:
    """field -> raw values, from the values of each column in header order: ignored columns dropped,
    the parts of a joined list field joined with ';' (empty parts left out)."""
    placed: dict[str, Sequence] = {}
    for name, col in zip(columns, values, strict=True):
        if name is None:
            continue
        if name in placed:
            placed[name] = [";".join(p for p in pair if p and p.strip()) for pair in zip(placed[name], col, strict=True)]
        else:
            placed[name] = col
    return placed


NAMED_AT_MOST = 10  # names a reason lists; a 10,000-column header would make a 100 KB reason
NAME_CHARS = 40


def named(names: Sequence[object]) -> str:
    """The first few names, each cut short, and how many more there are: a reason stays readable."""
    shown = [n if len(n) <= NAME_CHARS else n[: NAME_CHARS - 1] + "…" for n in map(str, names[:NAMED_AT_MOST])]
    more = len(names) - len(shown)
    return "、".join(shown) + (f"等，另有{more}项未列出" if more > 0 else "")


def _json_cell(value: object, is_list: bool) -> tuple[str | None, bool]:
    """(text, ok) for one NDJSON value: strings as is, numbers as written, lists joined by ';'."""
    if value is None or isinstance(value, str):
        return value, True
    if isinstance(value, bool):
        return None, False
    if isinstance(value, int | float):
        return str(value), True
    if is_list and isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ";".join(str(v) for v in value), True
    return None, False


def _no_constant(name: str) -> None:
    raise ValueError(name)  # NaN, Infinity: not JSON


# Numbers stay as written (text, like a CSV cell); made once: json.loads with hooks builds a decoder per call.
_NDJSON_DECODER = json.JSONDecoder(parse_float=str, parse_int=str, parse_constant=_no_constant)


class NdjsonSource:
    def __init__(self, stream: BinaryIO, category: Category):
        self.category = category
        self.lines = _Lines(stream, "utf-8")
        self.list_fields = {f.name for f in category.fields if f.type in {"enum_list", "text_list"}}
        self.names = [f.name for f in category.fields]
        self.name_set = set(self.names)
        self.fields = self.names
        self.ignored: list[str] = []  # an unknown key rejects its row instead

    def blocks(self, block_rows: int, start_after_row: int) -> Iterator[RawBlock]:
        row = 0
        first_line = True
        block = RawBlock(first_row=start_after_row + 1, last_row=start_after_row)
        objs: list[dict] = []
        for line in self.lines:
            if first_line:
                line = line.lstrip("\ufeff")
                first_line = False
            if not line.strip():
                continue
            row += 1
            if row <= start_after_row:
                continue
            obj = self._row(row, line, block)
            if obj is not None:
                objs.append(obj)
                block.rownos.append(row)
            if row - block.first_row + 1 >= block_rows:
                yield self._finish(block, objs, row)
                objs = []
                block = RawBlock(first_row=row + 1, last_row=row)
        if row == 0:
            raise BatchParseError(*NDJSON_EMPTY)
        if row >= block.first_row:
            yield self._finish(block, objs, row)

    def _row(self, row: int, line: str, block: RawBlock) -> dict | None:
        def reject(code: str, message: str, field_name: str | None = None) -> None:
            block.rejections.append(Rejection(row, field_name, code, message))

        if line.startswith(_OVERLONG):
            reject("row_too_long", f"第{row}行超过{MAX_LINE_BYTES // 1024} KiB，未读取")
            return None
        if _bad_header(line):
            reject("invalid_encoding", f"第{row}行不是有效的 UTF-8 文本")
            return None
        if line[0] == "\ufeff":  # a BOM copied in with the line: not part of the JSON
            line = line[1:]
        try:
            obj = _NDJSON_DECODER.decode(line)
        except ValueError:
            reject("malformed_row", f"第{row}行不是完整有效的 JSON（可能被截断）")
            return None
        except RecursionError:
            reject("malformed_row", f"第{row}行的 JSON 嵌套层数过深，无法读取（字段值应为文本、数字或文本列表）")
            return None
        if not isinstance(obj, dict):
            reject("malformed_row", f"第{row}行应为 JSON 对象，实为{type(obj).__name__}")
            return None
        if not obj.keys() <= self.name_set:
            mapped, unknown = {}, []
            for k, v in obj.items():
                fd = self.category.field_for_header(k.strip()) if isinstance(k, str) else None
                if fd is None:
                    unknown.append(k)
                else:
                    mapped[fd.name] = v
            if unknown:
                reject("unknown_field", f"第{row}行含有目录中没有的字段：{named(unknown)}")
                return None
            obj = mapped
        out = {}
        for k, v in obj.items():
            text, ok = _json_cell(v, k in self.list_fields)
            if not ok:
                fd = self.category.fields_by_name[k]
                reject("malformed_row", f"{fd.label}的值类型不正确（应为文本）", k)
                return None
            out[k] = text
        return out

    def _finish(self, block: RawBlock, objs: list[dict], row: int) -> RawBlock:
        block.last_row = row
        present = set().union(*(o.keys() for o in objs)) if objs else set()
        for name in self.names:
            if name in present:
                block.columns[name] = [o.get(name) for o in objs]
        return block


def rows_within(blocks: Iterator[RawBlock], max_rows: int | None) -> Iterator[RawBlock]:
    """Parsed blocks (in row order) as they come, until a row past `max_rows`: the
    platform's row limit holds for the rows the parser finds, however the intake counted them."""
    for block in blocks:
        if max_rows is not None and block.last_row > max_rows:
            raise BatchParseError("too_many_rows", f"批次的数据行超过 {max_rows} 行的上限，请拆分后分别报送")
        yield block


def open_source(stream: BinaryIO, category: Category, content_type: str):
    """The parser for the batch's media type: CsvSource, NdjsonSource or XlsxSource (a seekable stream)."""
    media = parse_media_type(content_type)
    if media.kind == "ndjson":
        return NdjsonSource(stream, category)
    if media.kind == "xlsx":
        from validation.workbook import XlsxSource  # it builds on this module

        return XlsxSource(stream, category)
    return CsvSource(stream, category, media.encoding)

"""Cut a batch into slices of exactly `slice_rows` rows, for parsing in worker processes.

Where every line is a row — no quote character (a quoted field may span lines), no
blank line (not a row), no lone CR (csv ends a row there too), no NUL, no line near
the over-long limit and, in NDJSON, every line an object — a slice is raw bytes cut
at its slice_rows-th newline, found by counting in C; a worker parses it with the
very parser `validate_batch` uses, so rows, numbers and rejections come out the same.
From the first slice where that does not hold, the rest of the stream is parsed here,
exactly as `validate_batch` parses it (`RawBlock`s instead of `RawSlice`s).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from validation.catalog import Category
from validation.parsing import (
    BINARY_CONTENT,
    MAX_LINE_BYTES,
    NDJSON_EMPTY,
    NO_DATA_ROWS,
    READ_BYTES,
    SNIFF_BYTES,
    BatchParseError,
    CsvSource,
    NdjsonSource,
    RawBlock,
    open_source,
    parse_media_type,
)

MAX_SLICE_BYTES = 64 << 20  # a slice that would be larger is parsed here instead
_WINDOW = MAX_LINE_BYTES // 4  # every window has a newline: no line reaches MAX_LINE_BYTES / 2
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class SliceFormat:
    kind: str  # csv | ndjson
    encoding: str
    fields: list[str]  # CSV: the header's columns


@dataclass(frozen=True)
class RawSlice:
    first_row: int
    last_row: int
    data: bytes


def batch_slices(
    stream: BinaryIO, category: Category, content_type: str, slice_rows: int, start_after_row: int
) -> tuple[SliceFormat, Iterator[RawSlice | RawBlock]]:
    """The batch's format and its slices (consecutive, slice_rows rows each but the last).
    Raises BatchParseError as `validate_batch` would."""
    media = parse_media_type(content_type)
    # resuming (the parser skips the rows already done), or a workbook (no byte slices: parsed here)
    if start_after_row or media.kind == "xlsx":
        source = open_source(stream, category, content_type)
        return SliceFormat(media.kind, media.encoding, source.fields), source.blocks(
            slice_rows, start_after_row
        )
    first = stream.read(READ_BYTES)
    if first and b"\x00" in first[:SNIFF_BYTES]:
        raise BatchParseError(*BINARY_CONTENT)
    body = first
    if media.kind == "csv":
        end = first.find(b"\n")
        header = first[: end + 1]
        if end < 0 or not _simple(header, "csv") or not header.strip(b"\r\n"):
            source = open_source(_Prefixed(first, stream), category, content_type)
            return SliceFormat(media.kind, media.encoding, source.fields), source.blocks(slice_rows, 0)
        fields = CsvSource(io.BytesIO(header), category, media.encoding).fields
        body = first[end + 1 :]
    else:
        fields = NdjsonSource(io.BytesIO(b""), category).fields
    fmt = SliceFormat(media.kind, media.encoding, fields)
    return fmt, _cut(fmt, category, body, stream, slice_rows)


def slice_parse(fmt: SliceFormat, category: Category, piece: RawSlice) -> RawBlock:
    """A raw slice parsed (in a worker) into the block `validate_batch` would have made of its rows."""
    source = _data_source(fmt, category, io.BytesIO(piece.data))
    rows = piece.last_row - piece.first_row + 1
    blocks = list(source.blocks(rows, 0, row_base=piece.first_row - 1))
    if len(blocks) != 1 or (blocks[0].first_row, blocks[0].last_row) != (piece.first_row, piece.last_row):
        raise RuntimeError(f"slice of rows {piece.first_row}–{piece.last_row} parsed differently")
    return blocks[0]


def _cut(fmt: SliceFormat, category: Category, body: bytes, stream: BinaryIO, slice_rows: int):
    row = 0
    pieces = [body] if body else []
    newlines = body.count(b"\n")
    size = len(body)
    at_end = False
    while True:
        while newlines < slice_rows and not at_end and size <= MAX_SLICE_BYTES:
            piece = stream.read(READ_BYTES)
            if not piece:
                at_end = True
                break
            pieces.append(piece)
            newlines += piece.count(b"\n")
            size += len(piece)
        if newlines >= slice_rows:
            data, rest = _split_after(pieces, slice_rows)
            rows = slice_rows
        else:
            data, rest = b"".join(pieces), b""
            rows = data.count(b"\n") + (0 if data.endswith(b"\n") else 1) if data else 0
        if not data:
            break
        if size > MAX_SLICE_BYTES and newlines < slice_rows or not _simple(data, fmt.kind, first=row == 0):
            yield from _rest_parsed_here(fmt, category, data + rest, stream, slice_rows, row)
            return
        yield RawSlice(row + 1, row + rows, data)
        row += rows
        pieces = [rest] if rest else []
        newlines = rest.count(b"\n")
        size = len(rest)
    if row == 0:
        raise BatchParseError(*(NO_DATA_ROWS if fmt.kind == "csv" else NDJSON_EMPTY))


def _rest_parsed_here(
    fmt: SliceFormat, category: Category, head: bytes, stream: BinaryIO, slice_rows: int, row: int
) -> Iterator[RawBlock]:
    source = _data_source(fmt, category, _Prefixed(head, stream))
    yield from source.blocks(slice_rows, 0, row_base=row)


def _data_source(fmt: SliceFormat, category: Category, stream: BinaryIO) -> CsvSource | NdjsonSource:
    """The parser for data rows that follow the header (read already)."""
    if fmt.kind == "csv":
        return CsvSource(stream, category, fmt.encoding, fields=fmt.fields)
    return NdjsonSource(stream, category)


def _split_after(pieces: list[bytes], count: int) -> tuple[bytes, bytes]:
    """(bytes up to and including the count-th newline, the bytes after it)."""
    for i, piece in enumerate(pieces):
        here = piece.count(b"\n")
        if count > here:
            count -= here
            continue
        pos = -1
        for _ in range(count):
            pos = piece.find(b"\n", pos + 1)
        return b"".join([*pieces[:i], piece[: pos + 1]]), b"".join([piece[pos + 1 :], *pieces[i + 1 :]])
    raise ValueError("fewer newlines than asked for")


def _simple(data: bytes, kind: str, first: bool = False) -> bool:
    """Every line of `data` is exactly one row, parsed the same wherever the slice starts."""
    if b"\x00" in data or data.count(b"\r") != data.count(b"\r\n"):
        return False
    if not _lines_short(data):
        return False
    if kind == "csv":
        return (
            b'"' not in data
            and not data.startswith((b"\n", b"\r\n"))
            and b"\n\n" not in data
            and (b"\n\r\n" not in data)
        )
    if first and data.startswith(_BOM):
        data = data[len(_BOM) :]
    lines = data.count(b"\n")
    breaks = lines - 1 if data.endswith(b"\n") else lines  # newlines followed by another line
    return data.startswith(b"{") and data.count(b"\n{") == breaks


def _lines_short(data: bytes) -> bool:
    """No line of MAX_LINE_BYTES / 2 or more (over-long lines are the parser's business):
    a newline in every window of MAX_LINE_BYTES / 4 bounds every line below two windows."""
    n = len(data)
    for start in range(0, n, _WINDOW):
        end = min(start + _WINDOW, n)
        if end == n and end - start < _WINDOW:
            return True  # the last, partial window: its line started in the previous window
        if data.find(b"\n", start, end) < 0:
            return False
    return True


class _Prefixed(io.RawIOBase):
    """`head` bytes, then the rest of `stream`."""

    def __init__(self, head: bytes, stream: BinaryIO):
        self.head, self.stream = head, stream

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.head:
            if size < 0 or size >= len(self.head):
                out, self.head = self.head, b""
                return out
            out, self.head = self.head[:size], self.head[size:]
            return out
        return self.stream.read(size)

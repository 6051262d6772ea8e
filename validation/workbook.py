"""Excel batches (.xlsx): the first sheet, read as a stream, into the blocks a CSV gives.

openpyxl reads the workbook in read-only mode: the sheet's XML is parsed row by row
straight out of the zip archive, so a 1,000,000-row workbook is never held in memory
(bench/README.md). The blocks go down the very path CSV blocks take (normalise, check,
stage).

- The first non-empty row is the header, matched like a CSV header (aliases, ignored
  columns, joined list fields); empty rows are not rows; rows are numbered from the
  first data row, as in CSV.
- Excel dates (a date-formatted cell) become YYYY-MM-DD; text stays text.
- A code column (USCC, organisation code, registration or ID number, list code)
  must hold text: a numeric cell there is a row rejection, because the number has
  already lost its leading zeros, and past 15 digits its last digits (Excel keeps 15).
  Other numbers are written out in full, never with an exponent.
- Merged cells, and formulas the file holds no computed value for (a workbook written
  by a program and never opened in Excel), fail the batch with the reason.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import openpyxl
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._reader import FORMULA_TAG, VALUE_TAG, WorkSheetParser

from validation.catalog import Category
from validation.parsing import (
    NO_DATA_ROWS,
    BatchParseError,
    RawBlock,
    Rejection,
    ignored_columns,
    named,
    placed_columns,
    resolve_header,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NOT_A_WORKBOOK = ("unreadable_workbook", "文件不是可以读取的 Excel 工作簿（.xlsx）；请在 Excel 中“另存为”.xlsx 格式后重新报送")
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s[^>]*?ref="([A-Z]+[0-9]+(?::[A-Z]+[0-9]+)?)"')
_SCAN_BYTES = 1 << 20


class _ComputedValues(WorkSheetParser):
    """openpyxl's sheet parser giving formulas' computed values, refusing a formula that has none."""

    def parse_cell(self, element):
        # no value, or an empty one that is not a string's (a formula giving "" is written t="str" <v></v>)
        if element.find(FORMULA_TAG) is not None and not element.findtext(VALUE_TAG) and element.get("t") != "str":
            where = element.get("r") or "某个"
            raise BatchParseError(
                "formula_not_computed",
                f"单元格 {where} 是公式，但文件中没有它的计算结果（文件由程序生成、未在 Excel 中计算保存）；"
                "请在 Excel 中打开后保存，或把公式粘贴为数值后重新报送",
            )
        return super().parse_cell(element)


class XlsxSource:
    """`blocks()` like CsvSource's, from the first sheet of a workbook (a seekable stream)."""

    def __init__(self, stream: BinaryIO, category: Category):
        self.category = category
        try:
            self.workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
            sheet = self.workbook.worksheets[0]
        except (zipfile.BadZipFile, InvalidFileException, KeyError, IndexError, ValueError, OSError):
            raise BatchParseError(*NOT_A_WORKBOOK) from None
        self._refuse_merged(sheet)
        self.rows = self._rows(sheet)
        self.lines = self  # sniff_batch closes a source's lines
        header = next(self.rows, None)
        if header is None:
            self.close()
            raise BatchParseError("empty_file", "工作簿的第一个工作表为空，没有表头和数据")
        texts = [_header_text(v) for v in header]
        while texts and not texts[-1]:
            texts.pop()  # formatted but empty cells right of the header
        self.width = len(texts)
        self.fields = resolve_header(category, texts)
        self.ignored = ignored_columns(texts, self.fields)
        self.codes = [bool(name) and category.fields_by_name[name].is_code for name in self.fields]

    def close(self) -> None:
        self.workbook.close()

    def _refuse_merged(self, sheet) -> None:
        """Merged cells are recorded after the rows, at the end of the sheet's XML: scanned for first (the
        XML decompressed on the fly, never kept), so the batch fails before any row is taken."""
        found: list[str] = []
        tail = b""
        with self.workbook._archive.open(sheet._worksheet_path) as xml:  # the read-only sheet's own part
            while piece := xml.read(_SCAN_BYTES):
                text = tail + piece
                if b"mergeCell" in text:  # the regex only where a merge is written
                    found = [m.decode() for m in _MERGE.findall(text)]
                    if found:
                        break
                tail = text[-200:]  # a tag cut in two by the piece's end
        if found:
            self.close()
            raise BatchParseError(
                "merged_cells",
                f"工作表含有合并单元格（{named(found)}）：合并的表头无法对应到字段，合并的数据会丢失；"
                "请取消合并（每列一个表头、每行一条记录）后重新报送",
            )

    def _rows(self, sheet) -> Iterator[list]:
        """The sheet's non-empty rows as lists of cell values (by column, from column A)."""
        book = self.workbook
        with sheet._get_source() as src:
            parser = _ComputedValues(src, sheet._shared_strings, data_only=True, epoch=book.epoch,
                                     date_formats=book._date_formats, timedelta_formats=book._timedelta_formats)
            for _, cells in parser.parse():
                values: list = []
                for cell in cells:
                    value = cell["value"]
                    if value is None or value == "":
                        continue
                    column = cell["column"]
                    if column > len(values):
                        values.extend([None] * (column - len(values)))
                    values[column - 1] = value
                if values:
                    yield values

    def blocks(self, block_rows: int, start_after_row: int) -> Iterator[RawBlock]:
        width, codes, fields = self.width, self.codes, self.fields
        row = 0
        block = RawBlock(first_row=start_after_row + 1, last_row=start_after_row)
        columns: list[list] = [[] for _ in range(width)]
        try:
            for values in self.rows:
                row += 1
                if row <= start_after_row:
                    continue
                texts, bad = _row_texts(values, width, codes)
                if bad is None:
                    for column, text in zip(columns, texts, strict=True):
                        column.append(text)
                    block.rownos.append(row)
                else:
                    fd = self.category.fields_by_name[fields[bad]]
                    block.rejections.append(Rejection(
                        row, fd.name, "numeric_code",
                        f"{fd.label}在 Excel 中是数字格式的单元格；代码须以文本格式填写（数字会丢掉前导零，"
                        "超过 15 位的还会丢掉末几位），请把该列设为“文本”后重新填写"))
                if row - block.first_row + 1 >= block_rows:
                    yield self._finish(block, columns, row)
                    columns = [[] for _ in range(width)]
                    block = RawBlock(first_row=row + 1, last_row=row)
            if row == 0:
                raise BatchParseError(*NO_DATA_ROWS)
            if row >= block.first_row:
                yield self._finish(block, columns, row)
        finally:
            self.close()

    def _finish(self, block: RawBlock, columns: list[list], row: int) -> RawBlock:
        block.last_row = row
        block.columns = placed_columns(self.fields, columns)
        return block


def _header_text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _row_texts(values: list, width: int, codes: list[bool]) -> tuple[list, int | None]:
    """The row's cells as the text a CSV would hold (None for empty); and the column of a numeric
    cell in a code column, if any."""
    out: list = [None] * width
    for i, value in enumerate(values[:width]):
        if value is None or value.__class__ is str:
            out[i] = value
        elif isinstance(value, bool):
            out[i] = "是" if value else "否"
        elif isinstance(value, int | float):
            if codes[i]:
                return out, i
            out[i] = _number_text(value)
        elif isinstance(value, dt.datetime):
            out[i] = value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
        elif isinstance(value, dt.date | dt.time):
            out[i] = value.isoformat()
        else:
            out[i] = str(value)
    return out, None


def _number_text(value: int | float) -> str:
    """A number in full, never with an exponent (1e-05 → 0.00001, 12345678901 → 12345678901)."""
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return np.format_float_positional(value, trim="-")

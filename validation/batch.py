"""Public entry point: stream-parse, normalise and validate a department batch.

    for chunk in validate_batch(stream, category="admin_penalty", content_type="text/csv"):
        ...  # chunk.rows (ValidRow) and chunk.rejections cover first_row..last_row

Work happens in blocks of at least `GE_BLOCK_ROWS` rows (a whole multiple of
`chunk_rows`) because a great-expectations run has a fixed cost per expectation;
each block is then yielded as chunks of `chunk_rows`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
from bisect import bisect_right
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import repeat
from operator import attrgetter, methodcaller
from typing import BinaryIO

import numpy as np

from validation.catalog import SUBJECT_KEY, Catalog, Category, FieldDef
from validation.expectations import Failure, suite_runner
from validation.field_rules import check_resident_id
from validation.normalise import Normaliser, NormColumn, object_array, shown
from validation.parsing import BatchParseError, RawBlock, Rejection, open_source, rows_within

__all__ = [
    "BatchParseError",
    "Rejection",
    "ValidRow",
    "ValidatedChunk",
    "batch_ignored_columns",
    "sniff_batch",
    "validate_batch",
]

GE_BLOCK_ROWS = 100_000
LIST_TYPES = {"enum_list", "text_list"}


@dataclass(frozen=True)
class ValidRow:
    row: int
    op: str
    values: dict[str, object]


@dataclass(frozen=True)
class ValidatedChunk:
    first_row: int
    last_row: int
    rows: list[ValidRow]
    rejections: list[Rejection]


def _category(catalog: Catalog | None, category: str) -> tuple[Catalog, Category]:
    if catalog is None:
        from validation.catalog import current_catalog

        catalog = current_catalog()
    cat = catalog.categories.get(category)
    if cat is None:
        raise BatchParseError("unknown_category", f"目录中没有类别“{category}”")
    return catalog, cat


def sniff_batch(
    stream: BinaryIO, *, category: str, content_type: str, catalog: Catalog | None = None
) -> None:
    """Quick check of media type and (for CSV) the header; raises BatchParseError."""
    catalog, cat = _category(catalog, category)
    source = open_source(stream, cat, content_type)
    source.lines.close()


def batch_ignored_columns(
    stream: BinaryIO, *, category: str, content_type: str, catalog: Catalog | None = None
) -> list[str]:
    """The headings of the batch's columns that no field of the category claims (read no further than the
    header; a header the batch cannot go on with raises BatchParseError, as validating it would)."""
    catalog, cat = _category(catalog, category)
    source = open_source(stream, cat, content_type)
    source.lines.close()
    return source.ignored


def validate_batch(
    stream: BinaryIO,
    *,
    category: str,
    content_type: str,
    catalog: Catalog | None = None,
    chunk_rows: int = 20000,
    start_after_row: int = 0,
    today: dt.date | None = None,
    max_rows: int | None = None,
) -> Iterator[ValidatedChunk]:
    """`max_rows`: a batch with more rows fails (BatchParseError too_many_rows) when parsing reaches them."""
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be positive")
    catalog, cat = _category(catalog, category)
    today = today or dt.date.today()
    source = open_source(stream, cat, content_type)
    checker = ChunkChecker(catalog, cat, today)
    block_rows = chunk_rows * max(1, -(-GE_BLOCK_ROWS // chunk_rows))
    blocks = rows_within(source.blocks(block_rows, start_after_row), max_rows)
    while True:
        with gc_paused():  # not while the caller holds the generator's chunks
            block = next(blocks, None)
            if block is None:
                return
            chunks = list(checker.check(block, chunk_rows))
        del block
        yield from chunks
        del chunks


@contextlib.contextmanager
def gc_paused():
    """Parsing and checking a block allocate millions of small objects, none cyclic: the cyclic
    GC would rescan them all many times over, so it is paused meanwhile."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_normalisers: dict[int, Normaliser] = {}


class ChunkChecker:
    def __init__(self, catalog: Catalog, category: Category, today: dt.date):
        self.catalog = catalog
        self.category = category
        self.today = today
        self.normaliser = _normalisers.get(id(catalog))
        if self.normaliser is None or self.normaliser.catalog is not catalog:
            _normalisers.clear()
            self.normaliser = _normalisers[id(catalog)] = Normaliser(catalog)
        self.runner = suite_runner(catalog, category, today)
        self.fields = category.fields_by_name
        self.defaults = {f.name: f.default for f in category.fields if f.default is not None}
        self.key_fields = set(category.natural_key) - {SUBJECT_KEY}
        self.subject_key = SUBJECT_KEY in category.natural_key
        self.org_rule = any(r.rule == "org_code_matches_uscc" for r in category.rules)
        self.order = {name: i for i, name in enumerate(self.fields)}
        self.distinct_text: set[str] = set()  # free-text fields found mostly distinct in this batch

    def check(self, block: RawBlock, chunk_rows: int) -> Iterator[ValidatedChunk]:
        n = len(block.rownos)
        problems: dict[int, dict[str | None, tuple[str, str]]] = {}

        def add(pos: int, fld: str | None, code: str, message: str) -> None:
            per_row = problems.setdefault(pos, {})
            if fld not in per_row:  # one rejection per field: the first problem found
                per_row[fld] = (code, message)

        cols: dict[str, NormColumn] = {}
        for name, raw in block.columns.items():
            fd = self.fields[name]
            nc = cols[name] = self.normaliser.column(fd, raw, name in self.distinct_text)
            if not nc.identity and self.normaliser.mostly_distinct(fd, n, len(nc.uniques)):
                self.distinct_text.add(name)
            for p in nc.problems:
                add(p.pos, name, p.code, p.message)
        block.columns = {}  # the raw text is no longer needed
        values = _LazyValues(cols)
        self._cross_field(values, n, add)
        for f in self.runner.run(cols, n):
            add(f.pos, f.field, *self._message(f, values))
        self._withdrawals(values, problems)

        rejections: list[Rejection] = list(block.rejections)
        bad = [pos for pos, found in problems.items() if found]
        rownos = block.rownos
        for pos in sorted(bad):
            for fld, (code, message) in sorted(
                problems[pos].items(), key=lambda kv: self.order.get(kv[0], -1)
            ):
                rejections.append(Rejection(rownos[pos], fld, code, message))
        rows = self._rows(rownos, cols, bad) if n else []
        rejections.sort(key=lambda r: r.row)
        yield from _split(block, rows, rejections, chunk_rows)

    def _rows(self, rownos: list[int], cols: dict[str, NormColumn], bad: list[int]) -> list[ValidRow]:
        """ValidRow for every row without problems: values without None, defaults filled in.
        Dicts are built column-wise: one C-level zip over the columns every row has, then
        the few cells of partly empty columns are removed or added."""
        n = len(rownos)
        if bad:
            keep = np.ones(n, bool)
            keep[bad] = False
            sel = np.flatnonzero(keep)
            rownos = np.asarray(rownos)[sel].tolist()
        else:
            sel = None
        m = len(rownos)
        base_names: list[str] = []
        base_cols: list = []
        drop: list[tuple[str, list[int]]] = []  # (field, positions where None) in base columns
        add: list[tuple[str, list[int], list]] = []  # (field, positions, values) of sparse columns
        for name, nc in cols.items():
            default = self.defaults.get(name)
            uniques = nc.uniques
            if default is not None and None in uniques:
                uniques = [default if v is None else v for v in uniques]
            codes = nc.codes if sel is None else nc.codes[sel]
            is_list = self.fields[name].type in LIST_TYPES
            if None not in uniques:
                vals = uniques if nc.identity and sel is None else object_array(uniques)[codes].tolist()
                base_names.append(name)
                base_cols.append([v[:] for v in vals] if is_list else vals)
                continue
            is_none = np.zeros(len(uniques), bool)  # (a list comprehension: no call per value)
            is_none[[i for i, v in enumerate(uniques) if v is None]] = True
            none_rows = is_none[codes]
            absent = int(none_rows.sum())
            if absent == m:
                continue
            vals = object_array(uniques)[codes].tolist()
            if is_list:
                vals = [v[:] if v is not None else None for v in vals]
            if absent * 2 <= m:
                base_names.append(name)
                base_cols.append(vals)
                drop.append((name, np.flatnonzero(none_rows).tolist()))
            else:
                present = np.flatnonzero(~none_rows).tolist()
                add.append((name, present, [vals[i] for i in present]))
        for name, default in self.defaults.items():
            if name not in cols:
                base_names.append(name)
                base_cols.append(repeat(default, m))
        if base_cols:
            # copying a template dict gives each row a table of the final size at once;
            # update() then only overwrites (no resizing), all in C. The template is an
            # instance __dict__, so its copies share one key table (about 40% smaller)
            template = _shared_key_dict(base_names)
            dicts = [template.copy() for _ in range(m)]
            deque(
                map(dict.update, dicts, map(zip, repeat(tuple(base_names)), zip(*base_cols, strict=True))), 0
            )
        else:
            dicts = [{} for _ in range(m)]
        for name, positions in drop:
            for i in positions:
                del dicts[i][name]
        for name, positions, vals in add:
            for i, v in zip(positions, vals, strict=True):
                dicts[i][name] = v
        ops = list(map(methodcaller("get", "op", "upsert"), dicts))
        return list(map(ValidRow, rownos, ops, dicts))

    # -- rules in Python ------------------------------------------------------
    def _cross_field(self, values: dict[str, list], n: int, add) -> None:
        ids, id_types = values.get("id_number"), values.get("id_type")
        if ids is not None and "id_number" in self.fields:
            fd = self.fields["id_number"]
            cache: dict[str, tuple[str, str] | None] = {}
            types = id_types or [None] * n
            for pos, (v, t) in enumerate(zip(ids, types, strict=True)):
                if v is None or t not in {"resident_id", "身份证"}:
                    continue
                if v not in cache:
                    cache[v] = check_resident_id(v, self.today)
                found = cache[v]
                if found:
                    add(pos, "id_number", found[0], f"{fd.label}“{shown(fd, v)}”{found[1]}")
        usccs, orgs = values.get("uscc"), values.get("org_code")
        if self.org_rule and usccs is not None and orgs is not None:
            fd = self.fields["org_code"]
            for pos, (u, o) in enumerate(zip(usccs, orgs, strict=True)):
                if u and o and len(u) == 18 and u[8:17] != o:
                    add(
                        pos,
                        "org_code",
                        "org_code_mismatch",
                        f"{fd.label}“{o}”与统一社会信用代码第9–17位“{u[8:17]}”不一致",
                    )

    def _withdrawals(self, values: dict[str, list], problems: dict) -> None:
        """A withdraw row needs only its natural key: drop other `required` problems."""
        ops = values.get("op")
        if not ops:
            return
        for pos, op in enumerate(ops):
            if op != "withdraw":
                continue
            found = problems.get(pos, {})
            for fld in [
                f for f, (code, _) in found.items() if code == "required" and f not in self.key_fields
            ]:
                del found[fld]
            if self.subject_key:
                has_key = any((values.get(k) or [None] * (pos + 1))[pos] for k in ("uscc", "id_number"))
                if not has_key and "uscc" not in found and "id_number" not in found:
                    found["uscc"] = (
                        "required",
                        "撤销该类别的记录须提供主体标识：统一社会信用代码或证件号码（二者至少填一项）",
                    )
            if found:
                problems[pos] = found
            else:
                problems.pop(pos, None)

    def _message(self, f: Failure, values: dict[str, list]) -> tuple[str, str]:
        return self._code(f, values), self._text(f, values)

    def _code(self, f: Failure, values: dict[str, list]) -> str:
        if f.code != "length":
            return f.code
        v = values[f.field][f.pos]
        fd = self.fields[f.field]
        return "too_long" if fd.max_length is not None and len(v) > fd.max_length else "too_short"

    def _text(self, f: Failure, values: dict[str, list]) -> str:
        fd: FieldDef = self.fields[f.field]
        col = values.get(f.field)
        v = col[f.pos] if col is not None else None
        label = fd.label
        if f.code == "required":
            if "when" in f.params:
                cond = "、".join(self._cond_text(k, val) for k, val in f.params["when"].items())
                tail = ""
                if "unless" in f.params:
                    tail = "（或提供" + "、".join(self.fields[o].label for o in f.params["unless"]) + "）"
                return f"{cond}时，{label}为必填项{tail}"
            if "list_field" in f.params:
                lf = self.fields[f.params["list_field"]]
                return f"{lf.label}含“{f.params['contains']}”时，{label}为必填项"
            return f"{label}为必填项，不能为空"
        if f.code == "invalid_enum":
            allowed = "、".join(
                f"{e.label}（{e.code}）" if e.code != e.label else e.code for e in self.catalog.enums[fd.enum]
            )
            return f"{label}“{v}”不是目录中的取值（可选：{allowed}）"
        if f.code == "length":
            size = len(v) if isinstance(v, str) else 0
            if fd.max_length is not None and size > fd.max_length:
                return f"{label}长度为{size}个字符，超过上限{fd.max_length}"
            return f"{label}长度为{size}个字符，少于下限{fd.min_length}"
        if f.code == "pattern_mismatch":
            return f"{label}“{shown(fd, v or '')}”格式不符合目录要求（{fd.pattern}）"
        if f.code == "below_minimum":
            return f"{label}“{v}”不能小于{fd.min:g}"
        if f.code == "future_date":
            return f"{label}“{v}”晚于今天（{self.today.isoformat()}），决定日期不能在未来"
        if f.code == "date_order":
            other = self.fields[f.params["other"]]
            ov = values.get(other.name)
            return f"{label}“{v}”早于{other.label}“{ov[f.pos] if ov else ''}”，日期先后顺序不对"
        return f"{label}不符合规则 {f.code}"

    def _cond_text(self, name: str, value: str) -> str:
        fd = self.fields[name]
        shown_value = self.catalog.enum_label(fd.enum, value) if fd.enum else value
        return f"{fd.label}为“{shown_value}”"


_row_of = attrgetter("row")


def _shared_key_dict(names: list[str]) -> dict:
    """A plain dict with `names` (values None) whose key table copies share (CPython's
    split-table instance dicts); it behaves like any other dict."""
    holder = type("_Values", (), {})()
    for name in names:
        setattr(holder, name, None)
    return holder.__dict__


class _LazyValues(dict):
    """field -> normalised values per row, built on first access (most are never needed)."""

    def __init__(self, cols: dict[str, NormColumn]):
        super().__init__()
        self.cols = cols

    def __missing__(self, name: str) -> list:
        got = self[name] = self.cols[name].values
        return got

    def get(self, name, default=None):
        return self[name] if name in self.cols else default

    def __contains__(self, name) -> bool:
        return name in self.cols


def _split(
    block: RawBlock, rows: list[ValidRow], rejections: list[Rejection], size: int
) -> Iterator[ValidatedChunk]:
    first = block.first_row
    ri = ji = 0
    while first <= block.last_row:
        last = min(first + size - 1, block.last_row)
        rj = bisect_right(rows, last, lo=ri, key=_row_of)
        jj = bisect_right(rejections, last, lo=ji, key=_row_of)
        yield ValidatedChunk(first, last, rows[ri:rj], rejections[ji:jj])
        first, ri, ji = last + 1, rj, jj

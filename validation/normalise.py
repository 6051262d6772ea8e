"""Column-wise normalisation of raw cell text, per catalog field type.

`Normaliser.column()` takes one column of a block (raw strings, None = absent)
and returns a `NormColumn`: the normalised values, per-position problems, and the
column factorised (a code per row into the distinct values), which the
great-expectations feature frame reuses.

All work runs once per *distinct* raw value: the column is factorised (hash
table, in C), the distinct values are cleaned a batch at a time (control
characters and NFC checked on the joined text), typed (codes, dates, enums,
decimals) and the results are memoised per field across blocks (bounded), since
codes, dates, enum labels, authorities and legal bases repeat massively in
department batches. Results are then spread back to rows with one numpy gather.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cached_property

import numpy as np
import pandas as pd

from validation.catalog import Catalog, FieldDef
from validation.field_rules import check_org_code, check_registration_no, check_uscc, mask_id

# Control characters (Cc) and lone surrogates (bytes the declared charset could not
# decode, kept by the `surrogateescape` handler). Free text may carry tab/newline.
_BAD_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD_ANYWHERE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_BOM = "\ufeff"  # also ZERO WIDTH NO-BREAK SPACE; removed from every value
_HALF_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_SPACES = re.compile(r"\s+")
_LIST_SEP = re.compile("[;；]")
_DATE_FORMS = (
    re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})"),
    re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})"),
    re.compile(r"(\d{4})(\d{2})(\d{2})"),
    re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日"),
)
FREE_TEXT_TYPES = {"text", "text_list"}


@dataclass(frozen=True)
class Problem:
    pos: int  # position in the column (0-based within the chunk)
    code: str
    message: str


def shown(fd: FieldDef, value: str) -> str:
    """The value as it may appear in a message (ID numbers masked, long text cut)."""
    if fd.type == "id_number":
        return mask_id(value)
    return value if len(value) <= 40 else value[:37] + "…"


def to_code(value: str) -> str:
    """Full-width → half-width, upper case, all whitespace removed."""
    if value.isascii() and value.isalnum():  # nothing to convert or remove
        return value.upper()
    return _SPACES.sub("", value.translate(_HALF_WIDTH)).upper()


def parse_date(value: str) -> dt.date | None:
    value = value.translate(_HALF_WIDTH).replace(" ", "")
    for form in _DATE_FORMS:
        m = form.fullmatch(value)
        if m:
            try:
                return dt.date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                return None
    return None


def canonical_decimal(value: str) -> str | None:
    text = value.translate(_HALF_WIDTH).replace(",", "").replace(" ", "")
    try:
        d = Decimal(text)
    except InvalidOperation:
        return None
    if not d.is_finite():
        return None
    out = format(d.normalize(), "f")
    return "0" if out in {"-0", "0"} else out


MEMO_MAX = 200_000  # memoised distinct raw values per field; cleared when exceeded
MEMO_MAX_CHARS = 256  # longer raw values are not memoised (free text rarely repeats)
MEMO_MAX_TOTAL_CHARS = 8_000_000  # per field, bounds a memo's memory (~16–50 MB)


@dataclass
class NormColumn:
    codes: np.ndarray  # per row: index into `uniques`
    uniques: list  # normalised value of each distinct raw value (None possible)
    problems: list[Problem]
    identity: bool = False  # not factorised: uniques are the rows' values, codes = 0..n-1

    def value(self, pos: int) -> object:
        return self.uniques[self.codes[pos]]

    @cached_property
    def values(self) -> list:
        """Normalised value per row (None = absent or refused)."""
        if self.identity:
            return self.uniques
        return object_array(self.uniques)[self.codes].tolist() if len(self.codes) else []


def factorize_objects(values: Sequence) -> tuple[np.ndarray, list]:
    """(codes, distinct): a code per element into `distinct`, in order of first occurrence."""
    n = len(values)
    # dict.setdefault maps each value to the position where it first occurs, all in C;
    # str hashes are cached, so this beats pandas' (UTF-8 encoding) string hash table
    seen: dict = {}
    firsts = np.fromiter(map(seen.setdefault, values, range(n)), dtype=np.int64, count=n)
    first = np.fromiter(seen.values(), dtype=np.int64, count=len(seen))
    lut = np.empty(n, np.int64)
    lut[first] = np.arange(len(first))
    return lut[firsts], list(seen)


def factorize(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, first): a code per element (None/NaN is a value of its own) and the
    position of each distinct value's first occurrence."""
    n = len(arr)
    if arr.dtype == object:
        codes, distinct = factorize_objects(arr.tolist())
        first = np.zeros(len(distinct), np.int64)
        first[codes[::-1]] = np.arange(n - 1, -1, -1)
        return codes, first
    codes, uniq = pd.factorize(arr)
    k = len(uniq)
    if n and codes.min() < 0:
        codes = np.where(codes < 0, k, codes)
        k += 1
    first = np.zeros(k, np.int64)
    if n:
        first[codes[::-1]] = np.arange(n - 1, -1, -1)
    return codes, first


def object_array(values: Sequence) -> np.ndarray:
    """A 1-d object array holding `values` as they are (lists stay elements)."""
    return np.fromiter(values, dtype=object, count=len(values))


class Normaliser:
    """Normalises columns for one catalog (enum maps and per-field value memos kept)."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.enum_maps: dict[str, dict[str, str]] = {}
        for name, values in catalog.enums.items():
            m: dict[str, str] = {}
            for v in values:
                m[v.label] = v.code
                m[v.code] = v.code
                m[v.code.upper()] = v.code
            self.enum_maps[name] = m
        # per field: raw value -> (normalised value, problem (code, message) or None)
        self._memo: dict[FieldDef, dict[str | None, tuple[object, tuple[str, str] | None]]] = {}
        self._memo_chars: dict[FieldDef, int] = {}

    # -- column ----------------------------------------------------------------
    def column(self, fd: FieldDef, raw: Sequence[str | None], distinct_hint: bool = False) -> NormColumn:
        """`distinct_hint`: the caller found this free-text field mostly distinct before
        (`mostly_distinct()`), so it is neither factorised nor memoised."""
        n = len(raw)
        if n == 0:
            return NormColumn(np.zeros(0, np.int64), [], [])
        if not any(raw):  # all empty or absent
            return NormColumn(np.zeros(n, np.int64), [None], [])
        if distinct_hint:
            uvals, uprobs = self.normalise_distinct(fd, list(raw))
            problems = [Problem(i, code, message) for i, (code, message) in sorted(uprobs.items())]
            return NormColumn(np.arange(n), uvals, problems, identity=True)
        codes, distinct = factorize_objects(raw)
        if self.mostly_distinct(fd, n, len(distinct)):
            # mostly distinct free text (decision numbers, facts): not worth memoising
            uvals, uprobs = self.normalise_distinct(fd, distinct)
        else:
            memo = self._memo.setdefault(fd, {})
            hits = list(map(memo.get, distinct))
            if None in hits:  # (re-checked here, so a memo cleared by another thread is harmless)
                miss = [v for v, h in zip(distinct, hits, strict=True) if h is None]
                mvals, mprobs = self.normalise_distinct(fd, miss)
                fresh = {v: (nv, mprobs.get(i)) for i, (v, nv) in enumerate(zip(miss, mvals, strict=True))}
                hits = [h or fresh[v] for v, h in zip(distinct, hits, strict=True)]
                keep = [(v, r) for v, r in fresh.items() if v is None or len(v) <= MEMO_MAX_CHARS]
                chars = self._memo_chars.get(fd, 0) + sum(len(v) for v, _ in keep if v)
                if len(memo) + len(keep) > MEMO_MAX or chars > MEMO_MAX_TOTAL_CHARS:
                    memo.clear()
                    chars = sum(len(v) for v, _ in keep if v)
                memo.update(keep)
                self._memo_chars[fd] = chars
            uvals = [h[0] for h in hits]
            uprobs = {i: h[1] for i, h in enumerate(hits) if h[1] is not None}
        problems: list[Problem] = []
        if uprobs:
            bad = np.zeros(len(uvals), bool)
            bad[list(uprobs)] = True
            for pos, c in zip(np.flatnonzero(bad[codes]).tolist(), codes[bad[codes]].tolist(), strict=True):
                code, message = uprobs[c]
                problems.append(Problem(pos, code, message))
        return NormColumn(codes, uvals, problems)

    @staticmethod
    def mostly_distinct(fd: FieldDef, n: int, distinct: int) -> bool:
        return fd.type in FREE_TEXT_TYPES and not fd.is_code and distinct * 4 > n and distinct > 1000

    def normalise_distinct(self, fd: FieldDef, raw: list) -> tuple[list, dict[int, tuple[str, str]]]:
        """Normalised values of `raw` (distinct values) and {index: (code, message)} problems."""
        values, problems = self.clean_text(fd, raw)
        t = fd.type
        if t == "text":
            if fd.is_code:
                values = [to_code(v) if v is not None else None for v in values]
            return values, problems
        if fd.is_code:  # uscc, org_code, registration_no, id_number
            check = {
                "uscc": check_uscc,
                "org_code": check_org_code,
                "registration_no": check_registration_no,
            }.get(t)
            values = [to_code(v) if v is not None else None for v in values]
            if check:
                for i, v in enumerate(values):
                    if v is not None and i not in problems:
                        found = check(v)
                        if found:
                            problems[i] = (found[0], f"{fd.label}“{shown(fd, v)}”{found[1]}")
            return values, problems
        if t == "date":
            what = "不是有效日期（格式应为YYYY-MM-DD、YYYY/MM/DD、YYYYMMDD或YYYY年M月D日）"
            return self._parse_each(fd, values, problems, _iso_date, "invalid_date", what)
        if t == "enum":
            m = self.enum_maps[fd.enum]
            # unknown values pass through unchanged: the GE value-set check reports them
            return [v if v is None else (m.get(v) or m.get(v.upper()) or v) for v in values], problems
        if t == "enum_list":
            return self._enum_lists(fd, values, problems)
        if t == "text_list":
            return self._text_lists(fd, values, problems)
        if t == "decimal":
            return self._parse_each(
                fd, values, problems, canonical_decimal, "invalid_decimal", "不是有效的数字"
            )
        raise ValueError(f"catalog field {fd.name}: unknown type {t!r}")

    # -- text pass ---------------------------------------------------------
    def clean_text(self, fd: FieldDef, raw: list) -> tuple[list, dict[int, tuple[str, str]]]:
        """Trim, drop U+FEFF, NFC, refuse control characters / undecodable bytes; '' → None."""
        problems: dict[int, tuple[str, str]] = {}
        free = fd.type in FREE_TEXT_TYPES
        bad = _BAD_IN_TEXT if free else _BAD_ANYWHERE
        if None in raw:
            present = [v for v in raw if v]
            values: list = [v.strip() or None if v else None for v in raw]
        else:  # C-level passes: strip() returns the value itself when there is nothing to trim
            present = raw
            values = list(map(str.strip, raw))
            if "" in values:
                values = [v or None for v in values]
        joined = "\n".join(present)
        if _BOM in joined:  # a byte-order mark copied into a row: invisible, never meant as data
            values = [v.replace(_BOM, "").strip() or None if v else v for v in values]
            present = [v for v in values if v]
            joined = "\n".join(present)
        if bad.search(joined if free else "".join(present)):
            for i, v in enumerate(values):
                if v is None:
                    continue
                m = bad.search(v)
                if m:
                    if _SURROGATE.search(v):
                        code, what = "invalid_encoding", "含有无法按声明的字符编码解读的字节"
                    else:
                        code, what = "control_character", f"含有控制字符 U+{ord(m[0]):04X}"
                    problems[i] = (code, f"{fd.label}{what}，控制字符和乱码不予接收")
                    values[i] = None
        if not joined.isascii() and not unicodedata.is_normalized("NFC", joined):
            values = [unicodedata.normalize("NFC", v) if v else v for v in values]
        return values, problems

    # -- per type ------------------------------------------------------------
    @staticmethod
    def _parse_each(fd: FieldDef, values: list, problems: dict, parse, code: str, what: str):
        """Parse each present value; None from `parse` = a problem."""
        out: list = []
        for i, v in enumerate(values):
            if v is None:
                out.append(None)
                continue
            parsed = parse(v)
            if parsed is None:
                problems[i] = (code, f"{fd.label}“{shown(fd, v)}”{what}")
            out.append(parsed)
        return out, problems

    def _split(self, value: str) -> list[str]:
        return [p for p in (s.strip() for s in _LIST_SEP.split(value)) if p]

    def _enum_lists(self, fd: FieldDef, values: list, problems: dict) -> tuple[list, dict]:
        m = self.enum_maps[fd.enum]
        out: list = []
        for i, v in enumerate(values):
            if v is None:
                out.append(None)
                continue
            codes, unknown = [], []
            for item in self._split(v):
                code = m.get(item) or m.get(item.upper())
                if code is None:
                    unknown.append(item)
                elif code not in codes:
                    codes.append(code)
            if unknown:
                allowed = "、".join(e.label for e in self.catalog.enums[fd.enum])
                problems[i] = (
                    "invalid_enum",
                    f"{fd.label}含有不在目录中的值“{'、'.join(unknown)}”（可选：{allowed}）",
                )
            out.append(codes or None)
        return out, problems

    def _text_lists(self, fd: FieldDef, values: list, problems: dict) -> tuple[list, dict]:
        out: list = []
        for i, v in enumerate(values):
            items = self._split(v) if v is not None else []
            if fd.max_length is not None and i not in problems:
                for item in items:
                    if len(item) > fd.max_length:
                        problems[i] = (
                            "too_long",
                            f"{fd.label}中的“{shown(fd, item)}”超过{fd.max_length}个字符",
                        )
                        break
            out.append(items or None)
        return out, problems


def _iso_date(v: str) -> str | None:
    d = parse_date(v)
    return d.isoformat() if d else None

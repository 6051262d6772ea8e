"""Column-wise normalisation of raw cell text, per catalog field type.

`normalise_column()` takes one column of a chunk (raw strings, None = absent) and
returns the normalised values plus per-position problems. It works a column at a
time so the common case (clean text) costs a few C-level passes, and type work
(dates, codes, enums, decimals) runs once per distinct value: codes, dates and
enum values repeat a lot in department batches.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from validation.catalog import Catalog, FieldDef
from validation.field_rules import check_org_code, check_registration_no, check_uscc, mask_id

# Control characters (Cc) and lone surrogates (bytes the declared charset could not
# decode, kept by the `surrogateescape` handler). Free text may carry tab/newline.
_BAD_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD_ANYWHERE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
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


class Normaliser:
    """Normalises columns for one catalog (enum maps and value caches built once)."""

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
        self._code_cache: dict[str, tuple[str, tuple[str, str] | None]] = {}

    # -- text pass ---------------------------------------------------------
    def clean_text(self, fd: FieldDef, raw: Sequence[str | None]) -> tuple[list[str | None], list[Problem]]:
        """Trim, NFC, refuse control characters / undecodable bytes; '' → None."""
        problems: list[Problem] = []
        present = [v for v in raw if v]
        joined = "\n".join(present)
        bad = _BAD_IN_TEXT if fd.type in FREE_TEXT_TYPES else _BAD_ANYWHERE
        values: list[str | None] = [v.strip() or None if v else None for v in raw]
        if bad.search(joined if fd.type in FREE_TEXT_TYPES else "".join(present)):
            for i, v in enumerate(values):
                if v is None:
                    continue
                m = bad.search(v)
                if m:
                    if _SURROGATE.search(v):
                        code, what = "invalid_encoding", "含有无法按声明的字符编码解读的字节"
                    else:
                        code, what = "control_character", f"含有控制字符 U+{ord(m[0]):04X}"
                    problems.append(Problem(i, code, f"{fd.label}{what}，控制字符和乱码不予接收"))
                    values[i] = None
        if not unicodedata.is_normalized("NFC", joined):
            values = [unicodedata.normalize("NFC", v) if v else v for v in values]
        return values, problems

    # -- per type ------------------------------------------------------------
    def column(self, fd: FieldDef, raw: Sequence[str | None]) -> tuple[list, list[Problem]]:
        values, problems = self.clean_text(fd, raw)
        t = fd.type
        if t == "text":
            if fd.is_code:
                values = self._map_unique(values, to_code)
            return values, problems
        if fd.is_code:  # uscc, org_code, registration_no, id_number
            return self._codes(fd, values, problems)
        if t == "date":
            return self._dates(fd, values, problems)
        if t == "enum":
            m = self.enum_maps[fd.enum]
            # unknown values pass through unchanged: the GE value-set check reports them
            return self._map_unique(values, lambda v: m.get(v) or m.get(v.upper()) or v), problems
        if t == "enum_list":
            return self._enum_lists(fd, values, problems)
        if t == "text_list":
            return self._text_lists(fd, values, problems)
        if t == "decimal":
            return self._decimals(fd, values, problems)
        raise ValueError(f"catalog field {fd.name}: unknown type {t!r}")

    @staticmethod
    def _map_unique(values: list, fn) -> list:
        cache: dict = {None: None}
        out = []
        append = out.append
        for v in values:
            try:
                append(cache[v])
            except KeyError:
                r = cache[v] = fn(v)
                append(r)
        return out

    def _codes(self, fd: FieldDef, values: list, problems: list[Problem]) -> tuple[list, list[Problem]]:
        check = {
            "uscc": check_uscc,
            "org_code": check_org_code,
            "registration_no": check_registration_no,
        }.get(fd.type)
        cache = self._code_cache
        out: list[str | None] = []
        for i, v in enumerate(values):
            if v is None:
                out.append(None)
                continue
            key = fd.type + "\x00" + v
            hit = cache.get(key)
            if hit is None:
                code = to_code(v)
                hit = (code, check(code) if check else None)
                if len(cache) > 500_000:
                    cache.clear()
                cache[key] = hit
            code, problem = hit
            out.append(code)
            if problem:
                problems.append(Problem(i, problem[0], f"{fd.label}“{shown(fd, code)}”{problem[1]}"))
        return out, problems

    def _dates(self, fd: FieldDef, values: list, problems: list[Problem]) -> tuple[list, list[Problem]]:
        def iso(v: str) -> str | None:
            d = parse_date(v)
            return d.isoformat() if d else None

        what = "不是有效日期（格式应为YYYY-MM-DD、YYYY/MM/DD、YYYYMMDD或YYYY年M月D日）"
        return self._parse_each(fd, values, problems, iso, "invalid_date", what)

    def _decimals(self, fd: FieldDef, values: list, problems: list[Problem]) -> tuple[list, list[Problem]]:
        return self._parse_each(fd, values, problems, canonical_decimal, "invalid_decimal", "不是有效的数字")

    @staticmethod
    def _parse_each(fd: FieldDef, values: list, problems: list[Problem], parse, code: str, what: str):
        """Parse each present value (once per distinct value); None from `parse` = a problem."""
        cache: dict[str, str | None] = {}
        out: list[str | None] = []
        for i, v in enumerate(values):
            if v is None:
                out.append(None)
                continue
            try:
                parsed = cache[v]
            except KeyError:
                parsed = cache[v] = parse(v)
            if parsed is None:
                problems.append(Problem(i, code, f"{fd.label}“{shown(fd, v)}”{what}"))
            out.append(parsed)
        return out, problems

    def _split(self, value: str) -> list[str]:
        return [p for p in (s.strip() for s in _LIST_SEP.split(value)) if p]

    def _enum_lists(self, fd: FieldDef, values: list, problems: list[Problem]) -> tuple[list, list[Problem]]:
        m = self.enum_maps[fd.enum]
        cache: dict[str, tuple[list[str] | None, list[str]]] = {}
        out: list[list[str] | None] = []
        for i, v in enumerate(values):
            if v is None:
                out.append(None)
                continue
            hit = cache.get(v)
            if hit is None:
                codes, unknown = [], []
                for item in self._split(v):
                    code = m.get(item) or m.get(item.upper())
                    if code is None:
                        unknown.append(item)
                    elif code not in codes:
                        codes.append(code)
                hit = cache[v] = (codes or None, unknown)
            codes, unknown = hit
            if unknown:
                allowed = "、".join(e.label for e in self.catalog.enums[fd.enum])
                problems.append(
                    Problem(
                        i,
                        "invalid_enum",
                        f"{fd.label}含有不在目录中的值“{'、'.join(unknown)}”（可选：{allowed}）",
                    )
                )
            out.append(list(codes) if codes else None)
        return out, problems

    def _text_lists(self, fd: FieldDef, values: list, problems: list[Problem]) -> tuple[list, list[Problem]]:
        out: list[list[str] | None] = []
        for i, v in enumerate(values):
            items = self._split(v) if v is not None else []
            if fd.max_length is not None:
                for item in items:
                    if len(item) > fd.max_length:
                        problems.append(
                            Problem(
                                i, "too_long", f"{fd.label}中的“{shown(fd, item)}”超过{fd.max_length}个字符"
                            )
                        )
                        break
            out.append(items or None)
        return out, problems

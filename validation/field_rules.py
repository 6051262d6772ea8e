"""Code checks for identifiers (check characters per the national standards).

Each `check_*` takes a normalised code (half-width, upper case, no spaces) and
returns None when valid, otherwise `(code, problem)`: a stable rejection code and
the problem in plain Chinese (the caller prefixes the field's label and value).

Libraries were checked against the standards:
- python-stdnum `cn.uscc.calc_check_digit` agrees with GB 32100-2015 char 18 and
  is used; its `validate()` is not: it demands digits in chars 1–2 (rejecting
  valid registration-authority codes such as N2, Y1, A1) and never checks the
  GB 11714 check character inside chars 9–17.
- `cn.ric.calc_check_digit` agrees with GB 11643 and is used; `cn.ric.validate()`
  also rejects birth-place codes missing from its own table, losing valid data.
- GB 11714 (organisation code) has no stdnum module: implemented here.
"""

from __future__ import annotations

import datetime as dt
import re
from operator import mul

from stdnum.cn import ric as _ric
from stdnum.cn import uscc as _uscc

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015: no I, O, S, V, Z
_USCC_SHAPE = re.compile(r"[0-9A-HJ-NP-RTUWXY]{2}[0-9]{6}[0-9A-HJ-NP-RTUWXY]{10}")
_ORG_SHAPE = re.compile(r"[0-9A-Z]{8}[0-9X]")
_RIC_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_REG_NO_SHAPE = re.compile(r"[0-9]{15}")
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_VALUE = {ch: int(ch, 36) for ch in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)  # GB 32100-2015
_USCC_VALUE = {ch: i for i, ch in enumerate(USCC_CHARS)}

Problem = tuple[str, str] | None


def org_code_check_char(body: str) -> str:
    """GB 11714: C = 11 - (Σ value·weight mod 11); 10 → 'X', 11 → '0'."""
    if len(body) == 8:
        try:  # table look-ups in C; a character outside 0-9A-Z falls through to int(ch, 36)
            total = sum(map(mul, map(_ORG_VALUE.__getitem__, body), _ORG_WEIGHTS))
        except KeyError:
            total = None
    else:
        total = None
    if total is None:
        total = sum(int(ch, 36) * w for ch, w in zip(body, _ORG_WEIGHTS, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def uscc_check_char(first17: str) -> str:
    return _uscc.calc_check_digit(first17)


def _uscc_check_char_fast(first17: str) -> str:
    """Same as `uscc_check_char` (stdnum) for 17 characters of the USCC alphabet, ~10x
    faster (no compact(), table look-ups in C); tests compare the two."""
    total = sum(map(mul, map(_USCC_VALUE.__getitem__, first17), _USCC_WEIGHTS))
    return USCC_CHARS[(31 - total) % 31]


def check_org_code(code: str) -> Problem:
    if len(code) != 9 or not _ORG_SHAPE.fullmatch(code):
        return ("invalid_org_code", "应为8位数字或大写字母加1位校验码（GB 11714）")
    if org_code_check_char(code[:8]) != code[8]:
        return ("invalid_org_code", "校验码错误（GB 11714）")
    return None


def check_uscc(code: str) -> Problem:
    if len(code) != 18:
        return ("invalid_uscc", f"应为18位，实为{len(code)}位（GB 32100-2015）")
    if not _USCC_SHAPE.fullmatch(code):
        return ("invalid_uscc", "含有不允许的字符或格式不符（GB 32100-2015）")
    if _uscc_check_char_fast(code[:17]) != code[17]:  # shape checked: all in the alphabet
        return ("invalid_uscc", "校验位错误（GB 32100-2015）")
    if org_code_check_char(code[8:16]) != code[16]:
        return ("invalid_uscc", "第9–17位组织机构代码的校验码错误（GB 11714）")
    return None


def check_resident_id(code: str, today: dt.date) -> Problem:
    if len(code) != 18 or not _RIC_SHAPE.fullmatch(code):
        return ("invalid_id_number", "应为17位数字加1位校验码（GB 11643）")
    try:
        birth = dt.date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    except ValueError:
        return ("invalid_id_number", "出生日期无效（GB 11643）")
    if birth > today or birth.year < 1850:
        return ("invalid_id_number", "出生日期不合理（GB 11643）")
    if _ric.calc_check_digit(code) != code[17]:
        return ("invalid_id_number", "校验码错误（GB 11643）")
    return None


def check_registration_no(code: str) -> Problem:
    if not _REG_NO_SHAPE.fullmatch(code):
        return ("invalid_registration_no", "应为15位数字")
    return None


def id_shown_ends(length: int) -> tuple[int, int]:
    """How many leading and trailing characters of an ID number a mask shows: 4 and 4 of an
    18-character resident ID; of a shorter one at most a third (9 characters: 2 and 1; up to 8: none)."""
    if length >= 18:
        return 4, 4
    if length <= 8:
        return 0, 0
    shown = length // 3
    return shown - shown // 2, shown // 2


def mask_id(value: str) -> str:
    """Never echo a full ID number: its shown ends (`id_shown_ends`) around ****."""
    front, back = id_shown_ends(len(value))
    return f"{value[:front]}****{value[len(value) - back:]}"

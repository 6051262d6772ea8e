"""Turn validated rows into staged rows: natural key, content hash, subject
identifiers (ID numbers encrypted + blind-indexed here, then dropped) and the
publicity window."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from credit.identity import id_number_encrypt, id_number_index, id_number_mask
from credit.identity import name_key as _name_key
from credit.publicity import Window, publicity_window
from validation.catalog import SUBJECT_KEY, Catalog, Category
from validation.natural_keys import natural_key_normalise

STAGED_COLUMNS = (
    "batch_id", "row", "op", "status", "natural_key", "content_hash", "payload", "subject_kind", "uscc",
    "org_code", "registration_no", "id_type", "id_number_index", "id_number_encrypted", "id_number_masked",
    "subject_name", "subject_name_key", "publicity_from", "publicity_until", "publicity_ends_on",
    "publicity_never",
)


class Unidentified(Exception):
    """A row names no code its subject can be found by."""


_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _dumps(value) -> str:
    return _ENCODER.encode(value)


# names repeat (one subject, many rows): NFKC once per distinct name
name_key = lru_cache(maxsize=65536)(_name_key)


class _Windows:
    """publicity_window memoised on the only values it reads (rows of a batch share a handful of dates)."""

    def __init__(self, category: Category, catalog: Catalog):
        rule = category.publicity
        self.category, self.catalog = category, catalog
        self.fields = tuple(f for f in ("usage_scope", "severity", *rule.never_if, rule.from_field,
                                        rule.until_field) if f)
        self.cache: dict[tuple, Window] = {}

    def __call__(self, values: dict) -> Window:
        key = tuple(map(values.get, self.fields))
        try:
            return self.cache[key]
        except KeyError:
            window = self.cache[key] = publicity_window(self.category, values, self.catalog)
            return window
        except TypeError:  # an unhashable value (a list): no memo
            return publicity_window(self.category, values, self.catalog)


def stage_row(*, batch_id: int, row: int, op: str, values: dict, category: Category, catalog: Catalog,
              windows: _Windows | None = None) -> tuple:
    values = dict(values)
    values.pop("op", None)
    registration = category.name == "registration"
    kind = values.get("subject_type", "") or ""
    uscc = values.get("uscc", "") or ""
    org_code = values.get("org_code", "") or ""
    registration_no = values.get("registration_no", "") or ""
    id_type = values.get("id_type", "") or ""
    index = encrypted = None
    masked = ""
    number = values.pop("id_number", None)
    if number:
        index, encrypted, masked = id_number_index(number), id_number_encrypt(number), id_number_mask(number)
        values["id_number"] = masked  # the payload keeps only the mask
    if registration:
        subject_key, org_code = uscc, uscc[8:17]
    elif kind == "natural_person" or (index and not uscc):
        subject_key = f"id:{index}" if index else ""
    else:
        subject_key = uscc or (f"org_code:{org_code}" if org_code else "") or (
            f"registration_no:{registration_no}" if registration_no else "")
    if not subject_key and (op != "withdraw" or SUBJECT_KEY in category.natural_key):
        raise Unidentified()
    spelt = {k: str(values.get(k, "")) for k in category.natural_key if k != SUBJECT_KEY}
    keyed = {k: natural_key_normalise(v) for k, v in spelt.items()}
    natural_key = "|".join(subject_key if k == SUBJECT_KEY else keyed[k] for k in category.natural_key)
    payload = _dumps(values)  # serialised once: the staged payload and the text the content hash is taken of
    if op == "withdraw":
        content_hash = hashlib.sha256(f"withdraw\x1f{natural_key}".encode()).hexdigest()
        window_from = window_until = window_ends = None
        never = ""
    else:
        # the key's spelling is not content: `〔2026〕` resent as `[2026]` is the same row, unchanged
        hashed = _key_spelling_neutral(payload, spelt, keyed)
        content_hash = hashlib.sha256((hashed + (f"\x1f{index}" if index else "")).encode()).hexdigest()
        window = windows(values) if windows else publicity_window(category, values, catalog)
        window_from, window_until, window_ends, never = window.starts_on, window.until, window.ends_on, window.never
    name = values.get("name" if registration else "subject_name", "") or ""
    return (
        batch_id, row, op, "valid", natural_key, content_hash, payload, kind, uscc, org_code,
        registration_no, id_type, index or "", encrypted, masked, name, name_key(name), window_from,
        window_until, window_ends, never,
    )


def _key_spelling_neutral(payload: str, spelt: dict[str, str], keyed: dict[str, str]) -> str:
    """The payload text with each natural-key value in its normalised form, i.e. `_dumps` of the values with
    those replaced, without serialising the row again. `"field":` with bare quotes occurs in the text only
    as that key (quotes inside a string are escaped)."""
    for field, value in spelt.items():
        if keyed[field] != value:
            payload = payload.replace(f'"{field}":{_dumps(value)}', f'"{field}":{_dumps(keyed[field])}', 1)
    return payload


@dataclass(frozen=True)
class StagedChunk:
    """A validated chunk made ready for the database: its staged rows (tuples in STAGED_COLUMNS
    order), and its rejections (validation's and `subject_unidentified`)."""

    first_row: int
    last_row: int
    rows: list[tuple]
    rejections: list


def stage_chunk(chunk, *, batch_id: int, category: Category, catalog: Catalog) -> StagedChunk:
    """No database here: the pipeline runs it in its validating thread, one chunk ahead of the COPY."""
    from validation.parsing import Rejection

    rows, rejections = [], list(chunk.rejections)
    for kind, item in stage_rows(batch_id=batch_id, rows=chunk.rows, category=category, catalog=catalog):
        if kind == "staged":
            rows.append(item)
        else:
            rejections.append(Rejection(item, "uscc", "subject_unidentified", UNIDENTIFIED_MESSAGE))
    rejections.sort(key=lambda r: r.row)
    return StagedChunk(chunk.first_row, chunk.last_row, rows, rejections)


UNIDENTIFIED_MESSAGE = "未提供可识别主体的代码：统一社会信用代码、组织机构代码、工商注册号或证件号码至少填一项"


def stage_rows(*, batch_id: int, rows: Iterable, category: Category, catalog: Catalog):
    """Yields ('staged', tuple) or ('unidentified', row number)."""
    windows = _Windows(category, catalog)
    for r in rows:
        try:
            yield "staged", stage_row(batch_id=batch_id, row=r.row, op=r.op, values=r.values, category=category,
                                      catalog=catalog, windows=windows)
        except Unidentified:
            yield "unidentified", r.row

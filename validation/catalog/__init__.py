"""The catalog as typed, immutable Python objects.

`catalog_from_document()` turns the YAML document (or the JSONB copy kept in
the database by `load_catalog`) into a `Catalog`; `current_catalog()` is what
the rest of the platform uses: the newest version loaded into the database,
cached per process and refreshed when a newer version appears.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

CATALOG_DIR = Path(__file__).resolve().parent
CATALOG_FILE = CATALOG_DIR / "catalog-v1.yaml"

SUBJECT_KEY = "subject_key"  # natural-key token: the row's subject (USCC or ID number)


@dataclass(frozen=True)
class EnumValue:
    code: str
    label: str


@dataclass(frozen=True)
class FieldDef:
    name: str
    label: str
    type: str
    required: bool = False
    enum: str | None = None
    default: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    min: float | None = None
    not_future: bool = False
    code: bool = False  # normalise like a code: half-width, upper case, no spaces
    aliases: tuple[str, ...] = ()  # other column headings that mean this field (department systems' exports)
    heading: str | None = None  # the national standard's heading, where it is not the label (templates)

    @property
    def template_heading(self) -> str:
        return self.heading or self.label

    @property
    def is_code(self) -> bool:
        return self.code or self.type in {"uscc", "org_code", "registration_no", "id_number"}


@dataclass(frozen=True)
class Rule:
    rule: str
    field: str
    params: dict[str, Any]


@dataclass(frozen=True)
class PublicityRule:
    rule: str  # always | window
    from_field: str | None = None
    until_field: str | None = None
    until_inclusive: bool = True
    never_if: dict[str, str] = field(default_factory=dict)
    repairable: bool = False


@dataclass(frozen=True)
class PenaltyPeriods:
    effective_from: dt.date
    source: str
    default_until: dict[str, str]  # severity -> ISO 8601 duration
    repair_not_before: dict[str, str]


@dataclass(frozen=True)
class Category:
    name: str
    label: str
    natural_key: tuple[str, ...]
    fields: tuple[FieldDef, ...]  # row fields + subject fields + own fields + usage_scope
    rules: tuple[Rule, ...]
    has_subject_fields: bool
    publicity: PublicityRule

    @cached_property
    def fields_by_name(self) -> dict[str, FieldDef]:
        return {f.name: f for f in self.fields}

    @cached_property
    def fields_by_label(self) -> dict[str, FieldDef]:
        return {f.label: f for f in self.fields}

    @cached_property
    def fields_by_heading(self) -> dict[str, FieldDef]:
        """Every heading a column may carry (name, label, aliases), by its matching form."""
        return {key: f for key, f in self.heading_claims() if key}

    def heading_claims(self) -> list[tuple[str, FieldDef]]:
        """(matching form, field) for every heading of every field, a field's own heading once."""
        claims = []
        for f in self.fields:
            keys = dict.fromkeys(heading_key(h) for h in (f.name, f.label, f.template_heading, *f.aliases))
            claims += [(key, f) for key in keys]
        return claims

    def field_for_header(self, header: str) -> FieldDef | None:
        """A column heading may be the field name, its Chinese label or one of its aliases (the national
        standard's headings and pinyin codes), compared in the form `heading_key` gives."""
        return self.fields_by_name.get(header) or self.fields_by_heading.get(heading_key(header))

    @property
    def joined_fields(self) -> set[str]:
        """List fields: several columns may carry parts of one (the older edition's 处罚类别1, 处罚类别2)."""
        return {f.name for f in self.fields if f.type in {"enum_list", "text_list"}}

    @property
    def required_fields(self) -> list[FieldDef]:
        return [f for f in self.fields if f.required]


@dataclass(frozen=True)
class Catalog:
    version: int
    effective_from: dt.date
    enums: dict[str, tuple[EnumValue, ...]]
    categories: dict[str, Category]
    penalty_periods: tuple[PenaltyPeriods, ...]
    document: dict[str, Any]

    def category(self, name: str) -> Category:
        return self.categories[name]

    def enum_codes(self, enum: str) -> set[str]:
        return {v.code for v in self.enums[enum]}

    def enum_label(self, enum: str, code: str) -> str:
        for v in self.enums[enum]:
            if v.code == code:
                return v.label
        return code

    def penalty_periods_on(self, day: dt.date) -> PenaltyPeriods:
        """The publicity periods in force on `day` (the newest that had begun)."""
        in_force = [p for p in self.penalty_periods if p.effective_from <= day]
        return max(in_force or self.penalty_periods, key=lambda p: p.effective_from)


_SPACES = re.compile(r"\s+")


def heading_key(heading: str) -> str:
    """A column heading in the form headings are matched in: NFKC (full- and half-width brackets alike),
    without spaces or a trailing colon, case folded (pinyin codes: CF_WSH, cf_wsh)."""
    text = _SPACES.sub("", unicodedata.normalize("NFKC", heading.lstrip("\ufeff")))
    return text.rstrip(":").casefold()


def _field(raw: dict[str, Any], aliases: tuple[str, ...] = ()) -> FieldDef:
    known = {k: raw[k] for k in FieldDef.__dataclass_fields__ if k in raw}
    known["aliases"] = tuple(str(a) for a in (*known.get("aliases", ()), *aliases))
    return FieldDef(**known)


def _rule(raw: dict[str, Any]) -> Rule:
    params = {k: v for k, v in raw.items() if k not in {"rule", "field"}}
    return Rule(rule=raw["rule"], field=raw["field"], params=params)


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def catalog_from_document(doc: dict[str, Any]) -> Catalog:
    enums = {
        name: tuple(EnumValue(code=str(v["code"]), label=str(v["label"])) for v in values)
        for name, values in doc["enums"].items()
    }
    row_fields = [_field(f) for f in doc.get("row_fields", [])]
    subject_fields = [_field(f) for f in doc["subject_fields"]]
    subject_rules = [_rule(r) for r in doc.get("subject_rules", [])]
    usage_scope = _field(doc["usage_scope_field"])
    categories = {}
    for name, raw in doc["categories"].items():
        extra = {k: tuple(v) for k, v in (raw.get("aliases") or {}).items()}  # this category's own headings
        own = [_field(f, extra.get(f["name"], ())) for f in raw["fields"]]
        fields = [_with_aliases(f, extra) for f in row_fields]
        rules = []
        if raw.get("subject_fields", True):
            own_names = {f.name for f in own}
            fields += [_with_aliases(f, extra) for f in subject_fields if f.name not in own_names]
            rules += subject_rules
        fields += own
        if raw.get("usage_scope", False):
            fields.append(_with_aliases(usage_scope, extra))
        unknown = set(extra) - {f.name for f in fields}
        if unknown:
            raise ValueError(f"category {name}: aliases for fields it does not have: {sorted(unknown)}")
        rules += [_rule(r) for r in raw.get("rules", [])]
        pub = doc["publicity"][name]
        categories[name] = Category(
            name=name,
            label=raw["label"],
            natural_key=tuple(raw["natural_key"]),
            fields=tuple(fields),
            rules=tuple(rules),
            has_subject_fields=bool(raw.get("subject_fields", True)),
            publicity=PublicityRule(
                rule=pub["rule"],
                from_field=pub.get("from"),
                until_field=pub.get("until"),
                until_inclusive=pub.get("until_inclusive", True),
                never_if=dict(pub.get("never_if", {})),
                repairable=bool(pub.get("repairable", False)),
            ),
        )
    periods = tuple(
        PenaltyPeriods(
            effective_from=_date(p["effective_from"]),
            source=p.get("source", ""),
            default_until=dict(p["default_until"]),
            repair_not_before=dict(p["repair_not_before"]),
        )
        for p in doc["penalty_publicity_periods"]
    )
    return Catalog(
        version=int(doc["version"]),
        effective_from=_date(doc["effective_from"]),
        enums=enums,
        categories=categories,
        penalty_periods=periods,
        document=doc,
    )


def _with_aliases(f: FieldDef, extra: dict[str, tuple[str, ...]]) -> FieldDef:
    more = extra.get(f.name)
    return replace(f, aliases=(*f.aliases, *more)) if more else f


def heading_conflicts(catalog: Catalog) -> list[str]:
    """Headings that two fields of one category claim: a column under them could not be placed."""
    found = []
    for cat in catalog.categories.values():
        owner: dict[str, FieldDef] = {}
        for key, f in cat.heading_claims():
            other = owner.setdefault(key, f)
            if other.name != f.name:
                found.append(f"{cat.name}: “{key}” is claimed by both {other.name} and {f.name}")
    return found


def read_catalog_file(path: Path = CATALOG_FILE) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def file_catalog(path: Path = CATALOG_FILE) -> Catalog:
    """The catalog straight from its file (for tools and benchmarks without a database)."""
    return catalog_from_document(read_catalog_file(path))


_cache: dict[str, Catalog] = {}


def current_catalog() -> Catalog:
    """The newest catalog version loaded into the database (falls back to the file
    when none is loaded yet, e.g. before the first migration)."""
    from validation.models import CatalogVersion

    # the newest version's identity first: the document itself is read only when it is not cached yet
    row = CatalogVersion.objects.order_by("-version").values("pk", "version", "sha256").first()
    if row is None:
        return _cache.setdefault("file", file_catalog())
    key = f"{row['version']}:{row['sha256']}"
    if key not in _cache:
        document = CatalogVersion.objects.values_list("document", flat=True).get(pk=row["pk"])
        _cache.clear()
        _cache[key] = catalog_from_document(document)
    return _cache[key]

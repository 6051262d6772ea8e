"""Reads of the public projection, always through the `public` database alias (the
role that sees only schema public_view). Nothing here touches the store's tables."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.db import connections

from credit.identity import code_normalise
from public.models import PublicAlias, PublicRecord, PublicSubject
from public.search import Query, name_bigrams
from validation.catalog import Catalog, file_catalog

DB = "public"
PAGE_SIZE = 20
MATCH_CAP = 1000  # a search lists at most this many matches; more means "be more specific"
CATEGORY_ORDER = ("admin_license", "admin_penalty", "red_list", "black_list")
ETAG_VERSION = "1"  # bump when pages change shape, so caches drop old copies


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    """Labels and enumerations only: from the catalog file, so the public site needs no store table."""
    return file_catalog()


@dataclass
class SearchHit:
    id: int
    code: str
    name: str
    kind: str
    status: str
    id_number_masked: str | None
    former_name: str | None = None
    penalties: int = 0
    black_listed: bool = False
    red_listed: bool = False
    under_objection: bool = False

    @property
    def status_label(self) -> str:
        return status_label(self.status)


def status_label(status: str) -> str:
    return catalog().enum_label("registration_status", status) if status else ""


def kind_label(kind: str) -> str:
    return catalog().enum_label("subject_type", kind)


@dataclass
class SearchPage:
    query: Query
    page: int
    hits: list[SearchHit] = field(default_factory=list)
    total: int = 0  # capped at MATCH_CAP + 1

    @property
    def capped(self) -> bool:
        return self.total > MATCH_CAP

    @property
    def pages(self) -> int:
        return max(1, -(-min(self.total, MATCH_CAP) // PAGE_SIZE))


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_SEARCH_SQL = """
WITH candidates AS (
    {branches}
), matched AS (
    SELECT DISTINCT ON (c.id) c.id, c.former_name FROM candidates c ORDER BY c.id, c.former_name NULLS FIRST
)
SELECT s.id, s.code, s.name, s.kind, s.status, s.id_number_masked, m.former_name, count(*) OVER () AS total
FROM matched m JOIN public_view.subjects s ON s.id = m.id
ORDER BY (s.uscc IS NOT DISTINCT FROM %(code)s) DESC, (s.search_name = %(name)s) DESC,
         (s.search_name LIKE %(prefix)s ESCAPE '\\') DESC, (m.former_name IS NULL) DESC, length(s.search_name), s.id
LIMIT %(limit)s OFFSET %(offset)s
"""
_NAME_BRANCHES = [
    """(SELECT s.id, NULL::text AS former_name FROM public_view.subjects s
        WHERE s.name_bigrams @> %(bigrams)s::text[] AND s.search_name LIKE %(infix)s ESCAPE '\\' LIMIT %(cap)s)""",
    """(SELECT a.subject_id, a.value FROM public_view.aliases a
        WHERE a.kind = 'former_name' AND a.name_bigrams @> %(bigrams)s::text[]
          AND a.search_name LIKE %(infix)s ESCAPE '\\' LIMIT %(cap)s)""",
]
_CODE_BRANCHES = [
    """(SELECT s.id, NULL::text FROM public_view.subjects s WHERE s.uscc = %(code)s)""",
    """(SELECT s.id, NULL::text FROM public_view.subjects s WHERE s.uscc LIKE %(code_infix)s LIMIT %(cap)s)""",
    """(SELECT a.subject_id, NULL::text FROM public_view.aliases a
        WHERE a.kind <> 'former_name' AND a.value_key LIKE %(code_infix)s LIMIT %(cap)s)""",
]

_BADGES_SQL = """
SELECT subject_id,
       count(*) FILTER (WHERE category = 'admin_penalty'),
       coalesce(bool_or(category = 'black_list'), false),
       coalesce(bool_or(category = 'red_list'), false),
       coalesce(bool_or(under_objection), false)
FROM public_view.records WHERE subject_id = ANY(%s) AND category <> 'registration'
GROUP BY subject_id
"""


def subject_search(*, query: Query, page: int = 1) -> SearchPage:
    """Subjects whose name or former name contains the query (any 2+ consecutive characters),
    or whose code (USCC, registration number, organisation code) contains it."""
    page = max(1, min(page, MATCH_CAP // PAGE_SIZE))
    result = SearchPage(query=query, page=page)
    if not query.searchable:
        return result
    branches = list(_NAME_BRANCHES)
    params: dict[str, Any] = {
        "bigrams": name_bigrams(query.name), "name": query.name, "infix": f"%{_like_escape(query.name)}%",
        "prefix": f"{_like_escape(query.name)}%", "cap": MATCH_CAP + 1, "code": query.code,
        "limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE,
    }
    if query.code:
        branches += _CODE_BRANCHES
        params["code_infix"] = f"%{query.code}%"
    with connections[DB].cursor() as cursor:
        cursor.execute(_SEARCH_SQL.format(branches="\n    UNION ALL\n    ".join(branches)), params)
        rows = cursor.fetchall()
        result.hits = [SearchHit(id=r[0], code=r[1], name=r[2], kind=r[3], status=r[4], id_number_masked=r[5],
                                 former_name=r[6]) for r in rows]
        result.total = rows[0][7] if rows else 0
        if result.hits:
            cursor.execute(_BADGES_SQL, [[h.id for h in result.hits]])
            badges = {r[0]: r[1:] for r in cursor.fetchall()}
            for hit in result.hits:
                hit.penalties, hit.black_listed, hit.red_listed, hit.under_objection = badges.get(
                    hit.id, (0, False, False, False))
    if not rows and page > 1:  # past the last page: the total is still worth showing
        result.total = subject_search(query=query, page=1).total
    return result


def subject_get(*, code: str) -> PublicSubject | None:
    """The public subject with this code: USCC, or "N-<id>" for a subject without one."""
    value = code_normalise(code)
    subjects = PublicSubject.objects.using(DB)
    if value.startswith("N-") and value[2:].isdigit():
        return subjects.filter(id=int(value[2:]), uscc__isnull=True).first()
    return subjects.filter(uscc=value).first()


def subject_code_for_alias(*, code: str) -> str | None:
    """The canonical code of the subject a legacy code (registration number, organisation code) names."""
    alias = (PublicAlias.objects.using(DB).filter(value_key=code_normalise(code)).exclude(kind="former_name")
             .select_related("subject").first())
    return alias.subject.code if alias else None


def subject_etag(*, subject: PublicSubject) -> str:
    """Changes whenever the page would: the subject, any public record (added, changed, leaving publicity,
    objection opened or closed), and the calendar day (publicity windows move with it)."""
    with connections[DB].cursor() as cursor:
        cursor.execute(
            "SELECT count(*), max(updated_at), count(*) FILTER (WHERE under_objection), "
            "coalesce(sum(id), 0), public_view.today() FROM public_view.records WHERE subject_id = %s",
            [subject.id])
        count, last, objections, ids, today = cursor.fetchone()
    raw = f"{ETAG_VERSION}|{subject.id}|{subject.updated_at.isoformat()}|{count}|{last}|{objections}|{ids}|{today}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


@dataclass
class ShownField:
    name: str
    label: str
    value: str


@dataclass
class ShownRecord:
    id: int
    category: str
    fields: list[ShownField]
    data: dict[str, Any]
    department: str
    updated_at: dt.datetime
    publicity_from: dt.date | None
    publicity_until: dt.date | None
    under_objection: bool


@dataclass
class ShownCategory:
    name: str
    label: str
    records: list[ShownRecord]


@dataclass
class SubjectProfile:
    subject: PublicSubject
    former_names: list[str]
    legacy_codes: list[tuple[str, str]]
    registration: ShownRecord | None
    categories: list[ShownCategory]

    @property
    def penalties(self) -> int:
        return sum(len(c.records) for c in self.categories if c.name == "admin_penalty")

    @property
    def black_listed(self) -> bool:
        return any(c.records for c in self.categories if c.name == "black_list")

    @property
    def red_listed(self) -> bool:
        return any(c.records for c in self.categories if c.name == "red_list")

    @property
    def under_objection(self) -> bool:
        return any(r.under_objection for c in self.categories for r in c.records)


def _shown_value(cat: Catalog, fd, value: Any) -> str:
    if value is None or value == "" or value == []:
        return ""
    if fd.type == "enum" and fd.enum:
        return cat.enum_label(fd.enum, str(value))
    if fd.type == "enum_list" and fd.enum:
        values = value if isinstance(value, list) else str(value).split(";")
        return "；".join(cat.enum_label(fd.enum, str(v)) for v in values)
    if isinstance(value, list):
        return "；".join(str(v) for v in value)
    return str(value)


_NOT_SHOWN = {"op", "usage_scope", "subject_name", "subject_type", "uscc", "registration_no", "org_code",
              "legal_representative", "id_type", "id_number"}


def record_shown(record: PublicRecord) -> ShownRecord:
    """A record's own fields (the catalog's, in its order, with its labels); the subject block is the page's."""
    cat = catalog()
    category = cat.categories.get(record.category)
    fields = []
    if category is not None:
        for fd in category.fields:
            if fd.name in _NOT_SHOWN and record.category != "registration":
                continue
            if fd.name in {"op", "id_number", "publicity_until"}:  # the computed publicity_until is shown instead
                continue
            value = _shown_value(cat, fd, record.data.get(fd.name))
            if value:
                fields.append(ShownField(name=fd.name, label=fd.label, value=value))
    return ShownRecord(id=record.id, category=record.category, fields=fields, data=record.data,
                       department=record.department_name, updated_at=record.updated_at,
                       publicity_from=record.publicity_from, publicity_until=record.publicity_until,
                       under_objection=record.under_objection)


def subject_profile(*, subject: PublicSubject) -> SubjectProfile:
    cat = catalog()
    records = list(PublicRecord.objects.using(DB).filter(subject_id=subject.id)
                   .order_by("category", "-publicity_from", "-updated_at", "-id"))
    aliases = list(PublicAlias.objects.using(DB).filter(subject_id=subject.id).order_by("kind", "id")
                   .values_list("kind", "value"))
    registration = next((record_shown(r) for r in records if r.category == "registration"), None)
    categories = [
        ShownCategory(name=name, label=cat.categories[name].label,
                      records=[record_shown(r) for r in records if r.category == name])
        for name in CATEGORY_ORDER if name in cat.categories
    ]
    return SubjectProfile(
        subject=subject,
        former_names=[v for k, v in aliases if k == "former_name"],
        legacy_codes=[(k, v) for k, v in aliases if k != "former_name"],
        registration=registration,
        categories=categories,
    )

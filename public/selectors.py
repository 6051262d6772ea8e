"""Reads of the public projection, always through the `public` database alias (the role that may only call the
functions of schema public_view). Nothing here touches the store's tables.

The alias connects with server-side binding and prepares every statement on its first run (OPTIONS in
config/settings.py): planning the search's ranking costs more than running it."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from django.conf import settings
from django.db import Error, connections

from credit.identity import code_normalise
from public.search import Query, name_bigrams
from validation.catalog import Catalog, catalog_from_document, file_catalog

DB = "public"
T = TypeVar("T")
PAGE_SIZE = 20  # search hits a page
RECORDS_PAGE_SIZE = 20  # a subject's records of one category a page
MATCH_CAP = 1000  # a search lists at most this many matches; more means "be more specific"
CAPPED_HINT = (f"相符结果超过 {MATCH_CAP} 条，只列出排在前面的 {MATCH_CAP} 条。"
               "请输入更完整的名称（例如加上地区、字号或行业）或统一社会信用代码。")
COUNT_CAP = 1000  # a subject's records of a category are counted up to this; the count says "more than" beyond
ETAG_VERSION = "2"  # bump when pages change shape, so caches drop old copies


def _read(work: Callable[[Any], T]) -> T:
    """`work(cursor)` on the public connection. The alias has no per-request health check (a `SELECT 1` round
    trip before every page's one query); it only reads, so when the kept connection turns out to be dead (server
    restarted, connection dropped while idle) the work runs once more on a new connection. Any other error is
    raised."""
    connection = connections[DB]
    try:
        with connection.cursor() as cursor:
            return work(cursor)
    except Error:  # Django's OperationalError or InterfaceError around psycopg's
        # Only now, on the error path, the round trip that tells a dead connection from a bad statement.
        if connection.in_atomic_block or connection.connection is None or connection.is_usable():
            raise
        connection.close()
    with connection.cursor() as cursor:
        return work(cursor)


# --- The catalog: categories, labels and their order come from the one loaded into the database ---------------

_NOT_SHOWN = {"op", "usage_scope", "subject_name", "subject_type", "uscc", "registration_no", "org_code",
              "legal_representative", "id_type", "id_number"}


@dataclass(frozen=True)
class ShownField:
    """How a catalog field is shown: its label, and its enumeration's labels when it has one."""

    name: str
    label: str
    type: str
    enum_labels: dict[str, str] | None

    def value(self, value: Any) -> str:
        if value is None or value == "" or value == []:
            return ""
        if self.enum_labels is not None:
            if self.type == "enum":
                return self.enum_labels.get(str(value), str(value))
            values = value if isinstance(value, list) else str(value).split(";")
            return "；".join(self.enum_labels.get(str(v), str(v)) for v in values)
        if isinstance(value, list):
            return "；".join(str(v) for v in value)
        return str(value)


class PublicCatalog:
    """The loaded catalog as the public pages use it: the categories they show (the catalog's order, the
    registration being the basic information), labels, and each category's shown fields."""

    def __init__(self, key: str | None, catalog: Catalog) -> None:
        self.key, self.catalog = key, catalog
        listed = [name for name in catalog.document.get("category_order", []) if name in catalog.categories]
        ordered = listed + sorted(set(catalog.categories) - set(listed))
        self.shown_categories = tuple(name for name in ordered if name != "registration")
        self._fields: dict[str, tuple[ShownField, ...]] = {}

    def label(self, category: str) -> str:
        found = self.catalog.categories.get(category)
        return found.label if found else category

    def enum_label(self, enum: str, code: str) -> str:
        return self.catalog.enum_label(enum, code) if code and enum in self.catalog.enums else code

    def fields(self, category_name: str) -> tuple[ShownField, ...]:
        """A category's shown fields, in the catalog's order. The subject block is the page's; the computed
        publicity_until is shown instead of the payload's."""
        if category_name not in self._fields:
            shown = []
            category = self.catalog.categories.get(category_name)
            for fd in category.fields if category else ():
                if fd.name in {"op", "id_number", "publicity_until"}:
                    continue
                if fd.name in _NOT_SHOWN and category_name != "registration":
                    continue
                enum_labels = None
                if fd.type in {"enum", "enum_list"} and fd.enum:
                    enum_labels = {v.code: v.label for v in reversed(self.catalog.enums[fd.enum])}  # first wins
                shown.append(ShownField(name=fd.name, label=fd.label, type=fd.type, enum_labels=enum_labels))
            self._fields[category_name] = tuple(shown)
        return self._fields[category_name]


_catalog_lock = threading.Lock()
_catalog: PublicCatalog | None = None


def catalog(key: str | None = None) -> PublicCatalog:
    """The newest loaded catalog. Read again when `key` (the version a subject page was read with) is not the
    one held; the file's only while none is loaded (a database not set up yet)."""
    global _catalog
    held = _catalog
    if held is not None and (key is None or key == held.key):
        return held
    with _catalog_lock:
        if _catalog is None or (key is not None and key != _catalog.key):
            row = _read(lambda cursor: _fetchone(cursor, "SELECT * FROM public_view.catalog_current()", []))
            # jsonb comes as text on Django's connections (the model fields decode it)
            _catalog = (PublicCatalog(row[0], catalog_from_document(json.loads(row[1]))) if row
                        else PublicCatalog(None, file_catalog()))
        return _catalog


def _fetchone(cursor, sql: str, params: list) -> tuple | None:
    cursor.execute(sql, params)
    return cursor.fetchone()


def status_label(status: str) -> str:
    return catalog().enum_label("registration_status", status)


def kind_label(kind: str) -> str:
    return catalog().enum_label("subject_type", kind)


# --- Search ------------------------------------------------------------------------------------------------

@dataclass
class SearchHit:
    id: int
    code: str
    name: str
    kind: str
    status: str
    id_number_masked: str | None
    former_name: str | None = None
    match: str = "contains"  # how it matched: code, exact, prefix, contains, former_name (the ranking's order)
    penalties: int = 0
    black_listed: bool = False
    red_listed: bool = False
    under_objection: bool = False

    @property
    def status_label(self) -> str:
        return status_label(self.status)


@dataclass
class SearchPage:
    query: Query
    page: int
    hits: list[SearchHit] = field(default_factory=list)
    total: int = 0  # counted up to a little more than MATCH_CAP (each way of matching stops at MATCH_CAP + 1)

    @property
    def capped(self) -> bool:
        return self.total > MATCH_CAP

    @property
    def total_text(self) -> str:
        """The total as people are shown it: the number up to MATCH_CAP, "1000+" beyond."""
        return f"{MATCH_CAP}+" if self.capped else str(self.total)

    @property
    def hint(self) -> str | None:
        """What to do when there are more matches than are listed."""
        return CAPPED_HINT if self.capped else None

    @property
    def pages(self) -> int:
        return max(1, -(-min(self.total, MATCH_CAP) // PAGE_SIZE))


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# public_view.search_candidates yields the candidates, each with what the ranking (the subject's USCC, search name
# and status rank) and the result list need, up to MATCH_CAP + 1 of each way of matching, the first ones in the
# ranking's own order (served by indexes); the ranking runs over them here. A subject found
# twice (by its name and a former name, or by a code) counts once, as found by its name if it was (hashed:
# GROUP BY, not a sort); the page's rows are the top 20 of the ranking (a bounded heap sort). The ranking: the
# whole USCC asked for, the exact name, names that start with the query, names that contain it, former names
# that contain it, then (part of) a code; within each, 存续 before others before deregistered or revoked, then
# names that start with the query by name (byte order: a shorter one before those it begins), the rest by id.
_SEARCH_SQL = """
WITH candidates AS (
    SELECT * FROM public_view.search_candidates(%(name)s, %(bigrams)s::text[], %(infix)s, %(code)s,
                                                %(code_infix)s, %(uscc_part)s, %(cap)s)
), matched AS (
    SELECT c.id, min(c.uscc) AS uscc, min(c.search_name) AS search_name, min(c.status_rank) AS status_rank,
           CASE WHEN count(c.former_name) = count(*) THEN min(c.former_name) END AS former_name
    FROM candidates c GROUP BY c.id
)
SELECT m.id, m.former_name, t.match, count(*) OVER () AS total
FROM matched m,
LATERAL (SELECT CASE WHEN %(code)s::text IS NOT NULL AND m.uscc = %(code)s THEN 0 WHEN m.search_name = %(name)s THEN 1
                     WHEN m.search_name LIKE %(prefix)s ESCAPE '\\' THEN 2
                     WHEN m.search_name LIKE %(infix)s ESCAPE '\\' THEN 3 WHEN m.former_name IS NOT NULL THEN 4
                     ELSE 5 END AS tier) r,
LATERAL (SELECT (ARRAY['code', 'exact', 'prefix', 'contains', 'former_name', 'code'])[r.tier + 1] AS match) t
ORDER BY r.tier, m.status_rank, CASE WHEN r.tier IN (1, 2) THEN m.search_name COLLATE "C" END, m.id
LIMIT %(limit)s OFFSET %(offset)s
"""
# The page's hits as the list shows them, with their badges, in one round trip.
_HITS_SQL = """
SELECT h.id, h.code, h.name, h.kind, h.status, h.id_number_masked,
       coalesce(b.penalties, 0), coalesce(b.black_listed, false), coalesce(b.red_listed, false),
       coalesce(b.under_objection, false)
FROM public_view.search_hits(%(ids)s::bigint[]) h
LEFT JOIN public_view.subject_badges(%(ids)s::bigint[]) b ON b.subject_id = h.id
"""
# Part of a USCC (uscc_part), not a whole one: the column holds 18 characters at most, so only the equal code
# can contain it, and pg_trgm would have to intersect the posting lists of the trigrams every USCC of the
# province shares ("914", "143", "430", …), for nothing.
USCC_LENGTH = 18

def subject_search(*, query: Query, page: int = 1) -> SearchPage:
    """Subjects whose name or former name contains the query (any 2+ consecutive characters),
    or whose code (USCC, registration number, organisation code) contains it."""
    page = max(1, min(page, MATCH_CAP // PAGE_SIZE))
    result = SearchPage(query=query, page=page)
    if not query.searchable:
        return result
    params: dict[str, Any] = {
        "bigrams": name_bigrams(query.name), "name": query.name, "infix": f"%{_like_escape(query.name)}%",
        "prefix": f"{_like_escape(query.name)}%", "cap": MATCH_CAP + 1, "code": query.code,
        "code_infix": f"%{query.code}%" if query.code else None,
        "uscc_part": bool(query.code) and len(query.code) < USCC_LENGTH,
        "limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE,
    }

    def read(cursor) -> tuple[list, dict]:
        cursor.execute(_SEARCH_SQL, params)
        ranked = cursor.fetchall()
        shown = {}
        if ranked:
            cursor.execute(_HITS_SQL, {"ids": [r[0] for r in ranked]})
            shown = {r[0]: r for r in cursor.fetchall()}
        return ranked, shown

    ranked, shown = _read(read)
    for subject_id, former_name, match, _ in ranked:
        row = shown.get(subject_id)
        if row is None:  # no longer public between the two statements
            continue
        result.hits.append(SearchHit(
            id=subject_id, code=row[1], name=row[2], kind=row[3], status=row[4], id_number_masked=row[5],
            former_name=former_name, match=match, penalties=row[6], black_listed=row[7], red_listed=row[8],
            under_objection=row[9]))
    result.total = ranked[0][3] if ranked else 0
    if not ranked and page > 1:  # past the last page: the total is still worth showing
        result.total = subject_search(query=query, page=1).total
    return result


def _code_or_none(code: str) -> str | None:
    """A code as normalised for lookups; None when no code can hold it: PostgreSQL's text holds no NUL."""
    value = code_normalise(code)
    return None if "\x00" in value else value


def subject_code_for_alias(*, code: str) -> str | None:
    """The canonical code of the subject a legacy code (registration number, organisation code) names."""
    value = _code_or_none(code)
    if value is None:
        return None
    row = _read(lambda cursor: _fetchone(cursor, "SELECT public_view.legacy_code_subject(%s::text)", [value]))
    return row[0]


# --- A subject's page ------------------------------------------------------------------------------------

@dataclass
class PublicSubject:
    """A public subject as public_view.subject_page returns it: no raw ID number, only a masked one."""

    id: int
    code: str  # USCC, or "N-<id>" for a subject without one (natural persons)
    kind: str
    uscc: str | None
    id_number_masked: str | None  # only for natural persons
    name: str
    registered: bool
    legal_representative: str
    status: str
    address: str
    registration_authority: str
    updated_at: dt.datetime


@dataclass
class ShownRecord:
    id: int
    category: str
    data: dict[str, Any]
    department: str
    updated_at: dt.datetime
    publicity_from: dt.date | None
    publicity_until: dt.date | None
    under_objection: bool
    shown_fields: tuple[ShownField, ...] = ()

    @cached_property
    def shown(self) -> list[tuple[ShownField, str]]:
        """Its own fields with their values as shown, in the catalog's order; empty ones left out."""
        return [(f, text) for f in self.shown_fields if (text := f.value(self.data.get(f.name)))]

    @property
    def cursor(self) -> str:
        """Where the next page of its category starts (after this record): `<publicity_from>~<id>`."""
        return f"{self.publicity_from.isoformat() if self.publicity_from else ''}~{self.id}"


@dataclass
class ShownCategory:
    name: str
    label: str
    records: list[ShownRecord]
    total: int  # its public records, on this page and others, counted up to COUNT_CAP + 1
    next_cursor: str | None  # None: no more

    @property
    def capped(self) -> bool:
        return self.total > COUNT_CAP

    @property
    def counted(self) -> int:
        return min(self.total, COUNT_CAP)


@dataclass
class SubjectProfile:
    subject: PublicSubject
    former_names: list[str]
    legacy_codes: list[tuple[str, str]]
    registration: ShownRecord | None
    categories: list[ShownCategory]
    under_objection: bool

    def _total(self, name: str) -> int:
        return sum(c.total for c in self.categories if c.name == name)

    @property
    def penalties(self) -> int:
        """Up to COUNT_CAP + 1 (more than COUNT_CAP)."""
        return self._total("admin_penalty")

    @property
    def black_listed(self) -> bool:
        return self._total("black_list") > 0

    @property
    def red_listed(self) -> bool:
        return self._total("red_list") > 0


@dataclass
class SubjectPage:
    subject: PublicSubject
    profile: SubjectProfile
    etag: str
    category: str | None  # a page of one category's records (its "more" link), or None: every category's first
    kind_label: str


class BadCursor(ValueError):
    """A `cursor` that no page of records gave out."""


_CURSOR = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})?~([0-9]{1,18})")
# ASCII digits only ("N-፩" passes str.isdigit() but not int()); 20 digits are past any bigint already
_SUBJECT_NUMBER = re.compile(r"N-([0-9]{1,20})")
_MAX_ID = 2**63 - 1

# The page in one round trip; the ETag is a digest of the very row the page is made of, so a conditional GET
# costs this one query too and the tag changes whenever the page would.
_SUBJECT_SQL = """
SELECT p.*, md5(%s::text || p::text) FROM public_view.subject_page(%s::text, %s::bigint, %s::text[], %s::integer,
                                                          %s::date, %s::bigint) p"""


def cursor_parse(cursor: str) -> tuple[dt.date | None, int]:
    matched = _CURSOR.fullmatch(cursor)
    if not matched:
        raise BadCursor(cursor)
    try:
        return (dt.date.fromisoformat(matched[1]) if matched[1] else None), int(matched[2])
    except ValueError:
        raise BadCursor(cursor) from None


def subject_page(*, code: str, category: str | None = None, cursor: str | None = None) -> SubjectPage | None:
    """The public subject with this code (USCC, or "N-<id>" for a subject without one), with the first page of
    its records in every category shown, or, with `category`, the page of that category's records after
    `cursor` (BadCursor when it is not one a page gave out); None when there is no such public subject or
    the catalog has no such category."""
    value = _code_or_none(code)
    if value is None:
        return None
    numbered = _SUBJECT_NUMBER.fullmatch(value)
    if numbered:
        if int(numbered[1]) > _MAX_ID:  # no such subject, and no bigint to ask with
            return None
        uscc, subject_id = None, int(numbered[1])
    else:
        uscc, subject_id = value, None
    after_from, after_id = cursor_parse(cursor) if cursor is not None else (None, None)
    shown = catalog()
    if category is not None and category not in shown.shown_categories:
        return None
    categories = [category] if category else ["registration", *shown.shown_categories]
    params = [f"{ETAG_VERSION}|{category}|{cursor}|", uscc, subject_id, categories, RECORDS_PAGE_SIZE,
              after_from, after_id]
    row = _read(lambda db: _fetchone(db, _SUBJECT_SQL, params))
    if row is None:
        return None
    subject = PublicSubject(*row[:12])
    catalog_key, records, counts, under_objection, aliases, etag = row[12:]
    if catalog_key != shown.key:  # a catalog loaded since: read again with its categories
        if catalog(catalog_key).key != shown.key:
            return subject_page(code=code, category=category, cursor=cursor)
    profile = _profile(shown, subject, categories, records or [], counts or {}, under_objection, aliases or [])
    return SubjectPage(subject=subject, profile=profile, etag=etag, category=category,
                       kind_label=shown.enum_label("subject_type", subject.kind))


def _record(shown: PublicCatalog, row: list) -> ShownRecord:
    """A record as public_view.subject_page aggregates it: id, category, data, publicity_from, publicity_until,
    department, updated_at, under_objection (dates and times as JSON gives them)."""
    record_id, category_name, data, publicity_from, publicity_until, department, updated_at, objection = row
    return ShownRecord(id=record_id, category=category_name, data=data, department=department,
                       updated_at=dt.datetime.fromisoformat(updated_at),
                       publicity_from=dt.date.fromisoformat(publicity_from) if publicity_from else None,
                       publicity_until=dt.date.fromisoformat(publicity_until) if publicity_until else None,
                       under_objection=objection, shown_fields=shown.fields(category_name))


def _profile(shown: PublicCatalog, subject: PublicSubject, categories: list[str], rows: list[list],
             counts: dict[str, int], under_objection: bool, aliases: list[list[str]]) -> SubjectProfile:
    by_category: dict[str, list[ShownRecord]] = {name: [] for name in categories}
    for row in rows:
        by_category[row[1]].append(_record(shown, row))
    pages = []
    for name in categories:
        if name == "registration":
            continue
        records = by_category[name]
        more = len(records) > RECORDS_PAGE_SIZE  # the function reads one more than a page when there is one
        records = records[:RECORDS_PAGE_SIZE]
        pages.append(ShownCategory(name=name, label=shown.label(name), records=records, total=counts.get(name, 0),
                                   next_cursor=records[-1].cursor if more else None))
    registration = by_category.get("registration") or [None]
    return SubjectProfile(
        subject=subject,
        former_names=[v for k, v in aliases if k == "former_name"],
        legacy_codes=[(k, v) for k, v in aliases if k != "former_name"],
        registration=registration[0],
        categories=pages,
        under_objection=under_objection,
    )


# --- How fresh the data is: the public alias may read a hot standby (PUBLIC_DATABASE_URL) -------------------

# The commit time of the last transaction the standby replayed, when it is in recovery and behind: WAL received
# and not replayed yet (replay slow or paused), or no WAL arriving at all (the primary out of reach). A standby
# that replayed all it received is current however old its last commit is: the primary wrote nothing since.
_DATA_AS_OF_SQL = """
SELECT replayed FROM (SELECT pg_last_xact_replay_timestamp() AS replayed) r
WHERE pg_is_in_recovery() AND now() - replayed > make_interval(secs => %s::double precision)
  AND (pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()
       OR NOT EXISTS (SELECT FROM pg_stat_wal_receiver))"""
DATA_AS_OF_CHECK_SECONDS = 1.0  # a process asks at most this often; pages show the time to the minute
_data_as_of: tuple[float, dt.datetime | None] = (float("-inf"), None)


def data_as_of() -> dt.datetime | None:
    """What the pages show as "数据截至 …": the time the public data is current to, when the standby the public
    alias reads lags more than settings.PUBLIC_REPLICA_LAG_SECONDS behind its primary; None on a primary and
    on a standby keeping up."""
    global _data_as_of
    checked_at, as_of = _data_as_of
    if time.monotonic() - checked_at >= DATA_AS_OF_CHECK_SECONDS:
        row = _read(lambda cursor: _fetchone(cursor, _DATA_AS_OF_SQL, [settings.PUBLIC_REPLICA_LAG_SECONDS]))
        as_of = row[0] if row else None
        _data_as_of = (time.monotonic(), as_of)
    return as_of

"""Reads of the public projection, always through the `public` database alias (the
role that sees only schema public_view). Nothing here touches the store's tables."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import re
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, TypeVar

import psycopg
from django.db import Error, connections
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from psycopg import pq

from credit.identity import code_normalise
from public.search import Query, name_bigrams
from validation.catalog import Catalog, file_catalog

DB = "public"
T = TypeVar("T")
PAGE_SIZE = 20
MATCH_CAP = 1000  # a search lists at most this many matches; more means "be more specific"
CATEGORY_ORDER = ("admin_license", "admin_penalty", "red_list", "black_list")
ETAG_VERSION = "1"  # bump when pages change shape, so caches drop old copies


class _PreparedCursor(psycopg.Cursor):
    """Server-side binding, prepared on first use: planning the search's ranking over its candidates costs
    more than running it; a prepared statement is planned once per connection (connections live
    CONN_MAX_AGE). Results in binary: numbers, booleans and timestamps
    load in C (the text timestamptz loader parses in Python), ~15% of a query's client CPU (measured on the
    subject page's, which since reads its row through libpq as one JSON text, `Statement`);
    json stays json (its binary form is its text), and these queries return no jsonb."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=True if binary is None else binary)


class _PreparedDebugWrapper(CursorDebugWrapper):
    """Logs the statement with its parameters in place, as Django logs any other: Django reads that text
    back from psycopg, which keeps none for a prepared statement."""

    def execute(self, sql, params=None):
        with self.debug_sql(self.db.ops.compose_sql(sql, params), params):
            return CursorWrapper.execute(self, sql, params)


class _KeptCursor:
    """The cursor `work` gets when no one records queries: one prepared-statement cursor kept with its
    connection, psycopg's errors raised as Django's (as Django's CursorWrapper raises them). Django's wrapper
    around a new psycopg cursor, made and closed for every request, cost ~80 µs of a ~0.8 ms subject page."""

    __slots__ = ("cursor", "db", "prepared", "raw")

    def __init__(self, raw: psycopg.Connection, db) -> None:
        self.raw, self.db, self.cursor = raw, db, _PreparedCursor(raw)
        # The names of the Statements prepared in this session: with the session, not this cursor (a pool
        # may hand the session to another Django connection, and with it what was prepared in it).
        self.prepared: set[bytes] = _PREPARED.setdefault(raw, set())

    def execute(self, sql, params=None) -> None:
        self.db.validate_no_broken_transaction()
        with self.db.wrap_database_errors:
            self.cursor.execute(sql, params)

    def fetchone(self):
        with self.db.wrap_database_errors:
            return self.cursor.fetchone()

    def fetchall(self):
        with self.db.wrap_database_errors:
            return self.cursor.fetchall()

    def close(self) -> None:
        """Kept for the next request: closed with its connection."""

    def value(self, statement: Statement, params: list[str | None]) -> str | None:
        """`statement`'s one value, by one libpq call on the statement prepared on this connection: psycopg's
        execute and fetch, made for any statement, cost ~120 µs of Python a call, this ~30 (bench/README.md)."""
        raw = self.raw
        self.db.validate_no_broken_transaction()
        if not raw.autocommit:  # in an atomic block: psycopg's way, which opens its transaction, and where a
            return statement.value_by_cursor(self, params)  # failed attempt below would break the block
        encoded = [None if p is None else p.encode() for p in params]  # Django connects with client_encoding UTF8
        with self.db.wrap_database_errors, raw.lock:
            pgconn = raw.pgconn
            if statement.name in self.prepared:
                result = pgconn.exec_prepared(statement.name, encoded)
                if result.error_field(pq.DiagnosticField.SQLSTATE) != _NO_SUCH_STATEMENT:
                    return _one_value(result, raw)
                # psycopg deallocates all of a connection's statements after it runs a DROP, ALTER or ROLLBACK
            result = pgconn.prepare(statement.name, statement.libpq_sql)
            if result.error_field(pq.DiagnosticField.SQLSTATE) != _STATEMENT_EXISTS:  # prepared, but not noted
                _one_value(result, raw)
            self.prepared.add(statement.name)
            return _one_value(pgconn.exec_prepared(statement.name, encoded), raw)


_PREPARED: weakref.WeakKeyDictionary[psycopg.Connection, set[bytes]] = weakref.WeakKeyDictionary()
_NO_SUCH_STATEMENT = b"26000"  # invalid_sql_statement_name
_STATEMENT_EXISTS = b"42P05"  # duplicate_prepared_statement


def _one_value(result: pq.abc.PGresult, raw: psycopg.Connection) -> str | None:
    """The first column of the first row, as text; psycopg's error for a failed result, as psycopg raises it."""
    if result.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
        raise psycopg.errors.error_from_result(result, encoding=raw.info.encoding)
    return result.get_value(0, 0).decode() if result.ntuples else None


@dataclass(frozen=True)
class Statement:
    """A read of one value (one column of at most one row), with `{}` where its parameters go. Run by
    `_KeptCursor.value` when it can, else through the cursor it is given, to the same text."""

    name: bytes
    sql: str

    @cached_property
    def libpq_sql(self) -> bytes:
        return self.sql.format(*(f"${n}" for n in range(1, self.sql.count("{}") + 1))).encode()

    @cached_property
    def cursor_sql(self) -> str:
        return self.sql.format(*["%s"] * self.sql.count("{}"))

    def value(self, cursor, params: list[str | None]) -> str | None:
        if isinstance(cursor, _KeptCursor):
            return cursor.value(self, params)
        return self.value_by_cursor(cursor, params)

    def value_by_cursor(self, cursor, params: list[str | None]) -> str | None:
        cursor.execute(self.cursor_sql, params)
        row = cursor.fetchone()
        return row[0] if row else None


def _cursor(connection):
    """A cursor on the `public` alias for the hot queries: prepared statements, errors as Django's, and, when
    queries are recorded (DEBUG, assertNumQueries), Django's wrapper that records them. No health check
    (`SELECT 1`, a round trip on every request with CONN_HEALTH_CHECKS): `_read` retries on a new connection
    when this one is dead."""
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:  # Django's default, which turns preparing off altogether; Django's own
        raw.prepare_threshold = 2**31 - 1  # (client-binding) cursors never prepare, so only _PreparedCursor does
        # One plan per statement, made once: left to choose, PostgreSQL keeps planning the search afresh
        # (its generic estimate for LIKE/@> looks dearer), 3–9 ms a time; the generic plan is the same
        # index plan (EXPLAIN in bench/README.md "## lookup"). Only prepared statements heed this setting.
        with raw.cursor() as cursor:
            cursor.execute("SET plan_cache_mode = force_generic_plan")
    if connection.queries_logged or connection.execute_wrappers:  # Django's wrapper: they see every query
        wrapper = _PreparedDebugWrapper if connection.queries_logged else CursorWrapper
        return wrapper(_PreparedCursor(raw), connection)
    kept = getattr(connection, "_public_kept_cursor", None)
    if kept is None or kept.raw is not raw:  # first use, or a new connection since
        kept = connection._public_kept_cursor = _KeptCursor(raw, connection)
    return kept


def _read(work: Callable[[Any], T]) -> T:
    """`work(cursor)` on the public connection. It only reads, so when the kept connection turns out to be
    dead (server restarted, connection dropped while idle: what CONN_HEALTH_CHECKS guards against with a
    `SELECT 1` per request) it runs once more on a new connection; any other error is raised."""
    connection = connections[DB]
    try:
        with contextlib.closing(_cursor(connection)) as cursor:
            return work(cursor)
    except Error:  # Django's OperationalError or InterfaceError around psycopg's
        # Only now, on the error path, the round trip that tells a dead connection from a bad statement.
        if connection.in_atomic_block or connection.connection is None or connection.is_usable():
            raise
        connection.close()
    with contextlib.closing(_cursor(connection)) as cursor:
        return work(cursor)


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    """Labels and enumerations only: from the catalog file, so the public site needs no store table."""
    return file_catalog()


@dataclass(slots=True)
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


# public_view.search_candidates (see public/migrations/0002) yields the candidates, each with what the ranking
# (the subject's USCC and search name) and the result list need, up to MATCH_CAP + 1 of each way of matching;
# the ranking runs over them here. A subject found twice (by its name and a former name, or by a code) counts
# once, as found by its name if it was (hashed: GROUP BY, not a sort); the page's rows are the top 20 of the
# ranking (a bounded heap sort, not a full sort of up to 2,000 candidates for a rank).
_SEARCH_SQL = """
WITH candidates AS (
    SELECT * FROM public_view.search_candidates(%(bigrams)s::text[], %(infix)s, %(code)s, %(code_infix)s,
                                                %(uscc_part)s, %(cap)s)
), matched AS (
    SELECT c.id, min(c.uscc) AS uscc, min(c.search_name) AS search_name, min(c.code) AS code,
           min(c.name) AS name, min(c.kind) AS kind, min(c.status) AS status,
           min(c.id_number_masked) AS id_number_masked,
           CASE WHEN count(c.former_name) = count(*) THEN min(c.former_name) END AS former_name
    FROM candidates c GROUP BY c.id
)
SELECT m.id, m.code, m.name, m.kind, m.status, m.id_number_masked, m.former_name, count(*) OVER () AS total
FROM matched m
ORDER BY m.uscc IS NOT DISTINCT FROM %(code)s DESC, m.search_name = %(name)s DESC,
         m.search_name LIKE %(prefix)s ESCAPE '\\' DESC, m.former_name IS NULL DESC, length(m.search_name), m.id
LIMIT %(limit)s OFFSET %(offset)s
"""
# Part of a USCC (uscc_part), not a whole one: the column holds 18 characters at most, so only the equal code
# can contain it, and pg_trgm would have to intersect the posting lists of the trigrams every USCC of the
# province shares ("914", "143", "430", …): 60–80 ms on 1M subjects, for nothing.
USCC_LENGTH = 18

_BADGES_SQL = "SELECT * FROM public_view.subject_badges(%s::bigint[])"


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

    def read(cursor) -> tuple[list, dict]:  # prepared: planning this UNION costs more than running it
        cursor.execute(_SEARCH_SQL, params)
        rows = cursor.fetchall()
        badges = {}
        if rows:
            cursor.execute(_BADGES_SQL, [[r[0] for r in rows]])
            badges = {r[0]: r[1:] for r in cursor.fetchall()}
        return rows, badges

    rows, badges = _read(read)
    result.hits = [SearchHit(id=r[0], code=r[1], name=r[2], kind=r[3], status=r[4], id_number_masked=r[5],
                             former_name=r[6]) for r in rows]
    result.total = rows[0][7] if rows else 0
    for hit in result.hits:
        hit.penalties, hit.black_listed, hit.red_listed, hit.under_objection = badges.get(
            hit.id, (0, False, False, False))
    if not rows and page > 1:  # past the last page: the total is still worth showing
        result.total = subject_search(query=query, page=1).total
    return result


def _code_or_none(code: str) -> str | None:
    """A code as normalised for lookups; None when no code can hold it: PostgreSQL's text holds no NUL (psycopg
    refuses such a parameter, libpq would cut it short there)."""
    value = code_normalise(code)
    return None if "\x00" in value else value


def subject_code_for_alias(*, code: str) -> str | None:
    """The canonical code of the subject a legacy code (registration number, organisation code) names."""
    value = _code_or_none(code)
    if value is None:
        return None

    def read(cursor):
        cursor.execute("SELECT public_view.legacy_code_subject(%s::text)", [value])
        return cursor.fetchone()[0]

    return _read(read)


@dataclass
class ShownField:
    name: str
    label: str
    value: str


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

    @cached_property
    def fields(self) -> list[ShownField]:
        """Its own fields as shown (the catalog's, in its order, with its labels); the subject block is the
        page's. Worked out when asked: the HTML page makes its markup straight from `shown_values`."""
        return [ShownField(shown.name, shown.label, value) for shown, value in shown_values(self.category, self.data)]


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


@dataclass(frozen=True)
class _FieldShown:
    """How a catalog field is shown: its label, and its enumeration's labels when it has one."""

    name: str
    label: str
    type: str
    enum_labels: dict[str, str] | None

    def value(self, value: Any) -> str:
        if value is None or value == "" or value == []:
            return ""
        if self.enum_labels is not None:
            labels = self.enum_labels
            if self.type == "enum":
                return labels.get(str(value), str(value))
            values = value if isinstance(value, list) else str(value).split(";")
            return "；".join(labels.get(str(v), str(v)) for v in values)
        if isinstance(value, list):
            return "；".join(str(v) for v in value)
        return str(value)


_NOT_SHOWN = {"op", "usage_scope", "subject_name", "subject_type", "uscc", "registration_no", "org_code",
              "legal_representative", "id_type", "id_number"}


@lru_cache(maxsize=64)
def _fields_shown(category_name: str) -> tuple[_FieldShown, ...]:
    """A category's shown fields, in the catalog's order; worked out once per category, not per record.
    The subject block is the page's; the computed publicity_until is shown instead of the payload's."""
    cat = catalog()
    category = cat.categories.get(category_name)
    if category is None:
        return ()
    shown = []
    for fd in category.fields:
        if fd.name in _NOT_SHOWN and category_name != "registration":
            continue
        if fd.name in {"op", "id_number", "publicity_until"}:
            continue
        enum_labels = None
        if fd.type in {"enum", "enum_list"} and fd.enum:
            enum_labels = {v.code: v.label for v in reversed(cat.enums[fd.enum])}  # the first wins
        shown.append(_FieldShown(name=fd.name, label=fd.label, type=fd.type, enum_labels=enum_labels))
    return tuple(shown)


def shown_values(category_name: str, data: dict[str, Any]) -> Iterator[tuple[_FieldShown, str]]:
    """A record's shown fields with their values as shown, in the catalog's order; empty ones left out."""
    for shown in _fields_shown(category_name):
        raw = data.get(shown.name)
        if raw is None or raw == "":  # most of a category's fields, on most records
            continue
        # Most values are plain text shown as given: no call into value() for them (~20 fields a page).
        value = raw if raw.__class__ is str and shown.enum_labels is None else shown.value(raw)
        if value:
            yield shown, value


def record_shown(row: list) -> ShownRecord:
    """A record as public_view.subject_page aggregates it: id, category, data, publicity_from, publicity_until, department,
    updated_at, under_objection (dates and times as JSON gives them)."""
    record_id, category_name, data, publicity_from, publicity_until, department, updated_at, objection = row
    return ShownRecord(id=record_id, category=category_name, data=data, department=department,
                       updated_at=dt.datetime.fromisoformat(updated_at),
                       publicity_from=dt.date.fromisoformat(publicity_from) if publicity_from else None,
                       publicity_until=dt.date.fromisoformat(publicity_until) if publicity_until else None,
                       under_objection=objection)


# The subject page in one round trip (public_view.subject_page): the subject, its records in publicity (the
# page's order) and its aliases, as one JSON array (one value to decode); the ETag is computed from the same
# rows, so a conditional GET costs this one query too.
_SUBJECT = Statement(b"public_subject_page", """
SELECT json_build_array(p.id, p.code, p.kind, p.uscc, p.id_number_masked, p.name, p.registered,
                        p.legal_representative, p.status, p.address, p.registration_authority, p.updated_at,
                        p.today, p.records, p.aliases)::text
FROM public_view.subject_page({}::text, {}::bigint) p""")
_MAX_ID = 2**63 - 1
# ASCII digits only ("N-፩" passes str.isdigit() but not int()); 20 digits are past any bigint already
_SUBJECT_NUMBER = re.compile(r"N-([0-9]{1,20})")


@dataclass
class SubjectPage:
    subject: PublicSubject
    profile: SubjectProfile
    etag: str


def subject_page(*, code: str) -> SubjectPage | None:
    """The public subject with this code (USCC, or "N-<id>" for a subject without one), its profile and
    ETag; None when there is no such public subject."""
    value = _code_or_none(code)
    if value is None:
        return None
    numbered = _SUBJECT_NUMBER.fullmatch(value)
    if numbered:
        subject_id = int(numbered[1])
        if subject_id > _MAX_ID:  # no such subject, and no bigint to ask with
            return None
        params = [None, str(subject_id)]
    else:
        params = [value, None]
    text = _read(lambda cursor: _SUBJECT.value(cursor, params))
    if text is None:
        return None
    row = json.loads(text)
    subject = PublicSubject(*row[:11], updated_at=dt.datetime.fromisoformat(row[11]))
    records = [record_shown(r) for r in row[13] or []]
    return SubjectPage(subject=subject, profile=_profile(subject, records, row[14] or []), etag=_etag(text))


def _etag(page_row: str) -> str:
    """Changes whenever the page would: a digest of everything the page is made of (the subject, its public
    records with their objection marks, its aliases) and of the calendar day (publicity windows move with it;
    the row carries it)."""
    return hashlib.sha256(f"{ETAG_VERSION}|{page_row}".encode()).hexdigest()[:32]


def _profile(subject: PublicSubject, records: list[ShownRecord], aliases: list[list[str]]) -> SubjectProfile:
    cat = catalog()
    categories = [
        ShownCategory(name=name, label=cat.categories[name].label,
                      records=[r for r in records if r.category == name])
        for name in CATEGORY_ORDER if name in cat.categories
    ]
    return SubjectProfile(
        subject=subject,
        former_names=[v for k, v in aliases if k == "former_name"],
        legacy_codes=[(k, v) for k, v in aliases if k != "former_name"],
        registration=next((r for r in records if r.category == "registration"), None),
        categories=categories,
    )

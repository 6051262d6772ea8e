"""Reads of the unified credit record store (used by the exchange API, the public
site and the operator console)."""

from __future__ import annotations

from collections import defaultdict
from operator import itemgetter
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from credit.authorizations import authorization_current
from credit.identity import code_normalise, id_number_index
from credit.models import (
    Authorization,
    ChangeFeedEntry,
    Record,
    RecordSender,
    RecordVersion,
    Subject,
    SubjectAlias,
)
from credit.models.duplicates import ConflictingDuplicate
from credit.models.feed import ChangeKind
from credit.models.subjects import AliasKind, SubjectKind


def _cursor_decode(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        value = int(cursor)
    except ValueError:
        return 0
    return max(value, 0)


def records_visible_to(*, department_id: int | None, via: str = "", subject: str = "") -> Q:
    """The records a department may see in categories it may read (exchange-protocol §8, "Authorised rows"):
    every record except `usage_scope = authorized` ones, which only their owner sees and a department the
    record's subject authorises today (portal.md §5; read at every request, so a grant, a revocation or an
    expiry counts at once). `via` is the lookup path to the record ("record__" from a feed entry),
    `subject` the one to its subject when that is not `{via}subject_id`; no department (None) sees no
    authorised record."""
    authorized = Q(**{f"{via}payload__contains": {"usage_scope": "authorized"}})
    if not department_id:
        return ~authorized
    authorised_today = Exists(Authorization.objects.filter(
        authorization_current(), department_id=department_id, subject_id=OuterRef(subject or f"{via}subject_id")))
    return ~authorized | Q(**{f"{via}department_id": department_id}) | Q(authorised_today)


# one changes request reads at most this many feed entries, however many of them its department may not see
FEED_SCAN_LIMIT = 10_000


# a version's kind of change in the feed (as the view credit_changefeeditem reads it, credit 0013)
_VERSION_KIND = Case(When(version=1, then=Value(ChangeKind.CREATED)),
                     When(op="withdraw", then=Value(ChangeKind.WITHDRAWN)), default=Value(ChangeKind.UPDATED))
_FEED_FIELDS = ("visible", "kind", "category", "record_id", "record__natural_key", "subject__uscc",
                "subject__id_number_masked", "subject__name", "department__code", "batch_id", "version")


def _first_of_each_category(queryset: QuerySet, categories: list[str], n: int) -> list[dict]:
    """The first `n` rows of `queryset` in each category, in one statement: each read in the order of its
    (category, id) index (for several categories at once that index gives no id order, so PostgreSQL would sort
    every row after the cursor)."""
    pages = [queryset.filter(category=category)[:n] for category in categories]
    return list(pages[0].union(*pages[1:], all=True)) if len(pages) > 1 else list(pages[0]) if pages else []


def _feed_after(*, categories: list[str], after: int, n: int, department_id: int | None) -> list[dict]:
    """The first `n` changes after feed id `after`, in id order: feed entries and versions (credit/models/feed.py),
    each category of each table read in its index order, merged here. (The view credit_changefeeditem, one
    UNION ALL, would have PostgreSQL sort every version after `after` first.)"""
    visible = ExpressionWrapper(records_visible_to(department_id=department_id, via="record__"),
                                output_field=BooleanField())
    entries = _first_of_each_category(
        ChangeFeedEntry.objects.filter(id__gt=after).order_by("id").annotate(visible=visible)
        .values("id", *_FEED_FIELDS, "merged_from", "changed_at"), categories, n)
    versions = _first_of_each_category(
        RecordVersion.objects.filter(feed_id__gt=after).order_by("feed_id").annotate(visible=visible, kind=_VERSION_KIND)
        .values("feed_id", *_FEED_FIELDS, "valid_from"), categories, n)
    for v in versions:
        v["id"], v["changed_at"], v["merged_from"] = v.pop("feed_id"), v.pop("valid_from"), None
        entries.append(v)
    return sorted(entries, key=itemgetter("id"))[:n]


def change_feed_page(*, categories: list[str], cursor: str | None, limit: int,
                     department_id: int | None = None) -> tuple[list[dict], str]:
    """Record changes after `cursor`, in commit order (see credit/models/feed.py for why id order
    is commit order: versions and feed entries in one order), of records the department may see.
    `next_cursor` is opaque; pass it back for the next page. It moves past entries the department may not
    see, so a page can hold fewer than `limit` items (even none) while more changes follow."""
    after = _cursor_decode(cursor)
    limit = max(1, min(int(limit), 1000))
    rows, scanned_to, scanned = [], after, 0
    while len(rows) < limit and scanned < FEED_SCAN_LIMIT:
        batch = _feed_after(categories=categories, after=scanned_to, n=limit, department_id=department_id)
        if not batch:
            break
        scanned += len(batch)
        rows += [r for r in batch if r["visible"]][:limit - len(rows)]
        # a full page ends at its last item (what follows it is unread); otherwise all of `batch` was read
        scanned_to = rows[-1]["id"] if len(rows) == limit else batch[-1]["id"]
    items = [
        {
            "id": r["id"],
            "kind": r["kind"],
            "category": r["category"],
            "record": r["record_id"],
            "natural_key": r["record__natural_key"],
            "subject": (r["subject__uscc"] or r["subject__id_number_masked"]) if r["subject__name"] else None,
            "subject_name": r["subject__name"],
            "department": r["department__code"],
            "batch": r["batch_id"],
            "version": r["version"],
            "changed_at": r["changed_at"].isoformat(),
            # kind merged (credit/migrations/0009): the record id that became part of `record`
            **({"merged_from": r["merged_from"]} if r["kind"] == ChangeKind.MERGED else {}),
        }
        for r in rows
    ]
    return items, str(scanned_to)


def subject_find(*, code: str, by_id_number: bool = False) -> Subject | None:
    """A subject by USCC or legacy code (registration number, organisation code); by ID
    number only when the caller got it from somewhere other than a URL (`by_id_number`)."""
    value = code_normalise(code)
    if not value:
        return None
    subject = Subject.objects.filter(uscc=value).first()
    if subject is None:
        alias = (SubjectAlias.objects.filter(kind__in=[AliasKind.ORG_CODE, AliasKind.REGISTRATION_NO],
                                             value_key=value).select_related("subject").first())
        subject = alias.subject if alias else None
    if subject is None and by_id_number:
        subject = Subject.objects.filter(id_number_index=id_number_index(value)).first()
    return subject


def natural_person_find(*, id_number: str) -> Subject | None:
    """A natural person by ID number, through its blind index (the store keeps the number encrypted)."""
    return Subject.objects.filter(kind=SubjectKind.NATURAL_PERSON, id_number_index=id_number_index(id_number)).first()


def record_sources(records: list[Record]) -> dict[int, list[str]]:
    """Per record id, the codes of the departments that sent it, in the order they first did."""
    sources = defaultdict(list)
    for record_id, dept in (RecordSender.objects.filter(record__in=records)
                            .order_by("record_id", "first_seen_at", "department_id")
                            .values_list("record_id", "department__code")):
        sources[record_id].append(dept)
    return sources


def record_versions(records: list[Record] | QuerySet[Record], *, department_id: int | None,
                    subject_itself: bool = False) -> dict[int, list[dict]]:
    """Per record id, its versions oldest first as `{version, op, valid_from, data}`, in one query (`records`
    a list, or a queryset read as a subquery). A version whose own payload was `usage_scope = authorized` is
    shown under the same rule as a record (`records_visible_to`, the version's sender standing for the owner
    it was sent by); the subject itself (`subject_itself`, the enterprise portal) sees every version of its
    records."""
    versions = defaultdict(list)
    shown = RecordVersion.objects.filter(
        record__in=records.values("id") if isinstance(records, QuerySet) else records)
    if not subject_itself:
        shown = shown.filter(records_visible_to(department_id=department_id, subject="record__subject_id"))
    for v in shown.order_by("record_id", "version").values("record_id", "version", "op", "valid_from", "payload"):
        versions[v["record_id"]].append({"version": v["version"], "op": v["op"],
                                         "valid_from": v["valid_from"].isoformat(), "data": v["payload"]})
    return versions


def publicity_of(record: Record) -> dict[str, Any]:
    return {
        "public": record.is_public,
        "reason": record.publicity_reason,
        "from": record.publicity_from.isoformat() if record.publicity_from else None,
        "until": record.publicity_until.isoformat() if record.publicity_until else None,
        "repaired_at": record.repaired_at.isoformat() if record.repaired_at else None,
    }


def subject_info(subject: Subject, *, with_registration: bool) -> dict[str, Any]:
    """Who the subject is; its registration details only for readers of the registration category."""
    aliases = defaultdict(list)
    for kind, value in subject.aliases.order_by("id").values_list("kind", "value"):
        aliases[kind].append(value)
    info = {
        "kind": subject.kind,
        "code": subject.code,
        "uscc": subject.uscc,
        "id_number": subject.id_number_masked or None,
        "name": subject.name,
        "former_names": aliases[AliasKind.FORMER_NAME],
        "registration_no": aliases[AliasKind.REGISTRATION_NO],
        "org_code": aliases[AliasKind.ORG_CODE],
        "registered": subject.registered,
    }
    if with_registration:
        info.update({
            "legal_representative": subject.legal_representative,
            "status": subject.status,
            "address": subject.address,
            "registration_authority": subject.registration_authority,
            "registration": subject.registration,
        })
    return info


def record_item(record: Record, sources: list[str], versions: list[dict]) -> dict[str, Any]:
    """A record as a department sees it (annotated with its owner's `department_code`); `versions` oldest
    first (`record_versions`)."""
    return {
        "id": record.id,
        "category": record.category,
        "natural_key": record.natural_key,
        "state": record.state,
        "version": record.version,
        "payload": record.payload,
        "publicity": publicity_of(record),
        "name_mismatch": record.name_mismatch,
        "department": record.department_code,
        "sources": sources,
        "updated_at": record.updated_at.isoformat(),
        "versions": versions,
    }


# records of one category in one subjects/{code} answer: a subject may have 100,000 of them
SUBJECT_RECORDS_PAGE = 100


def subject_unified_record(*, code: str = "", id_number: str = "", categories: list[str],
                           department_id: int | None = None, after: int = 0,
                           page_size: int = SUBJECT_RECORDS_PAGE) -> dict | None:
    """The subject's registration info and, per category in `categories`, a page of its records that the
    department may see (at most `page_size`, in id order, after record id `after`), with current payload,
    state, publicity, sources and version history (exchange-protocol §8). `next_cursors` gives, per
    category, the `after` of its next page (None on its last). The subject is found by `code`, or by
    `id_number` (a natural person, through the blind index: a number never comes from a URL). ID numbers
    appear masked only. None when the reader may see nothing of the subject."""
    subject = natural_person_find(id_number=id_number) if id_number else subject_find(code=code)
    if subject is None:
        return None
    visible = Record.objects.filter(records_visible_to(department_id=department_id), subject=subject)
    # the owner's code by a subquery, not a join: a join makes PostgreSQL sort a category's every record
    departments = Record.department.field.related_model.objects  # credit never imports exchange
    visible_page = visible.annotate(department_code=Subquery(
        departments.filter(pk=OuterRef("department_id")).values("code")))
    # one statement: a page of each category (LIMIT per category, served by record_subject_category_id)
    pages = [visible_page.filter(category=c, id__gt=after).order_by("id")[:page_size + 1] for c in categories]
    records = list(pages[0].union(*pages[1:], all=True)) if pages else []
    # a person is never registered: reading registrations must not reveal that a person is in the store
    with_registration = "registration" in categories and subject.kind != SubjectKind.NATURAL_PERSON
    if not records and not with_registration and not (after and visible.filter(category__in=categories).exists()):
        return None  # nothing this reader may see: not even that the subject exists
    by_category: dict[str, list[Record]] = {c: [] for c in categories}
    for record in sorted(records, key=lambda r: r.id):
        by_category[record.category].append(record)
    next_cursors = {c: str(page[page_size - 1].id) if len(page) > page_size else None
                    for c, page in by_category.items()}
    shown = [r for page in by_category.values() for r in page[:page_size]]
    sources, versions = record_sources(shown), record_versions(shown, department_id=department_id)
    items = {c: [record_item(r, sources[r.id], versions[r.id]) for r in page[:page_size]]
             for c, page in by_category.items()}
    return {"subject": subject_info(subject, with_registration=with_registration), "records": items,
            "next_cursors": next_cursors}


def conflicting_duplicates() -> list[dict[str, Any]]:
    """Two departments' records that normalised natural keys made one (credit/migrations/0009), flagged
    `conflicting_duplicate` for operators: neither is merged into the other until their owners agree."""
    rows = (ConflictingDuplicate.objects.order_by("id")
            .values("category", "natural_key", "flagged_at", "record_id", "record__natural_key",
                    "record__department__code", "kept_id", "kept__department__code"))
    return [{"flag": "conflicting_duplicate", "category": r["category"], "natural_key": r["natural_key"],
             "flagged_at": r["flagged_at"].isoformat(),
             "records": [{"id": r["kept_id"], "natural_key": r["natural_key"], "owner": r["kept__department__code"]},
                         {"id": r["record_id"], "natural_key": r["record__natural_key"],
                          "owner": r["record__department__code"]}]}
            for r in rows]

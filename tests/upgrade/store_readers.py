"""What the store's readers return for a whole store, as one JSON-ready dict: the fixture an upgraded database
is compared with (tests/credit/test_upgrade_populated_store.py, made by tests/upgrade/make_populated_store.py).

It runs on the code of a past commit (making the fixture) and on today's (checking an upgrade), so it calls
only the readers' public signatures: `change_feed_page`, `record_sources`, `record_versions`,
`subject_unified_record`, `conflicting_duplicates`, and reads ids and codes from the models it walks."""

from __future__ import annotations

import json

# Fixed keys for the fixture's natural persons: their ID numbers are stored encrypted and blind-indexed, and a
# database loaded from the fixture can only be read with the keys it was written with. Test values only.
FIXTURE_SECRETS = {
    "FIELD_ENCRYPTION_KEY": "5d" * 32,
    "BLIND_INDEX_KEY": "a7" * 32,
}

CATEGORIES = ["registration", "admin_license", "admin_penalty", "red_list", "black_list"]
FEED_PAGE = 3  # small, so the walk crosses many cursors
SUBJECT_PAGE = 2  # small, so a subject's records are read in several pages


def _feed_walk(categories: list[str], department_id: int | None) -> list[dict]:
    """The whole feed, page by page, each page with the cursor it was asked with and the one it handed out."""
    from credit.selectors import change_feed_page

    pages, cursor = [], None
    while True:
        items, next_cursor = change_feed_page(categories=categories, cursor=cursor, limit=FEED_PAGE,
                                              department_id=department_id)
        pages.append({"cursor": cursor, "items": items, "next_cursor": next_cursor})
        if not items and next_cursor == (cursor or "0"):
            return pages
        if len(pages) > 10_000:
            raise RuntimeError("the change feed walk does not end")
        cursor = next_cursor


def _subject_pages(subject, department_id: int | None) -> list[dict | None]:
    """The subject's unified record as the exchange API reads it (`subjects/{code}`), every page of it."""
    from credit.identity import id_number_decrypt
    from credit.selectors import subject_unified_record

    if subject.id_number_encrypted is not None:
        whom = {"id_number": id_number_decrypt(subject.id_number_encrypted)}
    else:
        whom = {"code": subject.uscc}
    pages, after = [], 0
    while True:
        page = subject_unified_record(**whom, categories=CATEGORIES, department_id=department_id, after=after,
                                      page_size=SUBJECT_PAGE)
        pages.append(page)
        cursors = [int(c) for c in (page or {}).get("next_cursors", {}).values() if c is not None]
        if not cursors:
            return pages
        after = min(cursors)  # one `after` for every category: the slowest category's next page


def store_as_read() -> dict:
    """Every reader's answer over the whole store, in a fixed order."""
    from credit.models import Record, Subject
    from credit.selectors import conflicting_duplicates, record_sources, record_versions

    departments = {d.pk: d.code for d in Record.department.field.related_model.objects.order_by("code")}
    readers = [None, *departments]
    records = list(Record.objects.order_by("id"))
    sources = record_sources(records)
    as_seen_by = {str(department_id and departments[department_id]): record_versions(records,
                                                                                    department_id=department_id)
                  for department_id in readers}
    by_subject_itself = record_versions(records, department_id=None, subject_itself=True)
    return {
        "departments": sorted(departments.values()),
        "feed": {
            "all categories": {str(d and departments[d]): _feed_walk(CATEGORIES, d) for d in readers},
            **{category: _feed_walk([category], None) for category in CATEGORIES},
        },
        "records": {
            str(r.id): {
                "category": r.category, "natural_key": r.natural_key, "sources": sources.get(r.id, []),
                "versions": {reader: versions.get(r.id, []) for reader, versions in as_seen_by.items()},
                "versions_seen_by_subject": by_subject_itself.get(r.id, []),
            }
            for r in records
        },
        "subjects": {
            str(s.id): {str(d and departments[d]): _subject_pages(s, d) for d in readers}
            for s in Subject.objects.order_by("id")
        },
        "conflicting_duplicates": conflicting_duplicates(),
    }


def store_as_read_json() -> str:
    return json.dumps(store_as_read(), ensure_ascii=False, sort_keys=True, indent=1, default=str) + "\n"

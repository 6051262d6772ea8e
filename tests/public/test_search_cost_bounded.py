"""A search reads what it lists, not the store: subjects without a registration are public only while one of their
records is, and that is asked of each such subject the search reads (public migration 0014), never answered by
reading every public record of the store first (which cost ~0.5 s a search on a store of 510,000 public records,
and 5 s timeouts under the load benchmark)."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.public.conftest import PUBLIC_DB, committed

pytestmark = pytest.mark.django_db(databases=PUBLIC_DB)

# Subjects a penalty named before their registration arrived (pending: not registered, no public record of their own)
PENDING = [f"丙丁待登记{i:04d}有限公司" for i in range(2000)]
INSERT = """
INSERT INTO credit_subject (kind, uscc, id_type, id_number_masked, name, name_key, registered, legal_representative,
                            status, address, registration_authority, registration, created_at, updated_at)
SELECT 'legal_person', '9944' || lpad(n::text, 13, '0') || 'Y', '', '', t.name, t.name, false, '', 'active', '', '',
       '{}', now(), now()
FROM unnest(%s::text[]) WITH ORDINALITY AS t(name, n)
"""
UNDO = "DELETE FROM credit_subject WHERE uscc LIKE '9944%%' AND name = ANY(%s::text[])"
WALK = """
EXPLAIN (ANALYZE, FORMAT JSON)
SELECT s.id FROM public_projection.subjects s
 WHERE s.search_name LIKE '%%丙丁%%' ORDER BY public_view.status_rank(s.status), s.id LIMIT 20
"""


def _records_read(plan: dict) -> int:
    read = plan.get("Actual Rows", 0) * plan.get("Actual Loops", 1) if plan.get("Relation Name") == "credit_record" else 0
    return read + sum(_records_read(child) for child in plan.get("Plans", []))


@pytest.fixture
def pending_subjects(store, django_db_blocker):
    with django_db_blocker.unblock(), committed(INSERT, UNDO, [PENDING]), \
            committed("ANALYZE credit_subject", "ANALYZE credit_subject"):
        yield


def test_a_search_over_pending_subjects_reads_none_of_the_stores_public_records(pending_subjects):
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM public_projection.records")
        assert cursor.fetchone()[0] > 0  # the store has public records, of other subjects
        cursor.execute(WALK)
        plan = cursor.fetchone()[0][0]["Plan"]
    assert plan["Actual Rows"] == 0  # pending subjects with no public record are not public
    assert _records_read(plan) == 0

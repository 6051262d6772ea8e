"""Property: for batches touching disjoint natural keys, any arrival order (registrations before or
after the records that point to them) gives the same final store; submitting a batch again changes
nothing. Services run in-process; each example rolls back."""

from __future__ import annotations

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credit.models import Record, RecordSender, RecordVersion, Subject, SubjectAlias
from tests.credit.factories import id_number, ingest, org_code, penalty, registration

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


class Rollback(Exception):
    pass


def snapshot() -> dict:
    return {
        "subjects": sorted(Subject.objects.values_list("kind", "uscc", "id_number_index", "name", "registered",
                                                       "legal_representative")),
        "aliases": sorted(SubjectAlias.objects.values_list("subject__uscc", "kind", "value")),
        "records": sorted(Record.objects.values_list("category", "natural_key", "subject__uscc",
                                                     "subject__id_number_index", "pending_key", "state",
                                                     "content_hash", "version", "is_public", "publicity_reason",
                                                     "name_mismatch")),
        "versions": sorted(RecordVersion.objects.values_list("record__natural_key", "version", "op", "content_hash",
                                                             "row")),
        "sources": sorted(RecordSender.objects.values_list("record__natural_key", "department__code")),
    }


# how a penalty names its subject
NAMING = st.sampled_from(["uscc", "org_code", "registration_no", "natural_person"])


# ~0.5 s an example: 100 draw most namings of two and three rows with their splits and orders, and many longer
# ones, in under a minute of the suite (issue #15: a meaningful number, the suite under 15 minutes)
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(namings=st.lists(NAMING, min_size=2, max_size=5), data=st.data())
def test_arrival_order_does_not_matter_and_resubmission_changes_nothing(scjg, sthj, namings, data):
    subjects = sorted({i % 3 for i in range(len(namings))})
    regs = [registration(n) for n in subjects]
    rows = []
    for i, naming in enumerate(namings):
        n = i % 3
        if naming == "uscc":
            rows.append(penalty(f"P-{i}", n))
        elif naming == "org_code":
            rows.append(penalty(f"P-{i}", None, org_code=org_code(n)))
        elif naming == "registration_no":
            rows.append(penalty(f"P-{i}", None, registration_no=f"430100{n:09d}"))
        else:
            rows.append(penalty(f"P-{i}", None, subject_name="李四", subject_type="natural_person",
                                id_type="resident_id", id_number=id_number(n)))
    split = data.draw(st.integers(min_value=1, max_value=len(rows)))
    batches = [(scjg, "registration", regs), (sthj, "admin_penalty", rows[:split]),
               (sthj, "admin_penalty", rows[split:])]
    batches = [b for b in batches if b[2]]
    order = data.draw(st.permutations(range(len(batches))))

    def run(sequence, tag):
        for k in sequence:
            department, category, body = batches[k]
            batch = ingest(department, category, body, f"{tag}-{k}")
            assert batch.status == "completed"
            assert batch.rejected == 0

    expected = None
    try:
        with transaction.atomic():
            run(range(len(batches)), "canonical")
            expected = snapshot()
            raise Rollback
    except Rollback:
        pass
    try:
        with transaction.atomic():
            run(order, "permuted")
            assert snapshot() == expected
            for k in range(len(batches)):  # the same content again, as a new batch: nothing changes
                department, category, body = batches[k]
                again = ingest(department, category, body, f"again-{k}")
                assert again.counts["unchanged"] == len(body) and again.accepted == len(body)
            assert snapshot() == expected
            raise Rollback
    except Rollback:
        pass

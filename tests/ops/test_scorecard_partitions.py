"""A month's scorecard reads the versions of that month only: versions are partitioned by month (credit 0015)
and the timeliness query bounds valid_from by the month's batches, so PostgreSQL prunes every other partition."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection

from credit.models import RecordVersion
from credit.partitions import version_partition_name, version_partitions_ensure
from exchange.models import Batch, Department
from ops.scorecards.figures import (
    TIMELINESS_CATEGORIES,
    TIMELINESS_GROUPS_SQL,
    scorecards_compute,
    timeliness_params,
)
from ops.scorecards.months import month_bounds
from tests.credit.factories import penalty, registration
from tests.ops.conftest import _batch, _department, at

pytestmark = pytest.mark.django_db

MONTHS = (dt.date(2025, 2, 1), dt.date(2025, 3, 1), dt.date(2025, 4, 1))


@pytest.fixture
def three_months(settings, tmp_path):
    """One penalty batch in each of February, March and April 2025, merged (its versions begun) and finished
    within a few minutes of its receipt; each month's versions in that month's partition."""
    settings.PLATFORM_SIGNING_KEY_DIR = tmp_path / "platform-keys"
    settings.BATCH_STORAGE_DIR = tmp_path / "batches"
    scjg = _department("HN-SCJG", ["registration", "admin_penalty"])
    Department.objects.filter(pk=scjg.pk).update(created_at=at("2025-01-02 09:00"))
    _batch(scjg, "registration", [registration(1)], "R-1", "2025-01-20 10:00")
    for month in MONTHS:
        day = f"{month:%Y-%m}-10"
        batch = _batch(scjg, "admin_penalty", [penalty(f"P-{month:%m}", 1, decided_on=f"{month:%Y-%m}-03")],
                       f"P-{month:%m}", f"{day} 10:00")
        Batch.objects.filter(pk=batch.pk).update(completed_at=at(f"{day} 10:05"))
        RecordVersion.objects.filter(batch=batch).update(valid_from=at(f"{day} 10:01"))
    made = version_partitions_ensure(months_ahead=0)
    assert {version_partition_name(month) for month in MONTHS} <= {p.name for p in made}


def _versions_read(month: dt.date) -> set[str]:
    """The tables of credit_recordversion the plan of the month's timeliness query reads."""
    start, end = month_bounds(month)
    params = timeliness_params({"start": start, "end": end, "tz": "Asia/Shanghai",
                                "categories": list(TIMELINESS_CATEGORIES)})
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + TIMELINESS_GROUPS_SQL, params)
        plan = "\n".join(line for (line,) in cursor.fetchall())
    return set(re.findall(r" on (credit_recordversion\w*)", plan))


def test_a_months_timeliness_reads_only_that_months_partition(three_months):
    assert _versions_read(MONTHS[1]) == {version_partition_name(MONTHS[1])}
    march = next(card for card in scorecards_compute(month=MONTHS[1]) if card["department"] == "HN-SCJG")
    assert (march["timeliness_rows"], march["timely_rows"]) == (1, 1)  # P-03 only, decided 3 March


def test_a_batch_still_merging_past_the_months_end_reads_the_months_after_too(three_months):
    # February's batch not finished yet: its versions may still begin, up to now
    Batch.objects.filter(batch_id="P-02").update(completed_at=None)
    read = _versions_read(MONTHS[0])
    assert {version_partition_name(month) for month in MONTHS} <= read
    assert "credit_recordversion_default" in read

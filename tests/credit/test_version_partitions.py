"""Record versions partitioned by month (credit 0015, credit/partitions.py): the table the migrations made, the
DEFAULT partition as the safety net and the partitions made ahead (beat and `manage.py version_partitions`)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from credit.models import RecordVersion
from credit.months import month_add
from credit.partitions import (
    DEFAULT_PARTITION,
    version_partition_name,
    version_partitions,
    version_partitions_ensure,
)
from credit.selectors import record_versions
from credit.verify_store import store_verify
from tests.credit.factories import ingest, penalty, registration

pytestmark = pytest.mark.django_db


def _partition_of(version: RecordVersion) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM credit_recordversion WHERE id = %s", [version.id])
        return cursor.fetchone()[0]


def _one(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def test_the_table_is_partitioned_by_month_with_its_indexes_on_every_partition():
    assert _one("SELECT relkind FROM pg_class WHERE oid = 'credit_recordversion'::regclass") == ("p",)
    assert _one("SELECT pg_get_partkeydef('credit_recordversion'::regclass)") == ("RANGE (valid_from)",)
    this_month = timezone.localdate().replace(day=1)
    made = version_partitions()
    # the migration made this month's and three ahead (on the platform's clock), and the safety net
    assert {version_partition_name(month_add(this_month, n)) for n in range(4)} | {DEFAULT_PARTITION} <= made
    # ids from the one sequence, named as before the conversion
    assert _one("SELECT pg_get_serial_sequence('credit_recordversion', 'id')") == (
        "public.credit_recordversion_id_seq",)
    # each partition has the parent's four indexes: primary key, (record, version), (batch, row), feed order
    for partition in made:
        assert _one("SELECT count(*) FROM pg_index WHERE indrelid = %s::regclass", [partition]) == (4,), partition


def test_a_version_of_a_month_with_no_partition_lands_in_default_and_ensure_moves_it_out(scjg, sthj):
    ingest(scjg, "registration", [registration(1)], "r1")
    ingest(sthj, "admin_penalty", [penalty("P-1", 1)], "p1")
    ingest(sthj, "admin_penalty", [penalty("P-1", 1, content="罚款一万元")], "p2")
    first, second = RecordVersion.objects.filter(record__natural_key="P-1").order_by("version")
    # a history older than every partition: both versions of P-1 moved to May 2019 (row movement to DEFAULT)
    zone = timezone.get_default_timezone()
    began = dt.datetime(2019, 5, 1, 0, 0, 30, tzinfo=zone)  # 30 s into 1 May on the platform's clock
    RecordVersion.objects.filter(pk=first.pk).update(valid_from=began, valid_to=began + dt.timedelta(days=3))
    RecordVersion.objects.filter(pk=second.pk).update(valid_from=began + dt.timedelta(days=3))
    assert (_partition_of(first), _partition_of(second)) == (DEFAULT_PARTITION, DEFAULT_PARTITION)

    made = version_partitions_ensure(months_ahead=3)

    may = version_partition_name(dt.date(2019, 5, 1))
    assert [(p.name, p.moved) for p in made] == [(may, 2)]
    assert (_partition_of(first), _partition_of(second)) == (may, may)
    assert _one(f"SELECT count(*) FROM {DEFAULT_PARTITION}") == (0,)
    assert _one("SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = %s", [may]) == (
        "FOR VALUES FROM ('2019-04-30 16:00:00+00') TO ('2019-05-31 16:00:00+00')",)  # midnights in Shanghai
    assert settings.TIME_ZONE == "Asia/Shanghai"
    # the month's indexes were made as it was attached; nothing lost, the store whole
    assert _one("SELECT count(*) FROM pg_index WHERE indrelid = %s::regclass", [may]) == (4,)
    assert [v["version"] for v in record_versions([first.record], department_id=None)[first.record_id]] == [1, 2]
    assert store_verify().ok
    assert version_partitions_ensure(months_ahead=3) == []  # idempotent


def test_the_command_says_what_it_made():
    ahead = month_add(timezone.localdate().replace(day=1), 5)
    out = io.StringIO()
    call_command("version_partitions", "--months-ahead", "5", stdout=out)
    assert f"made {version_partition_name(ahead)} ({ahead:%Y-%m}), moved 0 versions" in out.getvalue()
    out = io.StringIO()
    call_command("version_partitions", "--months-ahead", "5", stdout=out)
    assert out.getvalue().strip() == "nothing to make: every partition needed exists"


def test_beat_makes_partitions_daily():
    entry = settings.CELERY_BEAT_SCHEDULE["credit.version_partitions_ensure"]
    assert entry["task"] == "credit.version_partitions_ensure"
    assert entry["schedule"].hour == {3} and entry["schedule"].minute == {20}

"""Where a batch's run spends its time: one log line per run, stage by stage (ingest/stage_clock.py), which
bench/ingest prints so the next person knows what to attack."""

from __future__ import annotations

import logging
import re

import pytest

from ingest.stage_clock import STAGES, StageClock
from tests.credit.factories import ingest, penalty, registration

pytestmark = pytest.mark.django_db


def test_a_run_logs_the_seconds_of_every_stage_it_went_through(scjg, sthj, caplog):
    ingest(scjg, "registration", [registration(1), registration(2)], "clock-reg")
    with caplog.at_level(logging.INFO, logger="ingest.pipeline"):
        batch = ingest(sthj, "admin_penalty", [penalty("P-1", 1), penalty("P-2", 2), penalty("P-3", 2)], "clock-pen")
    assert batch.status == "completed"
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"batch {batch.pk} ")]
    assert line.startswith(f"batch {batch.pk} (3 rows) stages: ")
    timed = dict(re.findall(r"(\w+) (\d+\.\d\d) s", line.split("stages: ")[1]))
    assert list(timed) == list(STAGES)  # a batch of three rows goes through every stage, in this order
    assert all(float(seconds) >= 0 for seconds in timed.values())


def test_a_timed_iterator_counts_the_waits_and_closes_what_it_wraps():
    closed = []

    def items():
        try:
            yield from (1, 2, 3)
        finally:
            closed.append(True)

    clock = StageClock()
    wrapped = clock.timed(items(), "validate")
    assert next(wrapped) == 1
    wrapped.close()  # the consumer stopped early
    assert closed == [True]
    assert set(clock.seconds) == {"validate"}
    assert clock.line().startswith("validate ")

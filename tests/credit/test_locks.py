"""atomic_retrying: a real deadlock between two transactions ends with both units done, the victim retried."""

from __future__ import annotations

import threading

import pytest
from django.db import OperationalError, connection

from credit.locks import atomic_retrying, clash_of
from exchange.models import Department

pytestmark = pytest.mark.django_db(transaction=True)


def _two_rows():
    a = Department.objects.create(code="LOCK-A", name="甲")
    b = Department.objects.create(code="LOCK-B", name="乙")
    return a.pk, b.pk


def _crossing_units(first: int, second: int, barrier: threading.Barrier, attempts: list):
    def unit():
        attempts.append(1)
        Department.objects.select_for_update().get(pk=first)
        if len(attempts) == 1:  # only the first try waits for the other side: the retry runs alone
            barrier.wait(timeout=10)
        Department.objects.select_for_update().get(pk=second)
        return "done"
    return unit


def _run(unit, out: dict, key: str, **kwargs):
    try:
        out[key] = atomic_retrying(unit, what=f"test {key}", **kwargs)
    except Exception as exc:  # noqa: BLE001 reported to the test
        out[key] = exc
    finally:
        connection.close()


def test_a_deadlock_victim_is_run_again_and_both_units_finish():
    a, b = _two_rows()
    barrier, out = threading.Barrier(2), {}
    attempts_ab, attempts_ba = [], []
    threads = [threading.Thread(target=_run, args=(_crossing_units(a, b, barrier, attempts_ab), out, "ab")),
               threading.Thread(target=_run, args=(_crossing_units(b, a, barrier, attempts_ba), out, "ba"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert out == {"ab": "done", "ba": "done"}
    assert sorted([len(attempts_ab), len(attempts_ba)]) == [1, 2]  # PostgreSQL picked one victim, run twice


def test_without_tries_left_the_deadlock_reaches_the_caller():
    a, b = _two_rows()
    barrier, out = threading.Barrier(2), {}
    threads = [threading.Thread(target=_run, args=(_crossing_units(a, b, barrier, []), out, "ab"),
                                kwargs={"attempts": 1}),
               threading.Thread(target=_run, args=(_crossing_units(b, a, barrier, []), out, "ba"),
                                kwargs={"attempts": 1})]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    errors = [v for v in out.values() if isinstance(v, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], OperationalError) and clash_of(errors[0]) == "deadlock"

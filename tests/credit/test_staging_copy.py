"""Staged rows travel from the validation workers as COPY text: every value comes back as it went in."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from credit.staging import _copy_cell

pytestmark = pytest.mark.django_db


def test_copy_text_round_trip():
    values = ("a\\b\tc\nd\re 公司\\N", "", None, b"\x00\x01\xffbinary", dt.date(2026, 2, 28), 123456789012)
    line = "\t".join(map(_copy_cell, values)) + "\n"
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE copy_check (t text, e text, n text, b bytea, d date, i bigint)")
        with cursor.cursor.copy("COPY copy_check FROM STDIN") as copy:
            copy.write(line.encode())
        cursor.execute("SELECT t, e, n, b, d, i FROM copy_check")
        (got,) = cursor.fetchall()
    assert (got[0], got[1], got[2], bytes(got[3]), got[4], got[5]) == values

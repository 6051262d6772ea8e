"""Verifying a credit report (portal.md §6): what the platform kept of the report with this number, read as
the public role through public_view.report (public/migrations/0011), like every other public read."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from public.selectors import _fetchone, _read

_NUMBER = re.compile(r"^CR[0-9A-Z]{20}$")


@dataclass(frozen=True)
class VerifiedReport:
    number: str
    uscc: str | None
    name: str
    scope: str
    issued_at: dt.datetime
    sha256: str

    def as_dict(self) -> dict:
        return {"number": self.number, "uscc": self.uscc, "name": self.name, "scope": self.scope,
                "issued_at": self.issued_at.isoformat(), "sha256": self.sha256}


def report_find(*, number: str) -> VerifiedReport | None:
    """The report issued with this number, or None (an unknown or malformed number alike)."""
    number = (number or "").strip().upper()
    if not _NUMBER.match(number):
        return None
    row = _read(lambda cursor: _fetchone(cursor, "SELECT * FROM public_view.report(%s)", [number]))
    return VerifiedReport(*row) if row else None

"""The portal's domain error: a stable snake_case `code` and plain Chinese words for the person.

api/portal maps each code to an HTTP status (api/portal/views.py: PORTAL_ERROR_STATUS); the web pages show
the words."""

from __future__ import annotations

import datetime as dt


class PortalError(Exception):
    def __init__(self, code: str, detail: str, *, retry_after: dt.timedelta | None = None, **extra):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.retry_after = retry_after  # how long until trying again can succeed (lockouts)
        self.extra = extra  # more members of the problem document (e.g. "earliest")

    @property
    def retry_after_seconds(self) -> int | None:
        if self.retry_after is None:
            return None
        return max(1, int(self.retry_after.total_seconds() + 0.999))

"""What the store answers when an enterprise asks for something it may not have (portal.md §3–§6).

Each refusal carries a stable snake_case `code` and a message in plain Chinese for the user; the API maps
the kind to its status (api/portal). A domain error, never an HTTP one: credit does not know about HTTP."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError


class Refused(Exception):
    """The request conflicts with the store's state (→ 409)."""

    def __init__(self, code: str, message: str, **extra: Any):
        super().__init__(message)
        self.code, self.message, self.extra = code, message, extra


class NotFound(Refused):
    """No such object of this subject: another subject's ids answer the same (→ 404)."""

    def __init__(self, message: str = "没有找到该对象。"):
        super().__init__("not_found", message)


class Invalid(Refused):
    """Input the store cannot take as it is (→ 400)."""


def constraint_violated(exc: BaseException) -> str | None:
    """The name of the constraint an IntegrityError is about (None for any other error)."""
    if not isinstance(exc, IntegrityError):
        return None
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)


def one_of(queryset, pk: int, *, missing: str):
    """The object with this id among `queryset` (a subject's own objects); any other id, however large,
    is NotFound with the message `missing`."""
    found = queryset.filter(pk=pk).first() if 0 < pk < 2**63 else None
    if found is None:
        raise NotFound(missing)
    return found

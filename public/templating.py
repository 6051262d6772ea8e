"""The Jinja2 environment of the public pages (settings.TEMPLATES): autoescaped, with Django's URL reversing and
the platform's clock."""

from __future__ import annotations

import datetime as dt
import functools

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from jinja2 import Environment


def url(name: str, **kwargs) -> str:
    """The path of a named route. A route without arguments (the search page, linked from every page's header)
    is reversed once per URLconf and script prefix rather than on every render."""
    if kwargs:
        return reverse(name, kwargs=kwargs)
    return _fixed_url(name, get_urlconf(settings.ROOT_URLCONF), get_script_prefix())


@functools.lru_cache(maxsize=64)
def _fixed_url(name: str, urlconf: str | None, script_prefix: str) -> str:
    return reverse(name, urlconf=urlconf)


def local_minutes(moment: dt.datetime) -> str:
    """Y-m-d H:i on the platform's clock (settings.TIME_ZONE; the public site never activates another)."""
    return moment.astimezone(timezone.get_default_timezone()).strftime("%Y-%m-%d %H:%M")


def environment(**options) -> Environment:
    env = Environment(**options)  # Django's backend turns autoescape on
    env.globals["url"] = url
    env.filters["local_minutes"] = local_minutes
    return env

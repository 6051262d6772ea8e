"""The Jinja2 environment of the public pages (settings.TEMPLATES): autoescaped, with Django's URL reversing and
the platform's clock."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone
from jinja2 import Environment


def url(name: str, **kwargs) -> str:
    return reverse(name, kwargs=kwargs or None)


def local_minutes(moment: dt.datetime) -> str:
    """Y-m-d H:i on the platform's clock (settings.TIME_ZONE; the public site never activates another)."""
    return moment.astimezone(timezone.get_default_timezone()).strftime("%Y-%m-%d %H:%M")


def environment(**options) -> Environment:
    env = Environment(**options)  # Django's backend turns autoescape on
    env.globals["url"] = url
    env.filters["local_minutes"] = local_minutes
    return env

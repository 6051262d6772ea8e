"""Configuration from the environment, with the embedded services as defaults."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from config import embedded


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    return default if value is None else value.lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = env(name)
    return default if value is None else int(value)


def database_from_url(url: str) -> dict:
    """postgresql://user:password@host:port/name?host=/socket/dir&sslmode=… → Django's DATABASES entry."""
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql"}:
        raise ValueError(f"DATABASE_URL must be a postgresql:// URL, not {parsed.scheme}://")
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    host = query.pop("host", None) or unquote(parsed.hostname or "")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")),
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": host,
        "PORT": str(parsed.port or ""),
        "OPTIONS": query,
    }


def secret(name: str) -> str:
    """A secret from the environment: NAME itself, or NAME_FILE naming a file that holds it (a mounted secret,
    kept out of the process environment); else the checkout's development secret in var/."""
    value = env(name)
    if value:
        return value
    path = env(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return embedded.ensure_secrets()[name]

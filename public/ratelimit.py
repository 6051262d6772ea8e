"""Per-client-address request limit for the public pages and API.

A fixed window counted in the shared cache (Redis), so the limit holds across
every gunicorn worker: `cache.add` starts the window, `cache.incr` is atomic.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.shortcuts import render

log = logging.getLogger(__name__)

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
# while the cache is down every request would log it: once per this many seconds per process is enough
CACHE_DOWN_LOG_SECONDS = 60
_cache_down_logged_at = float("-inf")


def limit_parse(value: str | None) -> tuple[int, int] | None:
    """"120/minute" → (120, 60); "off", "0" or empty → None (no limit)."""
    if not value or value.strip().lower() in {"off", "0", "none"}:
        return None
    count, _, unit = value.partition("/")
    seconds = _UNITS.get(unit.strip().lower().rstrip("s"))
    if seconds is None or int(count) < 1:
        raise ValueError(f"PUBLIC_RATE_LIMIT must look like 120/minute, not {value!r}")
    return int(count), seconds


def client_address(request) -> str:
    """REMOTE_ADDR, or the address our trusted reverse proxies saw (they append to X-Forwarded-For)."""
    proxies = settings.PUBLIC_TRUSTED_PROXIES
    if proxies:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def limited_unit(address: str) -> str:
    """What the limit counts: an IPv4 address, or the /64 an IPv6 address is in (one subscriber's
    network: a client given a /64 could otherwise take a fresh address for every request)."""
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is that IPv4 client
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


def rate_limit_check(request) -> int | None:
    """Count this request; the seconds until the client may ask again when it is over the limit, else None."""
    limit = limit_parse(settings.PUBLIC_RATE_LIMIT)
    if limit is None:
        return None
    allowed, window = limit
    now = time.time()
    window_no = int(now // window)
    key = f"public-rl:{window}:{window_no}:{limited_unit(client_address(request))}"
    try:
        count = _count(key, window)
    except Exception:  # noqa: BLE001 - the cache (Redis) is down: the lookup stays open, unlimited meanwhile
        _cache_down_log()
        return None
    if count <= allowed:
        return None
    return max(1, int(window - now % window) + 1)


def _count(key: str, window: int) -> int:
    cache.add(key, 0, timeout=window + 1)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr: this request opens a new window
        cache.add(key, 1, timeout=window + 1)
        return 1


def _cache_down_log() -> None:
    global _cache_down_logged_at
    now = time.monotonic()
    if now - _cache_down_logged_at >= CACHE_DOWN_LOG_SECONDS:
        _cache_down_logged_at = now
        log.warning("public rate limit not applied: its cache is unreachable", exc_info=True)


def rate_limited_page(view):
    """For HTML pages: 429 with a Chinese explanation and Retry-After."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        retry_after = rate_limit_check(request)
        if retry_after is not None:
            response = render(request, "public/rate_limited.html", {"retry_after": retry_after}, status=429)
            response["Retry-After"] = str(retry_after)
            response["Cache-Control"] = "no-store"
            return response
        return view(request, *args, **kwargs)

    return wrapper

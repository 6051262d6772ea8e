"""Settings that must never reach production unnoticed."""

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

# Set by config/wsgi_bench_unverified.py, the entry point bench/exchange serves its unverified server by: the
# only process in which EXCHANGE_BENCH_SKIP_VERIFICATION may take effect. No setting or variable can set it.
BENCH_ENTRY_POINT = False
_SERVES_EXCHANGE = ("extranet", "all")


def _unverified_exchange_served() -> bool:
    return (settings.EXCHANGE_BENCH_SKIP_VERIFICATION and settings.PLATFORM_ZONE in _SERVES_EXCHANGE
            and not BENCH_ENTRY_POINT)


def refuse_unverified_exchange() -> None:
    """Called as the app loads, in every process (gunicorn runs no system checks): with verification off, anyone
    who knows a keyid could act as that department."""
    if _unverified_exchange_served():
        raise ImproperlyConfigured(
            f"EXCHANGE_BENCH_SKIP_VERIFICATION is on in a process that serves the exchange API (zone "
            f"{settings.PLATFORM_ZONE}): unset it. It exists only for bench/exchange's own server.")


@register()
def bench_skip_verification(app_configs, **kwargs):
    if _unverified_exchange_served():
        return [Error(
            f"EXCHANGE_BENCH_SKIP_VERIFICATION is on in a process that serves the exchange API (zone "
            f"{settings.PLATFORM_ZONE}): anyone who knows a keyid could act as that department.",
            hint="It exists only to measure the cost of signatures in bench/exchange; unset it.",
            id="exchange.E001",
        )]
    return []

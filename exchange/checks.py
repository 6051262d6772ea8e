"""System checks: settings that must never reach production unnoticed."""

from django.conf import settings
from django.core.checks import Error, register


@register()
def bench_skip_verification(app_configs, **kwargs):
    if settings.EXCHANGE_BENCH_SKIP_VERIFICATION and settings.PLATFORM_ZONE == "extranet":
        return [Error(
            "EXCHANGE_BENCH_SKIP_VERIFICATION is on in an extranet process: anyone who knows a keyid could act "
            "as that department.",
            hint="It exists only to measure the cost of signatures in bench/exchange; unset it.",
            id="exchange.E001",
        )]
    return []

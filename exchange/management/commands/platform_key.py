"""Operator command for the platform's signing keys (files in PLATFORM_SIGNING_KEY_DIR)."""

import datetime as dt

from django.core.management.base import BaseCommand

from exchange.platform_keys import platform_key_current, platform_key_rotate, platform_keys, verify_window


class Command(BaseCommand):
    help = ("list: the platform signing keys and which are published; rotate: make a new key current "
            "(the old one stays in the JWK Set for EXCHANGE_RECEIPT_VERIFY_DAYS).")

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "rotate"])

    def handle(self, *args, action, **options):
        if action == "rotate":
            key = platform_key_rotate()
            self.stdout.write(f"new current key {key.kid}")
        current = platform_key_current().kid
        cutoff = dt.datetime.now(dt.UTC) - verify_window()
        for key in platform_keys():
            if key.kid == current:
                state = "current"
            elif key.retired_at and key.retired_at > cutoff:
                state = f"retired {key.retired_at:%Y-%m-%d}, published until {key.retired_at + verify_window():%Y-%m-%d}"
            else:
                state = f"retired {key.retired_at:%Y-%m-%d}, no longer published" if key.retired_at else "unused"
            self.stdout.write(f"{key.kid}  {state}")

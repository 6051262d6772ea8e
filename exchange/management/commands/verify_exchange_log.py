"""Operator check of the exchange log (exchange-protocol §7): exit 1 and name the first broken entry."""

from django.core.management.base import BaseCommand, CommandError

from exchange.exchange_log import log_verify


class Command(BaseCommand):
    help = "Verify the whole hash chain of the exchange log; name the first broken entry (exit status 1)."

    def handle(self, *args, **options):
        check = log_verify()
        if not check.ok:
            raise CommandError(f"exchange log broken at entry {check.first_broken_index}: {check.reason} "
                               f"({check.entries} entries before it verified)", returncode=1)
        self.stdout.write(f"exchange log intact: {check.entries} entries")

"""Operator check of the unified credit store (credit/verify_store.py): exit 1 and name the first broken thing."""

from django.core.management.base import BaseCommand, CommandError

from credit.verify_store import store_verify


class Command(BaseCommand):
    help = ("Check every reference, version chain, batch count against its receipt and the change feed of the "
            "credit store; name the first broken thing (exit status 1).")

    def handle(self, *args, **options):
        check = store_verify()
        if not check.ok:
            raise CommandError(f"store broken: {check.problem}", returncode=1)
        self.stdout.write(f"{check.subjects} subjects, {check.records} records, {check.versions} versions, "
                          f"{check.feed_entries} feed entries: all consistent")

"""Operators' list of records flagged `conflicting_duplicate`: two departments' records that normalised
natural keys made one (credit/migrations/0009). One line per pair, or JSON lines with --json."""

import json

from django.core.management.base import BaseCommand

from credit.selectors import conflicting_duplicates


class Command(BaseCommand):
    help = "List records of two departments whose natural keys became one when keys were normalised."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="one JSON object per line")

    def handle(self, *args, **options):
        flagged = conflicting_duplicates()
        for item in flagged:
            if options["json"]:
                self.stdout.write(json.dumps(item, ensure_ascii=False))
                continue
            kept, apart = item["records"]
            self.stdout.write(f"{item['category']} {item['natural_key']}: 记录 {kept['id']}（{kept['owner']}）"
                              f"与记录 {apart['id']}（{apart['owner']}，键为“{apart['natural_key']}”）自然键相同，未合并")
        if not options["json"]:
            self.stdout.write(f"{len(flagged)} conflicting_duplicate")

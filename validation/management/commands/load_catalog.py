from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from validation.catalog import CATALOG_FILE
from validation.services import CatalogError, catalog_load


class Command(BaseCommand):
    help = "Load the catalog file (categories, fields, enumerations, publicity periods) into the database."

    def add_arguments(self, parser):
        parser.add_argument("--file", default=str(CATALOG_FILE))

    def handle(self, *args, file, **options):
        try:
            row, changed = catalog_load(path=Path(file))
        except (CatalogError, OSError, KeyError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        state = "loaded" if changed else "already loaded"
        self.stdout.write(f"catalog v{row.version} {state} ({len(row.document['categories'])} categories)")

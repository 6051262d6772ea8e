from django.core.management.base import BaseCommand, CommandError

from exchange.services.departments import ProvisioningError, records_transfer


class Command(BaseCommand):
    help = ("Move the ownership of a department's records (and so of their objections) to another department "
            "that may write their categories, in one transaction entered in the exchange log.")

    def add_arguments(self, parser):
        parser.add_argument("from_code", help="the department that owns the records now")
        parser.add_argument("to_code", help="the department that will own them")
        parser.add_argument("--category", help="only this category's records (default: all of them)")

    def handle(self, *args, from_code, to_code, category, **options):
        try:
            moved = records_transfer(from_code=from_code, to_code=to_code, category=category)
        except ProvisioningError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{moved.records} records{f' of {category}' if category else ''} transferred from "
                          f"{from_code} to {to_code} ({moved.open_objections} open objections with them)")

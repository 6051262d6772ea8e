from django.core.management.base import BaseCommand, CommandError

from exchange.services.departments import ProvisioningError, department_register


def category_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


class Command(BaseCommand):
    help = "Register a department (or update its name and grants). Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("code", help="department code, e.g. HN-SCJG")
        parser.add_argument("--name", required=True)
        parser.add_argument("--write", type=category_list, default=[], help="categories it may write, comma-separated")
        parser.add_argument("--read", type=category_list, default=[], help="categories it may read, comma-separated")

    def handle(self, *args, code, name, write, read, **options):
        try:
            outcome = department_register(code=code, name=name, write=write, read=read)
        except ProvisioningError as exc:
            raise CommandError(str(exc)) from exc
        state = "registered" if outcome.created else ("updated" if outcome.changed else "unchanged")
        d = outcome.obj
        self.stdout.write(f"department {d.code} {state}: write={','.join(d.write_categories) or '-'} "
                          f"read={','.join(d.read_categories) or '-'}")

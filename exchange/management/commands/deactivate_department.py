from django.core.management.base import BaseCommand, CommandError

from exchange.services.departments import ProvisioningError, department_deactivate


class Command(BaseCommand):
    help = ("Deactivate a department: its keys are refused from now on (401 department_inactive); its records "
            "stay as they are until transfer_records moves them. Entered in the exchange log.")

    def add_arguments(self, parser):
        parser.add_argument("code", help="department code, e.g. HN-SCJG")
        parser.add_argument("--reason", required=True, help="why, in plain words (kept in the exchange log)")

    def handle(self, *args, code, reason, **options):
        try:
            outcome = department_deactivate(code=code, reason=reason)
        except ProvisioningError as exc:
            raise CommandError(str(exc)) from exc
        state = "deactivated" if outcome.changed else "already deactivated"
        self.stdout.write(f"department {code} {state}; move its records with: transfer_records {code} OTHER-CODE")

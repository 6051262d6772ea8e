from django.core.management.base import BaseCommand, CommandError

from exchange.services.departments import ProvisioningError, department_key_revoke


class Command(BaseCommand):
    help = ("Revoke a department's signing key: from now on its requests answer 401 key_revoked. "
            "Entered in the exchange log; revoking a revoked key changes nothing.")

    def add_arguments(self, parser):
        parser.add_argument("keyid", help="the key's keyid, e.g. hn-scjg-2026")
        parser.add_argument("--reason", default="", help="why, in plain words (kept in the exchange log)")

    def handle(self, *args, keyid, reason, **options):
        try:
            outcome = department_key_revoke(keyid=keyid, reason=reason)
        except ProvisioningError as exc:
            raise CommandError(str(exc)) from exc
        key = outcome.obj
        state = "revoked" if outcome.changed else "already revoked"
        self.stdout.write(f"key {keyid} of {key.department.code} {state} at {key.revoked_at.isoformat()}")

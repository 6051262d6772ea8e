from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from exchange.services.departments import ProvisioningError, department_key_add


class Command(BaseCommand):
    help = "Register an Ed25519 public key (PEM SubjectPublicKeyInfo) for a department. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("code", help="department code")
        parser.add_argument("--keyid", required=True)
        parser.add_argument("--public-key-file", required=True, type=Path)

    def handle(self, *args, code, keyid, public_key_file, **options):
        try:
            pem = public_key_file.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {public_key_file}: {exc.strerror}") from exc
        try:
            outcome = department_key_add(department_code=code, keyid=keyid, public_key_pem=pem)
        except ProvisioningError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"key {keyid} for {code} {'added' if outcome.created else 'unchanged'}")

import getpass
import os

from django.core.management.base import BaseCommand, CommandError

from ops.operators import CONSOLE_GROUPS, OperatorError, operator_create


class Command(BaseCommand):
    help = ("Create a staff account for the operators' console, with a TOTP device for its second factor: "
            "prints the provisioning URI (otpauth://…) to add to an authenticator app. The password is asked "
            "for, or taken from OPERATOR_PASSWORD when there is no terminal.")

    stealth_options = ("password", "totp_key")  # for call_command (the demo's operator, tests)

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--group", action="append", default=[], choices=CONSOLE_GROUPS,
                            help="viewer (sees everything), operator (also edits grants, deactivates departments, "
                                 "verifies the exchange log), key_manager (also revokes keys); may be repeated")
        parser.add_argument("--superuser", action="store_true", help="every permission (the demo's operator)")

    def handle(self, *args, username, group, superuser, password=None, totp_key=None, **options):
        password = password or os.environ.get("OPERATOR_PASSWORD") or self._ask_password()
        try:
            new = operator_create(username=username, password=password, groups=group, superuser=superuser,
                                  totp_key=totp_key)
        except OperatorError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"operator {username} created (groups: {', '.join(group) or 'none, superuser'})\n"
                          f"TOTP provisioning URI (add it to an authenticator app; keep it secret):\n"
                          f"{new.provisioning_uri}")

    def _ask_password(self) -> str:
        if not os.isatty(0):
            raise CommandError("no terminal to ask the password on: set OPERATOR_PASSWORD")
        password = getpass.getpass("password: ")
        if password != getpass.getpass("password (again): "):
            raise CommandError("the passwords differ")
        return password

"""Load the demo departments, their keys and the demo batches into an empty platform (idempotent)."""

from pathlib import Path

import yaml
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from config.env import secret
from exchange.demo_keys import demo_key_files
from exchange.selectors import exchange_is_empty

FIXTURES = Path(settings.BASE_DIR) / "fixtures"
# in fixtures/batches: registered, with a simple-procedure penalty (never public) among its records
DEMO_ENTERPRISE_USCC, DEMO_ENTERPRISE_NAME = "91431000MA401019XK", "郴州武陵机械有限公司"


class Command(BaseCommand):
    help = ("Load demo departments (fixtures/departments.yaml), their keys (made in var/demo-keys/) and demo "
            "batches (fixtures/batches/), only into a platform with no departments and no batches yet.")

    def handle(self, *args, **options):
        if not exchange_is_empty():
            # the demo belongs on a new platform: among real departments, its keys (files in var/) would be a way in
            self.stdout.write("demo data not loaded: this platform already has departments or batches "
                              "(`make reset` deletes everything, and the next `make run` loads the demo)")
            return
        self._demo_operator()
        departments = yaml.safe_load((FIXTURES / "departments.yaml").read_text(encoding="utf-8"))
        for d in departments:
            call_command("register_department", d["code"], name=d["name"], write=d["write"], read=d["read"],
                         stdout=self.stdout)
            _private, public = demo_key_files(d["keyid"])
            call_command("add_department_key", d["code"], keyid=d["keyid"], public_key_file=public,
                         stdout=self.stdout)
        manifest = FIXTURES / "batches" / "manifest.yaml"
        if manifest.exists():
            for item in yaml.safe_load(manifest.read_text(encoding="utf-8")):
                call_command("ingest", str(FIXTURES / "batches" / item["file"]), department=item["department"],
                             category=item["category"], batch_id=item["batch_id"], stdout=self.stdout)
        self._demo_enterprise()

    def _demo_enterprise(self):
        """An enterprise portal account to try: the activation code of a demo enterprise (one with a penalty
        that is not public), printed here once, as the command prints it for an operator."""
        self.stdout.write(f"demo enterprise {DEMO_ENTERPRISE_NAME} ({DEMO_ENTERPRISE_USCC}): open its portal "
                          "account at /portal/signup with this USCC and the activation code below")
        call_command("portal_activation_code", DEMO_ENTERPRISE_USCC, stdout=self.stdout)

    def _demo_operator(self):
        """An operator account for the intranet console; its password and TOTP key are in var/secrets.env."""
        if get_user_model().objects.filter(username="operator").exists():
            return
        call_command("createoperator", "operator", superuser=True, password=secret("DEMO_OPERATOR_PASSWORD"),
                     totp_key=secret("DEMO_OPERATOR_TOTP_KEY"), stdout=self.stdout)
        self.stdout.write("demo operator 'operator': password DEMO_OPERATOR_PASSWORD, TOTP key DEMO_OPERATOR_TOTP_KEY "
                          "in var/secrets.env (`oathtool --totp <key>` gives a token)")

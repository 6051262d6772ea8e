from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from portal.errors import PortalError
from portal.services import activation_code_issue


class Command(BaseCommand):
    help = ("Issue a single-use activation code (valid 30 days) with which one person opens an enterprise portal "
            "account acting for the subject with this USCC. The code is printed alone on the last line, once: "
            "the platform keeps only its digest. Send it by letter to the registered address.")

    def add_arguments(self, parser):
        parser.add_argument("uscc", help="the subject's unified social credit code (统一社会信用代码)")

    def handle(self, *args, uscc, **options):
        try:
            issued = activation_code_issue(uscc=uscc)
        except PortalError as exc:
            raise CommandError(exc.detail) from exc
        until = timezone.localtime(issued.expires_at).strftime("%Y-%m-%d %H:%M")
        self.stdout.write(f"activation code for {uscc.strip().upper()}, single use, valid until {until}:")
        self.stdout.write(issued.code)

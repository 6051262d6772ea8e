"""Make record versions' monthly partitions ahead (credit/partitions.py), as Celery beat does daily, and say
what was made."""

from django.core.management.base import BaseCommand

from credit.partitions import version_partitions_ensure


class Command(BaseCommand):
    help = ("Make the partitions of credit_recordversion for this month and the next ones, and for any month the "
            "default partition holds versions of (moving them in); print what was made.")

    def add_arguments(self, parser):
        parser.add_argument("--months-ahead", type=int, default=3, help="months after this one (default 3)")

    def handle(self, *args, months_ahead: int, **options):
        made = version_partitions_ensure(months_ahead=max(0, months_ahead))
        for partition in made:
            self.stdout.write(f"made {partition.name} ({partition.month:%Y-%m}), moved {partition.moved} versions "
                              "into it from the default partition")
        if not made:
            self.stdout.write("nothing to make: every partition needed exists")

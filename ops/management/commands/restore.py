"""Operator command: bring the platform back from a backup set (ops/backup.py)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ops.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = ("Restore the platform from the backup set in DIR: check every file against the manifest, then "
            "the database (pg_restore --clean), batch files, platform keys and secrets; verify the exchange "
            "log and compare the counts with the manifest's. Refuses a database holding data without --force.")

    def add_arguments(self, parser):
        parser.add_argument("dir", type=Path)
        parser.add_argument("--force", action="store_true", help="replace a database that holds data")

    def handle(self, *args, dir: Path, force: bool, **options):
        try:
            result = backup_restore(source=dir, force=force)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}")
        self.stdout.write(f"restored the backup of {result.manifest['created_at']}")
        self.stdout.write(f"{'':22}{'restored':>10}{'manifest':>10}")
        for name, expected in result.manifest["counts"].items():
            found = result.counts.get(name)
            self.stdout.write(f"{name:22}{found:>10}{expected:>10}{'' if found == expected else '  DIFFERS'}")
        if not result.chain.ok:
            raise CommandError(f"exchange log broken at entry {result.chain.first_broken_index}: "
                               f"{result.chain.reason}", returncode=1)
        self.stdout.write(f"exchange log intact: {result.chain.entries} entries")
        if not result.ok:
            raise CommandError("the restored counts differ from the manifest's", returncode=1)

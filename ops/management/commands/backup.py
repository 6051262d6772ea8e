"""Operator command: write a backup set of the whole platform into a new or empty folder (ops/backup.py)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ops.backup import BackupError, backup_create


class Command(BaseCommand):
    help = ("Back up the platform into DIR (new or empty; made 0700, it holds secrets): the database "
            "(pg_dump), batch files, platform signing keys, secrets and a manifest with their sha256.")

    def add_arguments(self, parser):
        parser.add_argument("dir", type=Path)

    def handle(self, *args, dir: Path, **options):
        try:
            manifest = backup_create(target=dir)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        for path in manifest["missing_batch_files"]:
            self.stderr.write(f"warning: no file {path} in BATCH_STORAGE_DIR, though a batch names it")
        counts = ", ".join(f"{name} {value}" for name, value in manifest["counts"].items())
        self.stdout.write(f"backup written to {dir}: {len(manifest['files'])} files; {counts}")

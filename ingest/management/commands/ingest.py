"""Run a local batch file through the same intake and pipeline as the exchange API."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from exchange.models import Batch, Department
from exchange.selectors import batch_resource
from exchange.services.batches import BatchIdConflict, BatchTooLarge, CategoryNotWritable, batch_receive
from ingest import pipeline

CONTENT_TYPES = {".ndjson": "application/x-ndjson", ".jsonl": "application/x-ndjson", ".csv": "text/csv",
                 ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def worker_listening(queue: str) -> bool:
    """Is a Celery worker consuming `queue` right now?"""
    from config.celery import app

    try:
        queues = app.control.inspect(timeout=1.0).active_queues() or {}
    except Exception:  # broker down: no worker either
        return False
    return any(q.get("name") == queue for qs in queues.values() for q in qs)


class Command(BaseCommand):
    help = "Ingest a local batch file (CSV, NDJSON or Excel .xlsx) as a department would submit it, and wait for the result."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--department", required=True, help="department code, e.g. HN-SCJG")
        parser.add_argument("--category", required=True)
        parser.add_argument("--batch-id", help="the department's batch id (default: file name + digest)")
        parser.add_argument("--content-type", help="default: from the extension (.csv, .ndjson, .jsonl, .xlsx)")
        parser.add_argument("--encoding", default="utf-8", help="CSV charset: utf-8 (default) or gb18030")
        parser.add_argument("--json", action="store_true", help="print the batch resource as JSON")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        if settings.DATABASE_POOL_MODE == "transaction":
            # the batch runs here under a session advisory lock: behind a transaction pool it would be taken on
            # one server connection and never released from another (config/celery.py refuses a worker likewise)
            raise CommandError("manage.py ingest cannot run with DATABASE_POOL_MODE=transaction: run it with the "
                               "primary's own DATABASE_URL (deploy/README.md)")
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        department = Department.objects.filter(code=options["department"]).first()
        if department is None:
            raise CommandError(f"no department {options['department']!r}; register it first")
        content_type = options["content_type"] or CONTENT_TYPES.get(path.suffix.lower())
        if content_type is None:
            raise CommandError("cannot tell the content type from the extension; pass --content-type")
        if content_type.startswith("text/csv") and "charset" not in content_type:
            content_type = f"text/csv; charset={options['encoding']}"
        batch_id = options["batch_id"] or f"{path.stem}-{_file_sha256(path)[:16]}"
        try:
            with open(path, "rb") as body:
                batch, created = batch_receive(department=department, category=options["category"],
                                               batch_id=batch_id, content_type=content_type, body=body,
                                               source="ingest")
        except (BatchTooLarge, BatchIdConflict, CategoryNotWritable) as exc:
            raise CommandError(str(exc)) from exc
        if not created:
            self.stderr.write(f"batch {batch_id} was already received (batch {batch.pk}); waiting for it")
        batch = self._wait(batch, show=not options["no_progress"])
        if options["json"]:
            self.stdout.write(json.dumps(batch_resource(batch), ensure_ascii=False, indent=2))
        else:
            counts = " ".join(f"{k}={v}" for k, v in batch.counts.items())
            self.stdout.write(f"batch {batch.pk} ({batch.batch_id}) {batch.status}: {counts}")
            if batch.failure_reason:
                self.stdout.write(f"failed: {batch.failure_code}: {batch.failure_reason}")
            if batch.ignored_columns:
                self.stdout.write(f"columns not in the catalog, ignored: {'、'.join(batch.ignored_columns)}")

    def _wait(self, batch: Batch, *, show: bool) -> Batch:
        bar = tqdm(desc="validating", unit=" rows", file=sys.stderr, disable=not show)

        def progress(b: Batch) -> None:
            merging = b.status in ("merging", "completed") or b.merged_through_row
            bar.set_description("merging" if merging else "validating")
            if merging and bar.total != b.validated_through_row:
                bar.total = b.validated_through_row
            bar.n = b.merged_through_row if merging else b.validated_through_row
            bar.refresh()

        try:
            if not batch.is_finished and not worker_listening(_queue()):
                pipeline.batch_process(batch_id=batch.pk, progress=progress)  # the same service the task calls
            while True:
                batch.refresh_from_db()
                progress(batch)
                if batch.is_finished:
                    return batch
                time.sleep(0.5)
        finally:
            bar.close()


def _queue() -> str:
    from config.celery import app

    return app.conf.task_default_queue


def _file_sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()

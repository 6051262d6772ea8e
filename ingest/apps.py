from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "ingest"
    verbose_name = "Batch ingest"

    def ready(self) -> None:
        from django.conf import settings

        # the entry keeps its name from when the task lived in credit: a running beat's schedule names it
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "credit.batches_resume", {"task": "credit.batches_resume", "schedule": 15.0})

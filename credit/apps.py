from django.apps import AppConfig


class CreditConfig(AppConfig):
    name = "credit"
    verbose_name = "Unified credit record store"

    def ready(self) -> None:
        from celery.schedules import crontab
        from django.conf import settings

        # date-driven publicity changes: just after midnight, and hourly as a catch-up
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "credit.publicity_transitions", {"task": "credit.publicity_transitions", "schedule": crontab(minute=5)})
        # record versions' monthly partitions, three months ahead (credit/partitions.py): daily, a retry a day
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "credit.version_partitions_ensure",
            {"task": "credit.version_partitions_ensure", "schedule": crontab(minute=20, hour=3)})

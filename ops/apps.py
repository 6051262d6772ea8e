from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations across the whole platform (backups, department scorecards)"

    def ready(self) -> None:
        from celery.schedules import crontab
        from django.conf import settings

        # last month's scorecards, early on the 1st (the platform's clock, CELERY_TIMEZONE)
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "ops.scorecards_store_last_month",
            {"task": "ops.scorecards_store_last_month", "schedule": crontab(minute=30, hour=2, day_of_month=1)})

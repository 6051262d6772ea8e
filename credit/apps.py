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

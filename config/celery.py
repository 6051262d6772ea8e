import os

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("credit")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def refuse_a_transaction_pool(**_) -> None:
    """A worker runs a batch under a session advisory lock and merges through temporary tables: behind a pooler in
    transaction mode both would land on whichever server connection the next transaction gets."""
    from django.conf import settings

    if settings.DATABASE_POOL_MODE == "transaction":
        raise SystemExit("A worker cannot run with DATABASE_POOL_MODE=transaction: connect it to PostgreSQL directly "
                         "or through a session pool (deploy/README.md).")


@task_prerun.connect
@task_postrun.connect
def connections_checked_as_around_a_request(**_) -> None:
    """A connection past CONN_MAX_AGE, or left unusable by an error, is closed; a kept one is health-checked
    before its next use (CELERY_DB_REUSE_MAX keeps Celery from closing every connection around every task)."""
    from django.db import close_old_connections

    close_old_connections()

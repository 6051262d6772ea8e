from django.db import connection
from django.http import JsonResponse

from config.celery import app as celery_app


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False


def _broker_ok() -> bool:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:  # noqa: BLE001
        return False


def healthz(request):
    """200 once the database and the broker are reachable, 503 otherwise."""
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    status = 200 if all(checks.values()) else 503
    return JsonResponse({"status": "ok" if status == 200 else "unavailable", "checks": checks}, status=status)

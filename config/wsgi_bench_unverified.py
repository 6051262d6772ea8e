"""bench/exchange's second server only: the WSGI application with EXCHANGE_BENCH_SKIP_VERIFICATION allowed to
take effect (everywhere else the exchange app refuses to load with it on, see exchange/checks.py)."""

import os

from django.core.wsgi import get_wsgi_application

import exchange.checks

exchange.checks.BENCH_ENTRY_POINT = True
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

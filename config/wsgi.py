import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# What is loaded by now (Django, the apps, every view, the catalogs' code) lives as long as the process. Frozen,
# it is out of the garbage collector's sight: the full collections that answers building many objects (a
# subject's 1,000 records and their versions) set off then walk what requests made, not the whole platform.
get_resolver().url_patterns  # noqa: B018 import every view now rather than on the first request
gc.freeze()

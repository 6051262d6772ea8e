"""The URL surfaces that zones are assembled from."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from api.docs import RedocView
from api.health import healthz

common = [
    path("healthz", healthz, name="healthz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
]

extranet = [
    path("", include("api.exchange.urls")),
]

intranet = [
    path("admin/", admin.site.urls),
    path("api/docs/", RedocView.as_view(url_name="schema"), name="api-docs"),
    path("scorecards/", include("ops.scorecards.urls")),  # department performance evaluation (scorecards.md)
]

internet = [
    path("", include("api.public.urls")),
    path("api/v1/portal/", include("api.portal.urls")),
    path("portal/", include("portal.urls")),
]

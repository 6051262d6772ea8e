"""The public credit lookup (internet zone): pages and the public JSON API."""

from django.conf import settings
from django.urls import include, path

from api.public import reports as api_reports
from api.public import views as api_views
from public import views

api_patterns = [
    path("subjects", api_views.SubjectSearchView.as_view(), name="subjects"),
    path("subjects/<str:code>", api_views.SubjectDetailView.as_view(), name="subject"),
    path("subjects/<str:code>/records/<str:category>", api_views.SubjectRecordsView.as_view(),
         name="subject-records"),
    path("reports/<str:number>", api_reports.ReportVerifyView.as_view(), name="report"),
]
page_patterns = [
    path("", views.search_page, name="search"),
    path("subjects/<str:code>", views.subject_page, name="subject"),
    path("reports/<str:number>", views.report_page, name="report"),
]

urlpatterns: list = [
    path("api/v1/public/", include((api_patterns, "public-api"))),
    path("", include((page_patterns, "public"))),
]
if settings.PUBLIC_BENCH_VIEWS:
    urlpatterns.append(path("bench/trivial", views.bench_trivial, name="bench-trivial"))

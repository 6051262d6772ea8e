"""The enterprise portal's JSON API, mounted at /api/v1/portal/ in the internet zone (portal.md)."""

from django.urls import path

from api.portal import views

app_name = "portal-api"
urlpatterns = [
    path("accounts", views.AccountsView.as_view(), name="accounts"),
    path("session", views.SessionView.as_view(), name="session"),
    path("records", views.RecordsView.as_view(), name="records"),
]

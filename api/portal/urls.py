"""The enterprise portal's JSON API, mounted at /api/v1/portal/ in the internet zone (portal.md)."""

from django.urls import path

from api.portal import views, workflows

app_name = "portal-api"
urlpatterns = [
    path("accounts", views.AccountsView.as_view(), name="accounts"),
    path("session", views.SessionView.as_view(), name="session"),
    path("records", views.RecordsView.as_view(), name="records"),
    path("objections", workflows.ObjectionsView.as_view(), name="objections"),
    path("objections/<int:objection_pk>", workflows.ObjectionView.as_view(), name="objection"),
    path("repairs", workflows.RepairsView.as_view(), name="repairs"),
    path("repairs/<int:repair_pk>", workflows.RepairView.as_view(), name="repair"),
    path("authorizations", workflows.AuthorizationsView.as_view(), name="authorizations"),
    path("authorizations/<int:authorization_pk>", workflows.AuthorizationView.as_view(), name="authorization"),
    path("report", workflows.ReportView.as_view(), name="report"),
    path("reports", workflows.ReportsView.as_view(), name="reports"),
    path("reports/<str:number>", workflows.ReportDetailView.as_view(), name="report-detail"),
]

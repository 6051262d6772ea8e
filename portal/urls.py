"""The portal's web pages, mounted at /portal/ in the internet zone."""

from django.urls import path

from portal import views, workflow_pages

app_name = "portal"
urlpatterns = [
    path("", views.home_page, name="home"),
    path("signup", views.signup_page, name="signup"),
    path("login", views.login_page, name="login"),
    path("logout", views.logout_page, name="logout"),
    path("records", views.records_page, name="records"),
    path("objections", workflow_pages.objections_page, name="objections"),
    path("repairs", workflow_pages.repairs_page, name="repairs"),
    path("authorizations", workflow_pages.authorizations_page, name="authorizations"),
    path("authorizations/<int:authorization_pk>/revoke", workflow_pages.authorization_revoke_page,
         name="authorization-revoke"),
    path("report", workflow_pages.report_page, name="report"),
]

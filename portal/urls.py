"""The portal's web pages, mounted at /portal/ in the internet zone."""

from django.urls import path

from portal import views

app_name = "portal"
urlpatterns = [
    path("", views.home_page, name="home"),
    path("signup", views.signup_page, name="signup"),
    path("login", views.login_page, name="login"),
    path("logout", views.logout_page, name="logout"),
    path("records", views.records_page, name="records"),
]

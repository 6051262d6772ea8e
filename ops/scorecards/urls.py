from django.urls import path

from ops.scorecards import views

urlpatterns = [
    path("", views.scorecards_page, name="scorecards"),
    path("recompute", views.scorecards_recompute, name="scorecards_recompute"),
    path("scorecards.csv", views.scorecards_download, {"extension": "csv"}, name="scorecards_csv"),
    path("scorecards.xlsx", views.scorecards_download, {"extension": "xlsx"}, name="scorecards_xlsx"),
]

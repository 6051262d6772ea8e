"""The departments' exchange API (exchange-protocol.md §4) and the platform JWK Set."""

from django.urls import path, re_path

from api.exchange import views

P = "api/v1/exchange/"

urlpatterns: list = [
    path(".well-known/jwks.json", views.JWKSView.as_view(), name="jwks"),
    path(P + "catalog", views.CatalogView.as_view(), name="exchange-catalog"),
    re_path(r"^" + P + r"catalog/(?P<category>[a-z_]{1,32})(?P<suffix>\.xlsx)?$", views.CatalogTemplateView.as_view(),
            name="exchange-catalog-template"),
    path(P + "batches", views.BatchCreateView.as_view(), name="exchange-batches"),
    path(P + "batches/<int:batch_pk>", views.BatchDetailView.as_view(), name="exchange-batch"),
    path(P + "batches/<int:batch_pk>/rejections", views.BatchRejectionsView.as_view(), name="exchange-rejections"),
    path(P + "batches/<int:batch_pk>/receipt", views.BatchReceiptView.as_view(), name="exchange-receipt"),
    path(P + "subjects/lookup", views.SubjectLookupView.as_view(), name="exchange-subject-lookup"),
    path(P + "subjects/<str:code>", views.SubjectView.as_view(), name="exchange-subject"),
    path(P + "changes", views.ChangesView.as_view(), name="exchange-changes"),
    path(P + "objections", views.ObjectionsView.as_view(), name="exchange-objections"),
    path(P + "objections/<int:objection_pk>/decision", views.ObjectionDecisionView.as_view(),
         name="exchange-objection-decision"),
    path(P + "repairs", views.RepairsView.as_view(), name="exchange-repairs"),
    path(P + "repairs/<int:repair_pk>/decision", views.RepairDecisionView.as_view(), name="exchange-repair-decision"),
]

"""The public credit lookup: pages and the public JSON API (internet zone)."""

urlpatterns: list = []

"""The departments' exchange API (exchange-protocol.md §4) and the platform JWK Set."""

urlpatterns: list = []

"""One URLconf per network zone; settings.ROOT_URLCONF picks config.urls.<PLATFORM_ZONE>.

- extranet: the departments' signed exchange API and the platform's JWK Set
- intranet: the operators' console (Django admin) and the browsable API docs
- internet: the public credit lookup (pages and JSON) and the enterprise portal
"""

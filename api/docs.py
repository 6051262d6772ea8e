"""The API documentation page (intranet zone), with every asset served by the platform."""

from drf_spectacular.views import SpectacularRedocView


class RedocView(SpectacularRedocView):
    """Redoc from drf-spectacular-sidecar, on a page without drf-spectacular's Google Fonts
    (api/templates/api/redoc.html). Redoc's bundle still names one outside image (its "by Redocly" logo):
    the page's Content-Security-Policy keeps the browser from even asking for it, and for anything else."""

    template_name = "api/redoc.html"
    # Redoc starts from an inline script, styles itself inline and searches in a worker made from a blob
    CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
                               "style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:")

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = self.CONTENT_SECURITY_POLICY
        return response

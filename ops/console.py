"""The operators' console: Django's admin behind a second factor (django-otp, TOTP).

ops.console_app installs it in place of `django.contrib.admin`'s site, so that `admin.site` and every
`@admin.register` in the apps use it: a staff account whose password is right but who gives no valid
token from one of its TOTP devices is treated as if it were not staff.
"""

from django.template.response import TemplateResponse
from django.urls import path
from django_otp import devices_for_user
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from exchange.platform_keys import platform_keys, platform_keys_published


class ConsoleLoginForm(OTPAdminAuthenticationForm):
    """Username, password and token on one page: an account with one device (what createoperator makes)
    needs no choosing; one with several chooses, as django-otp asks (it tries no device unasked)."""

    def _chosen_device(self, user):
        chosen = super()._chosen_device(user)
        if chosen is None and not self.cleaned_data.get("otp_device"):
            devices = list(devices_for_user(user, for_verify=True))
            if len(devices) == 1:
                return devices[0]
        return chosen


class ConsoleSite(OTPAdminSite):
    site_header = "信用信息共享平台 · 运维控制台"
    site_title = "运维控制台"
    index_title = "平台运行管理"
    login_form = ConsoleLoginForm
    index_template = "ops/console_index.html"  # the admin's index, and a link to the platform keys

    def __init__(self, name: str = "admin"):  # the admin's usual URL namespace, for `admin:` reverses
        super().__init__(name)

    def get_urls(self):
        return [path("platform-keys/", self.admin_view(self.platform_keys_view), name="platform_keys"),
                *super().get_urls()]

    def platform_keys_view(self, request):
        """The platform's signing keys are files (PLATFORM_SIGNING_KEY_DIR), not rows: shown here, changed
        only by `manage.py platform_key rotate`. Only public parts are shown."""
        published = {key.kid for key in platform_keys_published()}
        keys = [{"kid": key.kid, "created_at": key.created_at, "retired_at": key.retired_at,
                 "published": key.kid in published, "x": key.jwk()["x"]} for key in platform_keys()]
        context = {**self.each_context(request), "title": "平台签名密钥", "keys": keys}
        return TemplateResponse(request, "ops/platform_keys.html", context)

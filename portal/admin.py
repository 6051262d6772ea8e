"""The portal in the operators' console: accounts and their audit trail, read-only (evidence, like the store)."""

from django.contrib import admin

from credit.admin import ReadOnlyAdmin
from portal.models import ActivationCode, PortalAccount, PortalAuditEvent
from portal.services import AuditAction


@admin.register(PortalAuditEvent)
class PortalAuditEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "action_label", "email", "subject", "uscc", "ip")
    list_filter = ("action", "at")
    search_fields = ("=email", "=uscc", "=ip")
    list_select_related = ("subject",)
    date_hierarchy = "at"
    show_full_result_count = False

    @admin.display(description="操作", ordering="action")
    def action_label(self, event):
        return AuditAction(event.action).label if event.action in AuditAction.values else event.action


@admin.register(PortalAccount)
class PortalAccountAdmin(ReadOnlyAdmin):
    list_display = ("email", "subject", "created_at")
    search_fields = ("=email", "=subject__uscc")
    list_select_related = ("subject",)
    exclude = ("user",)


@admin.register(ActivationCode)
class ActivationCodeAdmin(ReadOnlyAdmin):
    list_display = ("id", "uscc", "subject", "created_at", "expires_at", "used_at")
    search_fields = ("=uscc",)
    list_select_related = ("subject",)
    exclude = ("code_hash",)

"""The credit store in the operators' console: evidence, so read-only for everyone, superusers included."""

from django.contrib import admin
from django.db.models import Case, IntegerField, Value, When

from credit.models import (
    Authorization,
    CreditReport,
    Objection,
    ObjectionStatus,
    Record,
    RecordSender,
    RecordVersion,
    RepairRequest,
    Subject,
    SubjectAlias,
)


class NoChanges:
    """Seen, never added, changed or deleted in the console: the store changes only through its services."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(NoChanges, admin.ModelAdmin):
    pass


class ReadOnlyInline(NoChanges, admin.TabularInline):
    extra = 0
    can_delete = False


class SubjectAliasInline(ReadOnlyInline):
    model = SubjectAlias
    fields = ("kind", "value", "created_at")


@admin.register(Subject)
class SubjectAdmin(ReadOnlyAdmin):
    list_display = ("id", "code", "name", "kind", "registered", "status", "updated_at")
    list_filter = ("kind", "registered")
    search_fields = ("=uscc", "name")
    # the encrypted ID number and its blind index are never shown: the mask is
    exclude = ("id_number_encrypted", "id_number_index")
    inlines = [SubjectAliasInline]
    show_full_result_count = False


class RecordVersionInline(ReadOnlyInline):
    model = RecordVersion
    fields = ("version", "op", "batch", "row", "department", "valid_from", "valid_to", "payload")
    ordering = ("-version",)


class RecordSenderInline(ReadOnlyInline):
    model = RecordSender  # a view over versions and sources: whoever may view the record sees who sent it
    fields = ("department", "first_batch", "last_batch", "last_row", "first_seen_at", "last_seen_at")

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("credit.view_record")


@admin.register(Record)
class RecordAdmin(ReadOnlyAdmin):
    list_display = ("id", "category", "natural_key", "subject", "department", "state", "version", "is_public")
    list_filter = ("category", "state", "is_public")
    search_fields = ("=natural_key", "=subject__uscc")
    list_select_related = ("subject", "department")
    raw_id_fields = ("subject", "department")
    inlines = [RecordVersionInline, RecordSenderInline]
    show_full_result_count = False


@admin.register(Objection)
class ObjectionAdmin(ReadOnlyAdmin):
    """Decided by the record's department through the exchange API, never here: the console only shows."""

    list_display = ("id", "status", "record", "raised_by", "raised_at", "due_on", "decided_by", "decided_at")
    list_filter = ("status",)
    search_fields = ("=record__natural_key", "raised_by")
    list_select_related = ("record", "decided_by")
    raw_id_fields = ("record", "subject", "decided_by")

    def get_ordering(self, request):
        # open ones first, the longest waiting at the top
        open_first = Case(When(status=ObjectionStatus.OPEN, then=Value(0)), default=Value(1),
                          output_field=IntegerField())
        return [open_first.asc(), "raised_at"]


@admin.register(RepairRequest)
class RepairRequestAdmin(ReadOnlyAdmin):
    """Decided by the record's department through the exchange API (repairs/{id}/decision), never here."""

    list_display = ("id", "status", "record", "subject", "filed_at", "decided_by", "decided_at")
    list_filter = ("status",)
    search_fields = ("=record__natural_key", "=subject__uscc")
    list_select_related = ("record", "subject", "decided_by")
    raw_id_fields = ("record", "subject", "decided_by")


@admin.register(Authorization)
class AuthorizationAdmin(ReadOnlyAdmin):
    """Granted and revoked by the subject in the portal."""

    list_display = ("id", "subject", "department", "until", "granted_at", "revoked_at")
    search_fields = ("=subject__uscc", "=department__code")
    list_select_related = ("subject", "department")
    raw_id_fields = ("subject", "department")


@admin.register(CreditReport)
class CreditReportAdmin(ReadOnlyAdmin):
    """What was issued: number, digest and signature (the PDF itself is not kept)."""

    list_display = ("number", "subject", "scope", "issued_at", "sha256")
    list_filter = ("scope",)
    search_fields = ("=number", "=subject__uscc")
    list_select_related = ("subject",)
    raw_id_fields = ("subject",)

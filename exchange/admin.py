"""Departments, keys, batches and the exchange log in the operators' console.

What changes state goes through exchange.services (the same functions as the commands), so the console's
deactivations and revocations are entered in the exchange log, with the operator's account. Batches,
rejections and log entries are evidence: read-only."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from credit.admin import ReadOnlyAdmin
from exchange.exchange_log import log_verify
from exchange.models import Batch, BatchRejection, Department, DepartmentKey, ExchangeLogEntry
from exchange.services.batch_downloads import batch_file_download
from exchange.services.departments import (
    ProvisioningError,
    check_categories,
    department_deactivate,
    department_key_revoke,
    department_register,
)
from filestore.encryption import BatchFileCorrupt


class ReasonForm(forms.Form):
    reason = forms.CharField(label="原因", widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=1000,
                             help_text="记入交换日志")

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("请写明原因。")
        return reason


def _reasoned_action(model_admin, request, obj, *, title: str, explanation: str, perform):
    """A page asking for the reason, then `perform(reason)`: the deactivate and revoke buttons."""
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            outcome = perform(form.cleaned_data["reason"])
        except ProvisioningError as exc:
            model_admin.message_user(request, str(exc), messages.ERROR)
        else:
            model_admin.message_user(request, f"{obj}：{'已完成，已记入交换日志' if outcome.changed else '此前已完成，未作改动'}",
                                     messages.SUCCESS if outcome.changed else messages.WARNING)
        opts = model_admin.model._meta
        return redirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
    context = {**model_admin.admin_site.each_context(request), "title": title, "object": obj, "form": form,
               "explanation": explanation, "opts": model_admin.model._meta}
    return TemplateResponse(request, "exchange/admin/reasoned_action.html", context)


def _object_page(model_admin, action: str, view, *, permission: str):
    """admin/<app>/<model>/<id>/<action>/, for the accounts with `permission` only (others get 403)."""

    def guarded(request, object_id):
        if not request.user.has_perm(permission):
            raise PermissionDenied
        return view(request, unquote(object_id))

    opts = model_admin.model._meta
    return path(f"<path:object_id>/{action}/", model_admin.admin_site.admin_view(guarded),
                name=f"{opts.app_label}_{opts.model_name}_{action}")


class DepartmentForm(forms.ModelForm):
    class Meta:
        model = Department
        fields = ("name", "write_categories", "read_categories")

    def clean(self):
        data = super().clean()
        try:
            for name in ("write_categories", "read_categories"):
                if name in data:
                    data[name] = check_categories(data[name])
        except ProvisioningError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return data


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    """Grants are edited here (department_register, as the command does); a department is registered by
    `manage.py register_department` and deactivated with a reason, never deleted."""

    form = DepartmentForm
    list_display = ("code", "name", "active", "write_categories", "read_categories", "updated_at")
    list_filter = ("active",)
    search_fields = ("code", "name")
    readonly_fields = ("code", "active_state", "active_state_deactivatable", "created_at", "updated_at")

    def get_fields(self, request, obj=None):
        # the button only for those who may press it (a field per case: the admin is shared by threads)
        state = "active_state_deactivatable" if request.user.has_perm("exchange.deactivate_department") else "active_state"
        return ("code", "name", "write_categories", "read_categories", state, "created_at", "updated_at")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="状态")
    def active_state(self, obj):
        return "启用中" if obj.active else "已停用"

    @admin.display(description="状态")
    def active_state_deactivatable(self, obj):
        if not obj.active:
            return "已停用"
        url = reverse("admin:exchange_department_deactivate", args=[obj.pk])
        return format_html('启用中 <a class="button" href="{}">停用该部门…</a>', url)

    def save_model(self, request, obj, form, change):
        department_register(code=obj.code, name=obj.name, write=obj.write_categories, read=obj.read_categories)

    def get_urls(self):
        return [_object_page(self, "deactivate", self.deactivate_view, permission="exchange.deactivate_department"),
                *super().get_urls()]

    def deactivate_view(self, request, object_id):
        department = get_object_or_404(Department, pk=object_id)
        return _reasoned_action(
            self, request, department, title=f"停用部门 {department}",
            explanation="停用后，该部门的所有密钥立即被拒绝（401 department_inactive）；其记录保持不变，直至移交。",
            perform=lambda reason: department_deactivate(code=department.code, reason=reason,
                                                         by=request.user.get_username()))


class KeyStateFilter(admin.SimpleListFilter):
    title = "状态"
    parameter_name = "revoked"

    def lookups(self, request, model_admin):
        return [("no", "有效"), ("yes", "已吊销")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(revoked_at__isnull=self.value() == "no")
        return queryset


@admin.register(DepartmentKey)
class DepartmentKeyAdmin(ReadOnlyAdmin):
    """Keys are added by `manage.py add_department_key` (a PEM file) and revoked here, with a reason."""

    list_display = ("keyid", "department", "not_before", "revoked_at")
    list_filter = (KeyStateFilter, "department")
    search_fields = ("keyid", "department__code")
    list_select_related = ("department",)
    readonly_fields = ("keyid", "department", "not_before", "created_at", "revocation", "revocation_revocable")

    def get_fields(self, request, obj=None):
        state = "revocation_revocable" if request.user.has_perm("exchange.revoke_departmentkey") else "revocation"
        return ("keyid", "department", "not_before", "created_at", state)

    @admin.display(description="吊销")
    def revocation_revocable(self, obj):
        if obj.revoked_at is None:
            url = reverse("admin:exchange_departmentkey_revoke", args=[obj.pk])
            return format_html('有效 <a class="button" href="{}">吊销该密钥…</a>', url)
        return self.revocation(obj)

    @admin.display(description="吊销")
    def revocation(self, obj):
        if obj.revoked_at is None:
            return "有效"
        entry = (ExchangeLogEntry.objects.filter(kind="department_key_revoked", payload__keyid=obj.keyid)
                 .order_by("index").first())
        payload = entry.payload if entry else {}
        return format_html("{} 吊销；操作人：{}；原因：{}", obj.revoked_at, payload.get("by") or "（命令行）",
                           payload.get("reason") or "（未说明）")

    def get_urls(self):
        return [_object_page(self, "revoke", self.revoke_view, permission="exchange.revoke_departmentkey"),
                *super().get_urls()]

    def revoke_view(self, request, object_id):
        key = get_object_or_404(DepartmentKey.objects.select_related("department"), pk=object_id)
        return _reasoned_action(
            self, request, key, title=f"吊销密钥 {key.keyid}（{key.department}）",
            explanation="吊销立即生效：用该密钥签名的下一个请求即被拒绝（401 key_revoked）。",
            perform=lambda reason: department_key_revoke(keyid=key.keyid, reason=reason,
                                                         by=request.user.get_username()))


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdmin):
    list_display = ("id", "batch_id", "department", "category", "status", "rows", "accepted", "rejected",
                    "received_at", "completed_at")
    list_filter = ("status", "category", "department")
    search_fields = ("=batch_id",)
    list_select_related = ("department",)
    show_full_result_count = False
    _fields = ("batch_id", "department", "category", "source", "status", "failure_code", "failure_reason",
               "ignored_columns", "rows", "accepted", "rejected", "created", "updated", "unchanged", "withdrawn",
               "pending_subject", "rejections_link", "content_type", "size_bytes", "content_digest", "download",
               "received_at", "started_at", "completed_at", "log_index", "log_head", "receipt")
    readonly_fields = (*_fields, "download_link")

    def get_fields(self, request, obj=None):
        if request.user.has_perm("exchange.download_batch_file"):
            return tuple("download_link" if f == "download" else f for f in self._fields)
        return self._fields

    @admin.display(description="拒收原因")
    def rejections_link(self, obj):
        url = reverse("admin:exchange_batchrejection_changelist") + f"?batch={obj.pk}"
        return format_html('<a href="{}">查看本批次的拒收原因</a>', url)

    @admin.display(description="原始文件")
    def download(self, obj):
        return "（需“可下载批次原始文件”权限）"

    @admin.display(description="原始文件")
    def download_link(self, obj):
        url = reverse("admin:exchange_batch_download", args=[obj.pk])
        return format_html('<a class="button" href="{}">下载（记入交换日志）</a>', url)

    def get_urls(self):
        return [_object_page(self, "download", self.download_view, permission="exchange.download_batch_file"),
                *super().get_urls()]

    def download_view(self, request, object_id):
        try:
            batch, stream = batch_file_download(batch_pk=int(object_id), by=request.user.get_username())
        except (ValueError, Batch.DoesNotExist, FileNotFoundError) as exc:
            raise Http404("没有这个批次的文件") from exc
        except BatchFileCorrupt as exc:
            self.message_user(request, f"批次文件无法解密：{exc}", messages.ERROR)
            return redirect(reverse("admin:exchange_batch_change", args=[object_id]))
        extension = {"text/csv": "csv", "application/x-ndjson": "ndjson"}.get(
            batch.content_type.split(";")[0].strip(), "xlsx" if "spreadsheet" in batch.content_type else "bin")
        return FileResponse(stream, as_attachment=True, content_type=batch.content_type,
                            filename=f"{batch.department.code}-{batch.batch_id}.{extension}")


class BatchFilter(admin.SimpleListFilter):
    """By batch: the latest twenty offered, any other by ?batch=<id> (the batch page links here)."""

    title = "批次"
    parameter_name = "batch"

    def lookups(self, request, model_admin):
        return [(str(b.pk), str(b)) for b in Batch.objects.order_by("-id")[:20]]

    def queryset(self, request, queryset):
        if self.value():
            if not self.value().isdigit():
                return queryset.none()
            return queryset.filter(batch_id=int(self.value()))
        return queryset


@admin.register(BatchRejection)
class BatchRejectionAdmin(ReadOnlyAdmin):
    list_display = ("batch", "row", "field", "code", "message")
    list_filter = (BatchFilter, "code", "field")
    search_fields = ("=batch__batch_id",)
    list_select_related = ("batch",)
    show_full_result_count = False


@admin.register(ExchangeLogEntry)
class ExchangeLogEntryAdmin(ReadOnlyAdmin):
    list_display = ("index", "kind", "department_code", "recorded_at", "entry_hash")
    list_filter = ("kind",)
    search_fields = ("=department_code", "=entry_hash")
    ordering = ("-index",)
    show_full_result_count = False
    actions = ["verify_chain"]

    def has_verify_permission(self, request):
        return request.user.has_perm("exchange.verify_exchange_log")

    @admin.action(description="校验整条日志链（与所选条目无关）", permissions=["verify"])
    def verify_chain(self, request, queryset):
        check = log_verify()
        if check.ok:
            self.message_user(request, f"日志链完整：{check.entries} 条，哈希与链接均正确。", messages.SUCCESS)
        else:
            self.message_user(request, f"日志链在第 {check.first_broken_index} 条处断开：{check.reason}",
                              messages.ERROR)

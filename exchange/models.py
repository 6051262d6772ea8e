"""Departments, their keys, and the batches they send."""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q


class Department(models.Model):
    code = models.CharField(max_length=32, unique=True)  # [A-Z0-9-]{2,32}, e.g. HN-SCJG
    name = models.CharField(max_length=200)
    write_categories = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    read_categories = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    # false once an operator deactivated it (manage.py deactivate_department): its keys are refused, and
    # its records stay as they are until transferred to another department (manage.py transfer_records)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "部门"
        ordering = ["code"]
        permissions = [("deactivate_department", "可停用部门")]
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=r"^[A-Z0-9-]{2,32}$"), name="department_code_format"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def may_write(self, category: str) -> bool:
        return category in self.write_categories

    def may_read(self, category: str) -> bool:
        return category in self.read_categories


class DepartmentKey(models.Model):
    """An Ed25519 public key a department signs requests with."""

    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="keys")
    keyid = models.CharField(max_length=64, unique=True)  # [A-Za-z0-9._:-]{1,64}, unique platform-wide
    public_key = models.BinaryField()  # raw 32-byte Ed25519 public key
    not_before = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "部门签名密钥"
        ordering = ["keyid"]
        permissions = [("revoke_departmentkey", "可吊销部门签名密钥")]
        constraints = [
            models.CheckConstraint(condition=Q(keyid__regex=r"^[A-Za-z0-9._:-]{1,64}$"), name="department_key_keyid_format"),
        ]

    def __str__(self) -> str:
        return self.keyid


class BatchStatus(models.TextChoices):
    RECEIVED = "received"
    VALIDATING = "validating"
    MERGING = "merging"
    COMPLETED = "completed"
    FAILED = "failed"


# Why a batch failed on the platform's side, not for what the department sent: such a batch may be
# pushed again under its batch_id, which starts it again (exchange.services.batches.batch_restart)
PLATFORM_FAILURE_CODES = ("internal_error", "storage_error", "merge_timeout")


class Batch(models.Model):
    """A department's batch file: kept as received (bytes and digest), then validated and merged."""

    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="batches")
    batch_id = models.CharField(max_length=128)  # the department's own identifier
    category = models.CharField(max_length=32)
    content_type = models.CharField(max_length=100)
    content_digest = models.CharField(max_length=120)  # "sha-256=:…:" of the body as received
    size_bytes = models.BigIntegerField(default=0)
    storage_path = models.CharField(max_length=500)  # relative to settings.BATCH_STORAGE_DIR
    source = models.CharField(max_length=16, default="api")  # api | ingest

    status = models.CharField(max_length=16, choices=BatchStatus.choices, default=BatchStatus.RECEIVED)
    failure_code = models.CharField(max_length=64, blank=True, default="")
    failure_reason = models.TextField(blank=True, default="")
    # headings of the file's columns no catalog field claims: not read, named back to the department
    ignored_columns = models.JSONField(default=list, blank=True)

    rows = models.BigIntegerField(default=0)
    accepted = models.BigIntegerField(default=0)
    rejected = models.BigIntegerField(default=0)
    created = models.BigIntegerField(default=0)
    updated = models.BigIntegerField(default=0)
    unchanged = models.BigIntegerField(default=0)
    withdrawn = models.BigIntegerField(default=0)
    pending_subject = models.BigIntegerField(default=0)

    # Progress markers, written in the same transaction as the chunk they finish, so a restart resumes.
    validated_through_row = models.BigIntegerField(default=0)
    merged_through_row = models.BigIntegerField(default=0)

    # The receipt (a JWS) and where it sits in the exchange log, once the batch is finished.
    receipt = models.TextField(blank=True, default="")
    log_index = models.BigIntegerField(null=True, blank=True)
    log_head = models.CharField(max_length=64, blank=True, default="")

    received_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "批次"
        ordering = ["-id"]
        # the stored file holds what the department sent, ID numbers included: a permission of its own
        permissions = [("download_batch_file", "可下载批次原始文件")]
        constraints = [
            models.UniqueConstraint(fields=["department", "batch_id"], name="batch_unique_client_id"),
            models.CheckConstraint(condition=Q(rows=F("accepted") + F("rejected")) | ~Q(status="completed"),
                                   name="batch_counts_add_up"),
        ]

    def __str__(self) -> str:
        return f"batch {self.pk} ({self.batch_id})"

    COUNT_FIELDS = ("rows", "accepted", "rejected", "created", "updated", "unchanged", "withdrawn", "pending_subject")

    @property
    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.COUNT_FIELDS}

    @property
    def is_finished(self) -> bool:
        return self.status in {BatchStatus.COMPLETED, BatchStatus.FAILED}


class BatchRejection(models.Model):
    """One reason a row was rejected. A row may have several; it counts once."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="rejections")
    row = models.BigIntegerField()  # 1-based over data rows
    field = models.CharField(max_length=64, blank=True, default="")
    code = models.CharField(max_length=64)
    message = models.TextField()

    class Meta:
        verbose_name = verbose_name_plural = "行级拒收原因"
        ordering = ["batch", "row", "id"]
        constraints = [
            # a re-run chunk inserts with ON CONFLICT DO NOTHING: never twice
            models.UniqueConstraint(fields=["batch", "row", "field", "code"], name="rejection_unique"),
        ]

    def __str__(self) -> str:
        return f"row {self.row}: {self.code}"


class ExchangeLogEntry(models.Model):
    """Tamper-evident, append-only log (exchange-protocol §7).

    entry_hash = sha256(previous entry_hash ‖ canonical JSON of this entry), so
    changing or removing any entry breaks every hash after it.
    """

    index = models.BigIntegerField(unique=True)  # 0, 1, 2, … with no gaps
    kind = models.CharField(max_length=32)  # batch_submitted | receipt_issued | objection_decided | …
    department_code = models.CharField(max_length=32, blank=True, default="")
    payload = models.JSONField()
    recorded_at = models.DateTimeField()
    previous_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name = verbose_name_plural = "交换日志条目"
        ordering = ["index"]
        permissions = [("verify_exchange_log", "可校验交换日志链")]

    def __str__(self) -> str:
        return f"log #{self.index} {self.kind}"


class SignatureNonce(models.Model):
    """A (keyid, nonce) pair seen on a signed request: a second one within the window is a replay.

    In PostgreSQL rather than in memory so that it holds across restarts and web processes.
    """

    keyid = models.CharField(max_length=64)
    nonce = models.CharField(max_length=128)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["keyid", "nonce"], name="signature_nonce_unique")]
        indexes = [models.Index(fields=["seen_at"], name="signature_nonce_seen_at")]

    def __str__(self) -> str:
        return f"{self.keyid} {self.nonce}"

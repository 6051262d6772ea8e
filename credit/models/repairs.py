"""Credit repair requests (信用修复申请, portal.md §4): an enterprise asks for a penalty's publicity to end
early, with a credit commitment; the department that supplied the record decides (credit/repairs.py files,
exchange/services/repairs.py decides)."""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class RepairStatus(models.TextChoices):
    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"


class RepairRequest(models.Model):
    record = models.ForeignKey("credit.Record", on_delete=models.PROTECT, related_name="repair_requests")
    subject = models.ForeignKey("credit.Subject", on_delete=models.PROTECT, related_name="repair_requests")
    filed_by = models.CharField(max_length=200)  # who asked, as the portal knows them
    reason = models.TextField()
    commitment = models.BooleanField()  # 信用承诺书: the request is refused without it
    status = models.CharField(max_length=16, choices=RepairStatus.choices, default=RepairStatus.OPEN)
    decision_reason = models.TextField(blank=True, default="")
    decided_by = models.ForeignKey("exchange.Department", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    filed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = verbose_name_plural = "信用修复申请"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(commitment=True), name="repair_with_commitment"),
            models.CheckConstraint(condition=Q(status="open", decided_at__isnull=True)
                                   | (~Q(status="open") & Q(decided_at__isnull=False)),
                                   name="repair_decided_iff_closed"),
            models.UniqueConstraint(fields=["record"], condition=Q(status="open"), name="repair_one_open"),
        ]
        indexes = [models.Index(fields=["status", "record"], name="repair_status_record")]

    def __str__(self) -> str:
        return f"repair {self.pk} of {self.record_id} ({self.status})"

"""Objections (异议) raised against a record; the supplying department decides them
(exchange-protocol §4). Enterprises file them for their own records (portal.md §3, credit/objections.py)."""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class ObjectionStatus(models.TextChoices):
    OPEN = "open"
    CORRECTED = "corrected"
    UPHELD = "upheld"


class Objection(models.Model):
    record = models.ForeignKey("credit.Record", on_delete=models.PROTECT, related_name="objections")
    subject = models.ForeignKey("credit.Subject", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="objections")
    raised_by = models.CharField(max_length=200)  # who objected, as they named themselves
    reason = models.TextField()
    status = models.CharField(max_length=16, choices=ObjectionStatus.choices, default=ObjectionStatus.OPEN)
    decision_reason = models.TextField(blank=True, default="")
    decided_by = models.ForeignKey("exchange.Department", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    raised_at = models.DateTimeField(default=timezone.now)
    due_on = models.DateField(null=True, blank=True)  # 7 working days after filing (portal.md §3)
    # evidence the enterprise attached: a file under BATCH_STORAGE_DIR, encrypted like batch files
    evidence_path = models.CharField(max_length=300, blank=True, default="")
    evidence_type = models.CharField(max_length=40, blank=True, default="")  # as its content showed it

    class Meta:
        verbose_name = verbose_name_plural = "异议"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(status="open", decided_at__isnull=True)
                                   | (~Q(status="open") & Q(decided_at__isnull=False)),
                                   name="objection_decided_iff_closed"),
            # a second open objection on one record is refused by the database, not by a check-then-act
            models.UniqueConstraint(fields=["record"], condition=Q(status="open"), name="objection_one_open"),
        ]
        indexes = [models.Index(fields=["status", "record"], name="objection_status_record")]

    def __str__(self) -> str:
        return f"objection {self.pk} on {self.record_id} ({self.status})"

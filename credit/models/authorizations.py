"""A subject's authorisation of a department to read its `usage_scope = authorized` records (授权查询,
portal.md §5). Current while not revoked and `until` (the last day it holds) is not past."""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class Authorization(models.Model):
    subject = models.ForeignKey("credit.Subject", on_delete=models.PROTECT, related_name="authorizations")
    department = models.ForeignKey("exchange.Department", on_delete=models.PROTECT, related_name="+")
    until = models.DateField()  # last day it holds
    granted_by = models.CharField(max_length=200)
    granted_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "查询授权"
        ordering = ["id"]
        indexes = [models.Index(fields=["subject", "department"], condition=Q(revoked_at__isnull=True),
                                name="authorization_unrevoked")]

    def __str__(self) -> str:
        return f"authorization {self.pk}: {self.subject_id} → {self.department_id} until {self.until}"

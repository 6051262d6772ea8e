"""Validated rows of a batch waiting to be merged (pipeline working table)."""

from django.db import models


class StagedStatus(models.TextChoices):
    VALID = "valid"
    DUPLICATE = "duplicate"  # same natural key and content as an earlier row of the batch: counts as unchanged
    CONFLICT = "conflict"  # same natural key, other content: rejected conflicting_duplicate
    OWNED_ELSEWHERE = "owned_elsewhere"  # another department's record: rejected record_owned_by_other_department


class StagedRow(models.Model):
    pk = models.CompositePrimaryKey("batch_id", "row")
    batch = models.ForeignKey("exchange.Batch", on_delete=models.CASCADE, related_name="+", db_constraint=False,
                              db_index=False)  # the primary key leads with batch
    row = models.BigIntegerField()
    op = models.CharField(max_length=16)
    status = models.CharField(max_length=16, choices=StagedStatus.choices, default=StagedStatus.VALID)
    natural_key = models.CharField(max_length=400)
    content_hash = models.CharField(max_length=64)
    payload = models.JSONField()  # normalised values; a natural person's ID number is removed
    subject_kind = models.CharField(max_length=24, blank=True, default="")
    uscc = models.CharField(max_length=18, blank=True, default="")
    org_code = models.CharField(max_length=9, blank=True, default="")
    registration_no = models.CharField(max_length=15, blank=True, default="")
    id_type = models.CharField(max_length=16, blank=True, default="")
    id_number_index = models.CharField(max_length=64, blank=True, default="")
    id_number_encrypted = models.BinaryField(null=True, blank=True)
    id_number_masked = models.CharField(max_length=64, blank=True, default="")
    subject_name = models.CharField(max_length=200, blank=True, default="")
    subject_name_key = models.CharField(max_length=200, blank=True, default="")
    publicity_from = models.DateField(null=True, blank=True)
    publicity_until = models.DateField(null=True, blank=True)
    publicity_ends_on = models.DateField(null=True, blank=True)
    publicity_never = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        ordering = ["batch", "row"]
        indexes = [models.Index(fields=["batch", "natural_key"], name="staged_batch_natural_key")]

    def __str__(self) -> str:
        return f"batch {self.batch_id} row {self.row}"

"""The change feed: one row per record change, readable in commit order.

Writers take the merge advisory lock (credit.locks.MERGE_LOCK, transaction
level) before inserting feed rows and hold it until commit, so feed ids are
allocated and committed in the same order: a reader paging by `id > cursor`
never skips a row that commits later with a lower id.
"""

from django.db import models


class ChangeKind(models.TextChoices):
    CREATED = "created"
    UPDATED = "updated"
    WITHDRAWN = "withdrawn"
    PUBLICITY_ENDED = "publicity_ended"
    PUBLICITY_STARTED = "publicity_started"
    MERGED = "merged"  # `merged_from` (a record id that no longer exists) became part of `record`


class ChangeFeedEntry(models.Model):
    kind = models.CharField(max_length=24, choices=ChangeKind.choices)
    category = models.CharField(max_length=32)
    record = models.ForeignKey("credit.Record", on_delete=models.CASCADE, related_name="+",
                               db_constraint=False, db_index=False)  # no FK trigger, no index: see records.py
    subject = models.ForeignKey("credit.Subject", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                db_constraint=False, db_index=False)
    department = models.ForeignKey("exchange.Department", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", db_constraint=False, db_index=False)
    batch = models.ForeignKey("exchange.Batch", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                              db_constraint=False, db_index=False)
    version = models.IntegerField(null=True, blank=True)
    merged_from = models.BigIntegerField(null=True, blank=True)  # kind merged: the record id merged into record
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["category", "id"], name="feed_category_id")]

    def __str__(self) -> str:
        return f"{self.kind} {self.record_id}"

"""The change feed: one entry per record change, readable in commit order.

A change that makes a version is that version (credit.models.RecordVersion: feed_id, category, subject);
every other change (a publicity window ending or starting, a credit repair, pending rows attached to their
registration, records merged) is a ChangeFeedEntry. Both draw their ids from one sequence, that of
ChangeFeedEntry.id, and readers page both as one order (credit.selectors.change_feed_page; the view
ChangeFeedItem shows them as one table).

Feed ids are allocated and committed in the same order, so a reader paging by
`id > cursor` never skips a row that commits later with a lower id. Every
writer draws its feed ids while holding a lock that excludes every other
feed writer until it commits (credit/locks.py):
- a merge chunk (any category) takes the feed append lock just before it inserts its versions, as its last
  statements before COMMIT (credit.merge.merge_chunk_feed_append); a chunk of an ordinary category holds
  the merge lock shared meanwhile (other categories' chunks merge at the same time, up to that lock);
- everything else that writes the feed (a registration chunk's pending rows attached, publicity
  transitions, credit repair) holds the merge lock exclusive, which no chunk
  holds meanwhile, shared or not.
Either way the rows of the writer that drew ids first are visible before the
next writer draws any; a rolled-back writer leaves a gap that nothing fills.
(The id sequence caches no ids (CACHE 1): each is drawn at the INSERT, under
the lock, not ahead of it.)
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


class ChangeFeedItem(models.Model):
    """The change feed as one table (a database view, credit 0013): every version with a feed id, and every
    ChangeFeedEntry (changes that make no version), for reading it by hand and in tests. change_feed_page reads
    the two tables itself, each in its own index order (PostgreSQL sorts this view's versions whole)."""

    id = models.BigIntegerField(primary_key=True)
    kind = models.CharField(max_length=24, choices=ChangeKind.choices)
    category = models.CharField(max_length=32)
    record = models.ForeignKey("credit.Record", on_delete=models.DO_NOTHING, related_name="+", db_constraint=False)
    subject = models.ForeignKey("credit.Subject", on_delete=models.DO_NOTHING, null=True, related_name="+",
                                db_constraint=False)
    department = models.ForeignKey("exchange.Department", on_delete=models.DO_NOTHING, null=True, related_name="+",
                                   db_constraint=False)
    batch = models.ForeignKey("exchange.Batch", on_delete=models.DO_NOTHING, null=True, related_name="+",
                              db_constraint=False)
    version = models.IntegerField(null=True)
    merged_from = models.BigIntegerField(null=True)
    changed_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "credit_changefeeditem"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.record_id}"

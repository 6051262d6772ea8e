"""Credit records (one per category + natural key), their append-only version
history and their sources (every department that sent the record)."""

from django.db import models
from django.db.models import Q

from credit.models.subjects import Subject

# _NO_FK: references to batches and departments (rows that are never deleted) carry no database
# foreign-key constraint: Django's deferred FK triggers cost one lookup per row per key at COMMIT,
# the largest single cost of a million-row merge. Records and subjects keep theirs; versions, whose checks ran
# under the feed append lock, keep none (RecordVersion.record).
# _NO_INDEX: nor do they get the single-column index Django adds to every foreign key: nothing looks
# records, versions or sources up by batch or department, and record/subject lookups are served by the
# composite unique constraints and indexes (a leading column). Every index is one more insertion per row.


class RecordState(models.TextChoices):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"


class Record(models.Model):
    category = models.CharField(max_length=32)
    natural_key = models.CharField(max_length=400)  # catalog natural-key values joined by '|'; never a plain ID number
    # Null while the row named its subject only by a legacy code no registration has supplied yet.
    # no single-column index: record_subject_category_id (subject, category, id) serves subject lookups
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, null=True, blank=True, related_name="records",
                                db_index=False)
    pending_key = models.CharField(max_length=40, blank=True, default="")  # "org_code:…" / "registration_no:…"
    state = models.CharField(max_length=16, choices=RecordState.choices, default=RecordState.ACTIVE)
    payload = models.JSONField()  # the current version's payload
    content_hash = models.CharField(max_length=64)
    version = models.IntegerField(default=1)  # number of the current version
    department = models.ForeignKey("exchange.Department", on_delete=models.PROTECT, related_name="+",
                                   db_constraint=False, db_index=False)  # see _NO_FK and _NO_INDEX above
    subject_name_key = models.CharField(max_length=200, blank=True, default="")
    name_mismatch = models.BooleanField(default=False)  # row's subject name ≠ registered or former names

    # Publicity, from the catalog rule: window [publicity_from, publicity_ends_on) unless never.
    publicity_from = models.DateField(null=True, blank=True)
    publicity_until = models.DateField(null=True, blank=True)  # last public day as shown
    publicity_ends_on = models.DateField(null=True, blank=True)  # first day not public (null = no end)
    publicity_never = models.CharField(max_length=32, blank=True, default="")  # e.g. procedure_simple, usage_scope
    repaired_at = models.DateField(null=True, blank=True)  # credit repair (信用修复) ends penalty publicity
    is_public = models.BooleanField(default=False)
    publicity_reason = models.CharField(max_length=32, blank=True, default="")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "记录"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["category", "natural_key"], name="record_unique_natural_key"),
            models.CheckConstraint(condition=Q(subject__isnull=False) | ~Q(pending_key=""),
                                   name="record_subject_or_pending"),
        ]
        indexes = [
            # id last: a page of a subject's records in one category is read in id order, never sorted
            models.Index(fields=["subject", "category", "id"], name="record_subject_category_id"),
            models.Index(fields=["pending_key"], condition=Q(subject__isnull=True), name="record_pending"),
            models.Index(fields=["publicity_ends_on"], condition=Q(is_public=True), name="record_publicity_ends"),
        ]

    def __str__(self) -> str:
        return f"{self.category} {self.natural_key}"


class RecordVersion(models.Model):
    """Append-only: a version is never changed except to close it (valid_to).

    A version is its record's entry in the change feed (credit/models/feed.py): `feed_id` comes from the feed's
    id sequence, under its lock, and `category` and `subject` are the record's after this change. Its kind is
    read off it: version 1 created the record, a withdraw withdrew it, any other updated it (ChangeFeedItem).
    """

    # no FK trigger (credit 0014): its check ran per version at COMMIT, under the feed append lock; the merge
    # checks per chunk that each version's record is one the chunk itself wrote (credit.merge), verify_store all
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="versions", db_constraint=False,
                               db_index=False)  # version_record_version leads with record
    version = models.IntegerField()
    op = models.CharField(max_length=16)  # upsert | withdraw
    payload = models.JSONField()
    content_hash = models.CharField(max_length=64)
    batch = models.ForeignKey("exchange.Batch", on_delete=models.PROTECT, related_name="+", db_constraint=False,
                              db_index=False)  # version_batch_row leads with batch
    row = models.BigIntegerField()
    department = models.ForeignKey("exchange.Department", on_delete=models.PROTECT, related_name="+",
                                   db_constraint=False, db_index=False)
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField(null=True, blank=True)
    # Null only for a version that no feed entry announced before credit 0013 (it stays out of the feed, as then).
    feed_id = models.BigIntegerField(null=True, blank=True)
    category = models.CharField(max_length=32)  # the record's: the feed is read by category
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                db_constraint=False, db_index=False)  # the record's after this change

    class Meta:
        verbose_name = verbose_name_plural = "记录版本"
        ordering = ["record", "version"]
        # Partitioned by RANGE (valid_from), a partition a month (credit 0015, credit.partitions). A unique index
        # of a partitioned table must hold the partition key: the database's primary key is (id, valid_from)
        # while Django's stays id (ids come from one sequence), and (record, version) and (batch, row), unique
        # by how the merge writes versions (credit.merge, _VERSIONS_SQL), are plain indexes, checked across
        # partitions by verify_store.
        indexes = [
            models.Index(fields=["record", "version"], name="version_record_version"),
            models.Index(fields=["batch", "row"], name="version_batch_row"),
            # a changes page of one category, in feed order (the feed's own rows: feed_category_id)
            models.Index(fields=["category", "feed_id"], condition=Q(feed_id__isnull=False),
                         name="version_feed_category_id"),
        ]

    def __str__(self) -> str:
        return f"{self.record_id} v{self.version}"


class RecordSource(models.Model):
    """Provenance that no version gives: a department that sent the record before any row of its made a
    version (a department that became the owner by a transfer, sending the owner's identical row). Every
    department that sent the record, with when: RecordSender."""

    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="sources",
                               db_index=False)  # record_source_unique leads with record
    department = models.ForeignKey("exchange.Department", on_delete=models.PROTECT, related_name="+",
                                   db_constraint=False, db_index=False)
    first_batch = models.ForeignKey("exchange.Batch", on_delete=models.PROTECT, related_name="+", db_constraint=False,
                                    db_index=False)
    last_batch = models.ForeignKey("exchange.Batch", on_delete=models.PROTECT, related_name="+", db_constraint=False,
                                   db_index=False)
    last_row = models.BigIntegerField()
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    class Meta:
        verbose_name = verbose_name_plural = "记录来源"
        ordering = ["record", "department"]
        constraints = [
            models.UniqueConstraint(fields=["record", "department"], name="record_source_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.record_id} from {self.department_id}"



class RecordSender(models.Model):
    """Each department that sent the record, first and last (a database view, credit 0013): its versions and its
    RecordSource row, if it has one. What RecordSource held for every department before versions gave it."""

    id = models.CharField(max_length=40, primary_key=True)  # "record:department"
    record = models.ForeignKey(Record, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False)
    department = models.ForeignKey("exchange.Department", on_delete=models.DO_NOTHING, related_name="+",
                                   db_constraint=False)
    first_batch = models.ForeignKey("exchange.Batch", on_delete=models.DO_NOTHING, related_name="+",
                                    db_constraint=False)
    last_batch = models.ForeignKey("exchange.Batch", on_delete=models.DO_NOTHING, related_name="+",
                                   db_constraint=False)
    last_row = models.BigIntegerField()
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "credit_recordsender"
        verbose_name = verbose_name_plural = "报送部门"
        ordering = ["record", "first_seen_at", "department"]

    def __str__(self) -> str:
        return f"{self.record_id} from {self.department_id}"

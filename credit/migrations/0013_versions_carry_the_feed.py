"""Fewer rows per change (issue 15): a version is its own change-feed entry, and a record's sources are the
departments of its versions plus the few RecordSource rows no version gives.

Each version takes the id, category and subject of the feed entry that announced it: the entry of the same
record, version, batch, department and time whose kind the version's is (version 1 created, a withdraw
withdrawn, any other updated). Those entries go. The rest stay entries: publicity, merged, and the 'updated'
of pending rows attached by a registration (same record and version as a version, but the registration's batch
and another time). A version no entry announced (credit 0009 renumbered merged records' versions, whose entries
kept their kind) keeps feed_id NULL and stays out of the feed, as it was.

A RecordSource row goes when the department's versions give every field of it again (first batch and time,
last batch, row and time); what stays is a department's row that predates its versions. Both views read the
store as the tables did (credit.models ChangeFeedItem, RecordSender). Set-based SQL; the reverse writes the
entries and the sources back.
"""

from django.db import migrations, models

# version 1 created the record, a withdraw withdrew it, any other version updated it (credit.models.records)
_KIND = "CASE WHEN {v}.version = 1 THEN 'created' WHEN {v}.op = 'withdraw' THEN 'withdrawn' ELSE 'updated' END"

_FEED_VIEW = f"""
CREATE VIEW credit_changefeeditem AS
SELECT f.id, f.kind::text AS kind, f.category::text AS category, f.record_id, f.subject_id, f.department_id,
       f.batch_id, f.version, f.merged_from, f.changed_at
  FROM credit_changefeedentry f
 UNION ALL
SELECT v.feed_id, {_KIND.format(v="v")}, v.category::text, v.record_id, v.subject_id, v.department_id, v.batch_id,
       v.version, NULL::bigint, v.valid_from
  FROM credit_recordversion v
 WHERE v.feed_id IS NOT NULL
"""

# first: the earliest sending (a RecordSource row before a version of the same time), last: the latest
_SENDER_VIEW = """
CREATE VIEW credit_recordsender AS
SELECT s.record_id || ':' || s.department_id AS id, s.record_id, s.department_id,
       (array_agg(s.first_batch_id ORDER BY s.first_seen_at, s.from_version, s.version))[1] AS first_batch_id,
       (array_agg(s.last_batch_id ORDER BY s.last_seen_at DESC, s.from_version, s.version DESC))[1] AS last_batch_id,
       (array_agg(s.last_row ORDER BY s.last_seen_at DESC, s.from_version, s.version DESC))[1] AS last_row,
       min(s.first_seen_at) AS first_seen_at, max(s.last_seen_at) AS last_seen_at
  FROM (SELECT v.record_id, v.department_id, v.batch_id AS first_batch_id, v.batch_id AS last_batch_id,
               v.row AS last_row, v.valid_from AS first_seen_at, v.valid_from AS last_seen_at,
               true AS from_version, v.version
          FROM credit_recordversion v
         UNION ALL
        SELECT r.record_id, r.department_id, r.first_batch_id, r.last_batch_id, r.last_row, r.first_seen_at,
               r.last_seen_at, false, 0
          FROM credit_recordsource r) s
 GROUP BY s.record_id, s.department_id
"""

_FORWARD = [
    f"""
    WITH announced AS (
        SELECT DISTINCT ON (v.id) v.id AS version_id, f.id AS feed_id, f.subject_id
          FROM credit_recordversion v
          JOIN credit_record r ON r.id = v.record_id
          JOIN credit_changefeedentry f ON f.record_id = v.record_id AND f.version = v.version
         WHERE f.batch_id = v.batch_id AND f.department_id = v.department_id AND f.changed_at = v.valid_from
           AND f.category = r.category AND f.merged_from IS NULL AND f.kind = {_KIND.format(v="v")}
         ORDER BY v.id, f.id
    )
    UPDATE credit_recordversion v SET category = x.category, feed_id = x.feed_id, subject_id = x.subject_id
      FROM (SELECT v.id, r.category, a.feed_id, a.subject_id
              FROM credit_recordversion v JOIN credit_record r ON r.id = v.record_id
              LEFT JOIN announced a ON a.version_id = v.id) x
     WHERE v.id = x.id
    """,
    "DELETE FROM credit_changefeedentry f USING credit_recordversion v WHERE v.feed_id = f.id",
    # the same first and last as the view computes from the versions alone
    """
    DELETE FROM credit_recordsource s
     USING (SELECT record_id, department_id,
                   (array_agg(batch_id ORDER BY valid_from, version))[1] AS first_batch_id,
                   (array_agg(batch_id ORDER BY valid_from DESC, version DESC))[1] AS last_batch_id,
                   (array_agg(row ORDER BY valid_from DESC, version DESC))[1] AS last_row,
                   min(valid_from) AS first_seen_at, max(valid_from) AS last_seen_at
              FROM credit_recordversion GROUP BY record_id, department_id) sent
     WHERE sent.record_id = s.record_id AND sent.department_id = s.department_id
       AND sent.first_batch_id = s.first_batch_id AND sent.first_seen_at = s.first_seen_at
       AND sent.last_batch_id = s.last_batch_id AND sent.last_row = s.last_row AND sent.last_seen_at = s.last_seen_at
    """,
]

_REVERSE = [
    f"""
    INSERT INTO credit_changefeedentry (id, kind, category, record_id, subject_id, department_id, batch_id, version,
                                        merged_from, changed_at)
    SELECT v.feed_id, {_KIND.format(v="v")}, v.category, v.record_id, v.subject_id, v.department_id, v.batch_id,
           v.version, NULL, v.valid_from
      FROM credit_recordversion v WHERE v.feed_id IS NOT NULL
    """,
    # one row per department again, in the order each first sent the record (a record's sources are read by id)
    "CREATE TEMP TABLE credit_0013_senders ON COMMIT DROP AS SELECT * FROM credit_recordsender",
    "DELETE FROM credit_recordsource",
    """
    INSERT INTO credit_recordsource (record_id, department_id, first_batch_id, last_batch_id, last_row,
                                     first_seen_at, last_seen_at)
    SELECT record_id, department_id, first_batch_id, last_batch_id, last_row, first_seen_at, last_seen_at
      FROM credit_0013_senders ORDER BY record_id, first_seen_at, department_id
    """,
]


class Migration(migrations.Migration):

    dependencies = [
        ("credit", "0012_console_groups_view_workflows"),
        ("exchange", "0007_console_groups"),
    ]

    operations = [
        migrations.AddField(
            model_name="recordversion",
            name="feed_id",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="recordversion",
            name="category",
            field=models.CharField(default="", max_length=32),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="recordversion",
            name="subject",
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True,
                                    on_delete=models.deletion.PROTECT, related_name="+", to="credit.subject"),
        ),
        migrations.CreateModel(
            name="ChangeFeedItem",
            fields=[
                ("id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("kind", models.CharField(choices=[("created", "Created"), ("updated", "Updated"),
                                                   ("withdrawn", "Withdrawn"), ("publicity_ended", "Publicity Ended"),
                                                   ("publicity_started", "Publicity Started"), ("merged", "Merged")],
                                          max_length=24)),
                ("category", models.CharField(max_length=32)),
                ("version", models.IntegerField(null=True)),
                ("merged_from", models.BigIntegerField(null=True)),
                ("changed_at", models.DateTimeField()),
                ("batch", models.ForeignKey(db_constraint=False, null=True, on_delete=models.deletion.DO_NOTHING,
                                            related_name="+", to="exchange.batch")),
                ("department", models.ForeignKey(db_constraint=False, null=True,
                                                 on_delete=models.deletion.DO_NOTHING, related_name="+",
                                                 to="exchange.department")),
                ("record", models.ForeignKey(db_constraint=False, on_delete=models.deletion.DO_NOTHING,
                                             related_name="+", to="credit.record")),
                ("subject", models.ForeignKey(db_constraint=False, null=True, on_delete=models.deletion.DO_NOTHING,
                                              related_name="+", to="credit.subject")),
            ],
            options={"db_table": "credit_changefeeditem", "ordering": ["id"], "managed": False},
        ),
        migrations.CreateModel(
            name="RecordSender",
            fields=[
                ("id", models.CharField(max_length=40, primary_key=True, serialize=False)),
                ("last_row", models.BigIntegerField()),
                ("first_seen_at", models.DateTimeField()),
                ("last_seen_at", models.DateTimeField()),
                ("department", models.ForeignKey(db_constraint=False, on_delete=models.deletion.DO_NOTHING,
                                                 related_name="+", to="exchange.department")),
                ("first_batch", models.ForeignKey(db_constraint=False, on_delete=models.deletion.DO_NOTHING,
                                                  related_name="+", to="exchange.batch")),
                ("last_batch", models.ForeignKey(db_constraint=False, on_delete=models.deletion.DO_NOTHING,
                                                 related_name="+", to="exchange.batch")),
                ("record", models.ForeignKey(db_constraint=False, on_delete=models.deletion.DO_NOTHING,
                                             related_name="+", to="credit.record")),
            ],
            options={"verbose_name": "报送部门", "verbose_name_plural": "报送部门", "db_table": "credit_recordsender",
                     "ordering": ["record", "first_seen_at", "department"], "managed": False},
        ),
        migrations.RunSQL(_FEED_VIEW, "DROP VIEW credit_changefeeditem"),
        migrations.RunSQL(_SENDER_VIEW, "DROP VIEW credit_recordsender"),
        migrations.RunSQL(_FORWARD, _REVERSE),
        migrations.AddIndex(
            model_name="recordversion",
            index=models.Index(condition=models.Q(("feed_id__isnull", False)), fields=["category", "feed_id"],
                               name="version_feed_category_id"),
        ),
    ]

"""Record versions partitioned by time (issue 16, growth of the store): credit_recordversion becomes a table
partitioned by RANGE (valid_from), one partition a calendar month on the platform's clock (settings.TIME_ZONE),
named credit_recordversion_yYYYYmMM, and a DEFAULT partition, credit_recordversion_default, that takes a version
of a month no partition was made for yet (credit.partitions moves such rows out when it makes the month's).

The populated table is converted set-based: a new partitioned table of the same columns, a partition for every
month its rows span and for the current month and the next three, the rows copied, the old table dropped, the
identity sequence's next value carried over (and its name), and the indexes made once on the parent, which
PostgreSQL makes on every partition (and on every partition attached later). The views of credit 0013 read the
table and are made again over the new one.

A unique index of a partitioned table must hold the partition key, so the primary key is (id, valid_from) and
the unique constraints (record, version) and (batch, row) become plain indexes: the merge keeps both true (see
credit.merge, _VERSIONS_SQL) and verify_store checks them across partitions.
"""

import re

from django.conf import settings
from django.db import migrations, models

TABLE = "credit_recordversion"

# the platform's clock: months begin at its midnight (a month's scorecard reads one partition, not two)
ZONE = settings.TIME_ZONE
assert re.fullmatch(r"[A-Za-z0-9_+\-/]+", ZONE), ZONE  # written into the SQL below

# the views of credit 0013, over whichever table is credit_recordversion now
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

_VIEWS_DROP = "DROP VIEW credit_changefeeditem; DROP VIEW credit_recordsender"

# The table `source` is replaced by `target` (already made, rows copied): the old one dropped, the new one
# renamed, its identity sequence renamed to the old one's name and continued from the old one's next value.
_TABLE_SWAP = """
DO $$
DECLARE
    next_id bigint;
BEGIN
    EXECUTE format('SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM %s',
                   pg_get_serial_sequence('credit_recordversion', 'id')) INTO next_id;
    DROP TABLE credit_recordversion;
    ALTER TABLE credit_recordversion_new RENAME TO credit_recordversion;
    EXECUTE format('ALTER SEQUENCE %s RENAME TO credit_recordversion_id_seq',
                   pg_get_serial_sequence('credit_recordversion', 'id'));
    EXECUTE format('ALTER TABLE credit_recordversion ALTER COLUMN id RESTART WITH %s', next_id);
END $$
"""

_FORWARD = [
    _VIEWS_DROP,
    """CREATE TABLE credit_recordversion_new (LIKE credit_recordversion INCLUDING DEFAULTS INCLUDING IDENTITY
                                                INCLUDING STORAGE) PARTITION BY RANGE (valid_from)""",
    # a month each, from the oldest version's to three months ahead of today, on the platform's clock
    f"""
    DO $$
    DECLARE
        month timestamp;
    BEGIN
        FOR month IN
            SELECT generate_series(
                       least(coalesce((SELECT date_trunc('month', min(valid_from) AT TIME ZONE '{ZONE}')
                                         FROM credit_recordversion), 'infinity'),
                             date_trunc('month', now() AT TIME ZONE '{ZONE}')),
                       greatest(coalesce((SELECT date_trunc('month', max(valid_from) AT TIME ZONE '{ZONE}')
                                            FROM credit_recordversion), '-infinity'),
                                date_trunc('month', now() AT TIME ZONE '{ZONE}') + interval '3 months'),
                       interval '1 month')
        LOOP
            EXECUTE format('CREATE TABLE %I PARTITION OF credit_recordversion_new FOR VALUES FROM (%L) TO (%L)',
                           'credit_recordversion_' || to_char(month, '"y"YYYY"m"MM'),
                           month AT TIME ZONE '{ZONE}', (month + interval '1 month') AT TIME ZONE '{ZONE}');
        END LOOP;
    END $$
    """,
    "CREATE TABLE credit_recordversion_default PARTITION OF credit_recordversion_new DEFAULT",
    "INSERT INTO credit_recordversion_new SELECT * FROM credit_recordversion",
    _TABLE_SWAP,
    # made once on the parent, made by PostgreSQL on each partition (and on each one attached later)
    "ALTER TABLE credit_recordversion ADD CONSTRAINT credit_recordversion_pkey PRIMARY KEY (id, valid_from)",
    "CREATE INDEX version_record_version ON credit_recordversion (record_id, version)",
    "CREATE INDEX version_batch_row ON credit_recordversion (batch_id, row)",
    "CREATE INDEX version_feed_category_id ON credit_recordversion (category, feed_id) WHERE feed_id IS NOT NULL",
    _FEED_VIEW,
    _SENDER_VIEW,
    "ANALYZE credit_recordversion",
]

# one plain table again, with the constraints and index it had after credit 0014
_REVERSE = [
    _VIEWS_DROP,
    """CREATE TABLE credit_recordversion_new (LIKE credit_recordversion INCLUDING DEFAULTS INCLUDING IDENTITY
                                                INCLUDING STORAGE)""",
    "INSERT INTO credit_recordversion_new SELECT * FROM credit_recordversion",
    _TABLE_SWAP,
    "ALTER TABLE credit_recordversion ADD CONSTRAINT credit_recordversion_pkey PRIMARY KEY (id)",
    "ALTER TABLE credit_recordversion ADD CONSTRAINT record_version_unique UNIQUE (record_id, version)",
    "ALTER TABLE credit_recordversion ADD CONSTRAINT record_version_unique_source_row UNIQUE (batch_id, row)",
    "CREATE INDEX version_feed_category_id ON credit_recordversion (category, feed_id) WHERE feed_id IS NOT NULL",
    _FEED_VIEW,
    _SENDER_VIEW,
]


class Migration(migrations.Migration):

    dependencies = [
        ("credit", "0014_versions_without_record_fk_trigger"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(_FORWARD, _REVERSE)],
            state_operations=[
                migrations.RemoveConstraint(model_name="recordversion", name="record_version_unique"),
                migrations.RemoveConstraint(model_name="recordversion", name="record_version_unique_source_row"),
                migrations.AddIndex(model_name="recordversion",
                                    index=models.Index(fields=["record", "version"], name="version_record_version")),
                migrations.AddIndex(model_name="recordversion",
                                    index=models.Index(fields=["batch", "row"], name="version_batch_row")),
            ],
        ),
    ]

"""Existing stores brought to the natural-key rule (catalog.md, "Field rules common to all"): every record's
key normalised as staging now builds it (validation.natural_keys, written again here in SQL: a migration
imports no application code; tests/validation/test_natural_keys.py holds the two to the same answers).

Records whose keys collide once normalised:
- one department's: merged into the earliest (lowest id). All their versions become its history in arrival
  order (renumbered, each closed when the next arrived, batch and row kept); sources, feed entries and
  objections follow it; a `merged` feed entry names the record id merged into it; the others are deleted.
  Its current state is that of the record whose version arrived last.
- different departments': not merged. Each department's record stays; all but the earliest are keyed apart
  (key + " #" + own id) and flagged in credit_conflictingduplicate for operators.
Content hashes are taken with the key normalised (credit.staging), so a stored hash taken of a payload whose
key was spelt otherwise is taken again, where the stored hash shows how it was taken.
Running it again changes nothing.
"""

import hashlib
import json

import django.db.models.deletion
from django.db import migrations, models

MERGE_LOCK = 0x43524544_4D52  # credit.locks.MERGE_LOCK: feed rows are written under it (commit order)

# validation.natural_keys.natural_key_normalise: NFKC, brackets folded to ( ), whitespace (Python's \s)
# removed, a-z upper-cased, NFKC again
FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION pg_temp.natural_key_normalise(v text) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$
SELECT normalize(regexp_replace(
           translate(normalize(v, NFKC), '[]〔〕【】［］（）abcdefghijklmnopqrstuvwxyz',
                                         '()()()()()ABCDEFGHIJKLMNOPQRSTUVWXYZ'),
           '[\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]', '', 'g'),
       NFKC)
$$;
-- a stored key: red_list's ends in its subject key and listed_on (never normalised: an ID number's blind index
-- is lower-case hex); a registration's is a USCC, normalised as a code already
CREATE OR REPLACE FUNCTION pg_temp.record_key_normalise(category text, k text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
SELECT CASE WHEN category = 'registration' THEN k
            WHEN category = 'red_list' AND k ~ '\|[^|]*\|[^|]*$'
            THEN pg_temp.natural_key_normalise(substring(k FROM '^(.*)\|[^|]*\|[^|]*$'))
                 || substring(k FROM '(\|[^|]*\|[^|]*)$')
            ELSE pg_temp.natural_key_normalise(k) END
$$;
"""

STEPS = [
    f"SELECT pg_advisory_xact_lock({MERGE_LOCK})",
    # every record's normalised key; keyed-apart records (flagged by an earlier run) keep theirs
    """
    CREATE TEMP TABLE nk_group ON COMMIT DROP AS
    SELECT id, category, department_id, new_key,
           min(id) OVER (PARTITION BY category, new_key, department_id) AS survivor,
           min(id) OVER (PARTITION BY category, new_key) AS head
      FROM (SELECT r.id, r.category, r.department_id, pg_temp.record_key_normalise(r.category, r.natural_key) AS new_key
              FROM credit_record r
             WHERE NOT EXISTS (SELECT 1 FROM credit_conflictingduplicate d WHERE d.record_id = r.id)) k
    """,
    "CREATE INDEX ON nk_group (id)",
    # the versions of every record that absorbs another, renumbered in arrival order
    """
    CREATE TEMP TABLE nk_version ON COMMIT DROP AS
    SELECT v.id, v.record_id AS old_record, v.version AS old_version, g.survivor,
           row_number() OVER w AS new_version, lead(v.valid_from) OVER w AS next_from
      FROM credit_recordversion v JOIN nk_group g ON g.id = v.record_id
     WHERE g.survivor IN (SELECT survivor FROM nk_group WHERE id <> survivor)
    WINDOW w AS (PARTITION BY g.survivor ORDER BY v.valid_from, v.batch_id, v.row, v.id)
    """,
    # through negative numbers: (record, version) is unique at every row
    """
    UPDATE credit_recordversion v SET record_id = m.survivor, version = -m.new_version, valid_to = m.next_from
      FROM nk_version m WHERE v.id = m.id
    """,
    "UPDATE credit_recordversion v SET version = -v.version FROM nk_version m WHERE v.id = m.id",
    """
    UPDATE credit_changefeedentry f SET record_id = m.survivor, version = m.new_version
      FROM nk_version m WHERE f.record_id = m.old_record AND f.version = m.old_version
    """,
    """
    UPDATE credit_changefeedentry f SET record_id = g.survivor
      FROM nk_group g WHERE f.record_id = g.id AND g.id <> g.survivor
    """,
    "UPDATE credit_objection o SET record_id = g.survivor FROM nk_group g WHERE o.record_id = g.id AND g.id <> g.survivor",
    # one source per department: first seen as the earliest saw it, last seen as the latest
    """
    CREATE TEMP TABLE nk_source ON COMMIT DROP AS
    SELECT g.survivor, s.department_id,
           (array_agg(s.first_batch_id ORDER BY s.first_seen_at, s.id))[1] AS first_batch_id,
           (array_agg(s.last_batch_id ORDER BY s.last_seen_at DESC, s.id DESC))[1] AS last_batch_id,
           (array_agg(s.last_row ORDER BY s.last_seen_at DESC, s.id DESC))[1] AS last_row,
           min(s.first_seen_at) AS first_seen_at, max(s.last_seen_at) AS last_seen_at
      FROM credit_recordsource s JOIN nk_group g ON g.id = s.record_id
     WHERE g.survivor IN (SELECT survivor FROM nk_group WHERE id <> survivor)
     GROUP BY g.survivor, s.department_id
    """,
    """
    DELETE FROM credit_recordsource s USING nk_group g
     WHERE s.record_id = g.id AND g.survivor IN (SELECT survivor FROM nk_group WHERE id <> survivor)
    """,
    """
    INSERT INTO credit_recordsource (record_id, department_id, first_batch_id, last_batch_id, last_row,
                                     first_seen_at, last_seen_at)
    SELECT survivor, department_id, first_batch_id, last_batch_id, last_row, first_seen_at, last_seen_at
      FROM nk_source ORDER BY survivor, department_id
    """,
    # the survivor's current state: that of the record whose version arrived last
    """
    UPDATE credit_record r
       SET state = l.state, payload = l.payload, content_hash = l.content_hash, version = t.versions,
           subject_id = l.subject_id, pending_key = l.pending_key, subject_name_key = l.subject_name_key,
           name_mismatch = l.name_mismatch, publicity_from = l.publicity_from, publicity_until = l.publicity_until,
           publicity_ends_on = l.publicity_ends_on, publicity_never = l.publicity_never,
           repaired_at = l.repaired_at, is_public = l.is_public, publicity_reason = l.publicity_reason,
           updated_at = now()
      FROM (SELECT DISTINCT ON (survivor) survivor, old_record, count(*) OVER (PARTITION BY survivor) AS versions
              FROM nk_version ORDER BY survivor, new_version DESC) t
      JOIN credit_record l ON l.id = t.old_record
     WHERE r.id = t.survivor
    """,
    """
    INSERT INTO credit_changefeedentry (kind, category, record_id, subject_id, department_id, batch_id, version,
                                        merged_from, changed_at)
    SELECT 'merged', g.category, g.survivor, r.subject_id, r.department_id, NULL, r.version, g.id, now()
      FROM nk_group g JOIN credit_record r ON r.id = g.survivor
     WHERE g.id <> g.survivor ORDER BY g.survivor, g.id
    """,
    "DELETE FROM credit_record r USING nk_group g WHERE r.id = g.id AND g.id <> g.survivor",
    # keys: first a transient one no stored key can hold (control characters are refused in every row),
    # so that no record takes a key another still holds
    r"""
    UPDATE credit_record r SET natural_key = E'\x1f' || r.id
      FROM nk_group g WHERE r.id = g.id AND g.id = g.survivor AND (r.natural_key <> g.new_key OR g.id <> g.head)
    """,
    r"""
    UPDATE credit_record r
       SET natural_key = CASE WHEN g.id = g.head THEN g.new_key ELSE g.new_key || ' #' || r.id END
      FROM nk_group g WHERE r.id = g.id AND r.natural_key = E'\x1f' || r.id
    """,
    """
    INSERT INTO credit_conflictingduplicate (category, natural_key, record_id, kept_id, flagged_at)
    SELECT category, new_key, id, head, now() FROM nk_group WHERE id = survivor AND id <> head ORDER BY id
    """,
    # rows of batches still on their way to the store meet the records by the same key
    """
    UPDATE credit_stagedrow st SET natural_key = pg_temp.record_key_normalise(b.category, st.natural_key)
      FROM exchange_batch b
     WHERE b.id = st.batch_id AND b.status NOT IN ('completed', 'failed')
       AND st.natural_key <> pg_temp.record_key_normalise(b.category, st.natural_key)
    """,
]

# the catalog's natural-key fields whose spelling a content hash no longer depends on (credit.staging)
KEY_FIELDS = {"admin_license": ["decision_no"], "admin_penalty": ["decision_no"], "black_list": ["list_code", "case_no"],
              "red_list": ["list_code"]}
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))  # credit.staging._dumps
REHASH_CHUNK = 5000

REHASH_SELECT = """
SELECT r.id, r.payload, r.content_hash, s.id_number_index, k.normalised
  FROM credit_record r
  LEFT JOIN credit_subject s ON s.id = r.subject_id
 CROSS JOIN LATERAL (SELECT jsonb_object_agg(f, pg_temp.natural_key_normalise(r.payload ->> f)) AS normalised
                       FROM unnest(%(fields)s::text[]) f WHERE r.payload ->> f IS NOT NULL) k
 WHERE r.category = %(category)s AND r.id > %(after)s
   AND EXISTS (SELECT 1 FROM unnest(%(fields)s::text[]) f
                WHERE r.payload ->> f <> pg_temp.natural_key_normalise(r.payload ->> f))
 ORDER BY r.id LIMIT %(limit)s
"""


def _hash(payload: dict, index: str | None) -> str:
    return hashlib.sha256((_ENCODER.encode(payload) + (f"\x1f{index}" if index else "")).encode()).hexdigest()


def rehash(cursor) -> None:
    """Hashes taken of the key as spelt, taken again of the normalised key; only a hash that this payload
    reproduces (a row's ID number shows in it through the subject's index, or not at all) is replaced."""
    for category, fields in KEY_FIELDS.items():
        after = 0
        while True:
            cursor.execute(REHASH_SELECT, {"fields": fields, "category": category, "after": after,
                                           "limit": REHASH_CHUNK})
            rows = cursor.fetchall()
            if not rows:
                break
            after = rows[-1][0]
            ids, hashes = [], []
            for record_id, payload, content_hash, index, normalised in rows:
                if isinstance(payload, str):
                    payload, normalised = json.loads(payload), json.loads(normalised)
                index = index if "id_number" in payload else None
                if _hash(payload, index) == content_hash:
                    ids.append(record_id)
                    hashes.append(_hash(payload | normalised, index))
            if ids:
                cursor.execute("""UPDATE credit_record r SET content_hash = t.h
                                    FROM unnest(%s::bigint[], %s::text[]) t(id, h) WHERE r.id = t.id""",
                               [ids, hashes])


def normalise_keys(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(FUNCTIONS)
        for sql in STEPS:
            cursor.execute(sql)
        rehash(cursor)


class Migration(migrations.Migration):

    dependencies = [
        ('credit', '0008_subject_records_paged_by_id'),
    ]

    operations = [
        migrations.AddField(
            model_name='changefeedentry',
            name='merged_from',
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='changefeedentry',
            name='kind',
            field=models.CharField(choices=[('created', 'Created'), ('updated', 'Updated'), ('withdrawn', 'Withdrawn'), ('publicity_ended', 'Publicity Ended'), ('publicity_started', 'Publicity Started'), ('merged', 'Merged')], max_length=24),
        ),
        migrations.CreateModel(
            name='ConflictingDuplicate',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('category', models.CharField(max_length=32)),
                ('natural_key', models.CharField(max_length=400)),
                ('flagged_at', models.DateTimeField()),
                ('kept', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='credit.record')),
                ('record', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='credit.record')),
            ],
            options={
                'ordering': ['id'],
                'indexes': [models.Index(fields=['category', 'natural_key'], name='conflicting_duplicate_key')],
            },
        ),
        migrations.RunPython(normalise_keys, migrations.RunPython.noop),
    ]

"""Masks of ID numbers shorter than 18 characters show at most a third of them (credit.identity.id_number_mask):
masks stored before showed the first 4 and last 4 characters. The new mask keeps a subset of what the old one
showed, so it is computed from the old mask itself (no ID number needs decrypting)."""

from django.db import migrations

SHORTER_MASK = """
CREATE FUNCTION pg_temp.shorter_mask(m text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN length(m) BETWEEN 9 AND 17
                THEN left(m, length(m) / 3 - length(m) / 3 / 2) || repeat('*', length(m) - length(m) / 3)
                     || right(m, length(m) / 3 / 2)
                ELSE m END
$$;
"""


def _payload(table: str, column: str) -> str:
    return f"""
UPDATE {table} SET {column} = jsonb_set({column}, '{{id_number}}', to_jsonb(pg_temp.shorter_mask({column} ->> 'id_number')))
 WHERE jsonb_typeof({column} -> 'id_number') = 'string' AND length({column} ->> 'id_number') BETWEEN 9 AND 17;
"""


REMASK = SHORTER_MASK + """
UPDATE credit_subject SET id_number_masked = pg_temp.shorter_mask(id_number_masked)
 WHERE length(id_number_masked) BETWEEN 9 AND 17;
UPDATE credit_stagedrow SET id_number_masked = pg_temp.shorter_mask(id_number_masked)
 WHERE length(id_number_masked) BETWEEN 9 AND 17;
""" + "".join(_payload(table, column) for table, column in [
    ("credit_record", "payload"), ("credit_recordversion", "payload"), ("credit_stagedrow", "payload"),
    ("credit_subject", "registration")]) + "DROP FUNCTION pg_temp.shorter_mask(text);"


class Migration(migrations.Migration):

    dependencies = [
        ("credit", "0005_staged_row_owned_elsewhere"),
    ]

    operations = [migrations.RunSQL(REMASK, migrations.RunSQL.noop)]

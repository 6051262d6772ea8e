"""Subjects whose registration was withdrawn before the merge cleared its details (credit.merge): their
registration details leave public view now too."""

from django.db import migrations

CLEAR = """
UPDATE credit_subject s
   SET registered = false, legal_representative = '', status = '', address = '', registration_authority = '',
       registration = '{}'::jsonb, updated_at = now()
 WHERE s.registered
   AND EXISTS (SELECT 1 FROM credit_record r
                WHERE r.subject_id = s.id AND r.category = 'registration' AND r.state = 'withdrawn')
   AND NOT EXISTS (SELECT 1 FROM credit_record r
                    WHERE r.subject_id = s.id AND r.category = 'registration' AND r.state <> 'withdrawn');
"""


class Migration(migrations.Migration):

    dependencies = [
        ("credit", "0006_shorter_id_number_masks"),
    ]

    operations = [migrations.RunSQL(CLEAR, migrations.RunSQL.noop)]

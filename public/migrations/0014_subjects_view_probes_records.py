"""Public subjects: a subject without a registration is public while one of its records is — asked per subject.

Written as EXISTS, the condition let the planner hash every public record's subject id once per statement (a
"hashed SubPlan") as soon as a statement met one unregistered subject: a search's walk over common words read
all 510,000 public records of a loaded store (~0.5 s, more under load, past the public role's 5 s timeout at the
load benchmark's worst). As a scalar subquery with LIMIT 1 it is one probe of the public_record_page index per
unregistered subject the statement actually reads, whatever the size of the store.

Fixed SQL with its reverse: the view as migration 0007 made it.
"""

from django.db import migrations

VIEW = r"""
CREATE OR REPLACE VIEW public_projection.subjects AS
SELECT s.id, coalesce(s.uscc, 'N-' || s.id) AS code, s.kind, s.uscc,
       nullif(s.id_number_masked, '') AS id_number_masked,
       s.name, s.registered, s.legal_representative, s.status, s.address, s.registration_authority,
       s.updated_at,
       public_view.search_name(s.name_key) AS search_name,
       public_view.bigrams(public_view.search_name(s.name_key)) AS name_bigrams
FROM credit_subject s
WHERE s.registered OR %s;
"""

FORWARD = VIEW % "coalesce((SELECT true FROM public_projection.records pr WHERE pr.subject_id = s.id LIMIT 1), false)"
REVERSE = VIEW % "EXISTS (SELECT 1 FROM public_projection.records pr WHERE pr.subject_id = s.id)"


class Migration(migrations.Migration):
    dependencies = [("public", "0013_search_walk_bounded")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]

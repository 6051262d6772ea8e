"""A subject's page reads only the subject columns it shows.

`SELECT * INTO s` from public_projection.subjects also computed the view's search columns (the folded name and
its bigram array, a sort per call) for a page that never shows them: ~130 µs of the backend's ~340 µs CPU per
page on the 1M-subject bench database (one call per statement, generic plans, as the public connection runs it).

Fixed SQL with its reverse: the function as migration 0009 made it.
"""

from django.db import migrations

REVERSE = r"""
CREATE OR REPLACE FUNCTION public_view.subject_page(q_uscc text, q_id bigint, q_categories text[], q_limit integer,
                                         q_after_from date, q_after_id bigint)
RETURNS TABLE (id bigint, code text, kind text, uscc text, id_number_masked text, name text, registered boolean,
               legal_representative text, status text, address text, registration_authority text,
               updated_at timestamptz, catalog text, records json, counts json, under_objection boolean,
               aliases json)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off AS $$
#variable_conflict use_column
DECLARE
    s record;
    fetched integer := least(greatest(q_limit, 1), 100) + 1;
BEGIN
    IF array_ndims(q_categories) IS DISTINCT FROM 1 OR cardinality(q_categories) > 50 THEN
        RETURN;
    END IF;
    IF q_uscc IS NOT NULL THEN
        SELECT * INTO s FROM public_projection.subjects p WHERE p.uscc = q_uscc;
    ELSE
        SELECT * INTO s FROM public_projection.subjects p WHERE p.id = q_id AND p.uscc IS NULL;
    END IF;
    IF s.id IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT s.id, s.code::text, s.kind::text, s.uscc::text, s.id_number_masked::text, s.name::text, s.registered,
           s.legal_representative::text, s.status::text, s.address::text, s.registration_authority::text,
           s.updated_at,
           (SELECT c.catalog FROM public_projection.catalog c),
           (SELECT json_agg(json_build_array(r.id, r.category, r.data, r.publicity_from, r.publicity_until,
                                             r.department_name, r.updated_at, r.under_objection)
                            ORDER BY c.n, r.newest_first DESC, r.id DESC)
              FROM unnest(q_categories) WITH ORDINALITY AS c(category, n)
             CROSS JOIN LATERAL (
                   SELECT * FROM public_projection.records r
                    WHERE r.subject_id = s.id AND r.category = c.category
                      AND (r.newest_first, r.id) < (CASE WHEN q_after_id IS NULL THEN 'infinity'::date
                                                         ELSE coalesce(q_after_from, '-infinity'::date) END,
                                                    coalesce(q_after_id, 9223372036854775807))
                    ORDER BY r.newest_first DESC, r.id DESC
                    LIMIT fetched) r),
           (SELECT json_object_agg(c.category, (SELECT count(*) FROM (
                        SELECT FROM public_projection.records r WHERE r.subject_id = s.id AND r.category = c.category
                         LIMIT 1001) counted))
              FROM unnest(q_categories) AS c(category)),
           EXISTS (SELECT 1 FROM public_projection.open_objections o
                     JOIN public_projection.records r ON r.id = o.record_id WHERE r.subject_id = s.id),
           (SELECT json_agg(json_build_array(a.kind, a.value) ORDER BY a.kind, a.id)
              FROM public_projection.aliases a WHERE a.subject_id = s.id);
END
$$;
"""
# What a page shows of its subject (all of public_projection.subjects but its search columns)
SHOWN_COLUMNS = """p.id, p.code, p.kind, p.uscc, p.id_number_masked, p.name, p.registered, p.legal_representative,
               p.status, p.address, p.registration_authority, p.updated_at
         """
FORWARD = REVERSE.replace("SELECT * INTO s FROM", f"SELECT {SHOWN_COLUMNS} INTO s FROM")
assert FORWARD.count(SHOWN_COLUMNS) == 2  # by USCC and by number


class Migration(migrations.Migration):
    dependencies = [("public", "0014_subjects_view_probes_records")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]

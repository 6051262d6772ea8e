"""Counts that stay cheap however many records a subject has: a subject page and a search hit's badges count a
category's public records up to 1001 (1001 reads "more than 1000"), not all of them. Counting a subject's 100,000
penalties cost 50-150 ms (an index scan of them all, a hash join with the departments, and a JIT compilation the
plan's estimate asked for); a page of them costs 0.2 ms. The functions run without JIT, and public_projection.records
joins the departments with a left join, which PostgreSQL leaves out where no department column is read.

Fixed SQL with its reverse: the view and the two functions as migration 0007 made them.
"""

from django.db import migrations

FORWARD = r"""
-- The same rows (every record has its department), but a count or a test for existence that reads no
-- department column no longer joins it: PostgreSQL drops a left join to a unique key nothing reads.
CREATE OR REPLACE VIEW public_projection.records AS
SELECT r.id, r.subject_id, r.category,
       r.payload - 'id_number' - 'id_number_encrypted' - 'id_number_index' AS data,
       r.publicity_from, r.publicity_until, coalesce(r.publicity_from, '-infinity'::date) AS newest_first,
       d.code AS department_code, d.name AS department_name,
       r.updated_at,
       EXISTS (SELECT 1 FROM credit_objection o WHERE o.record_id = r.id AND o.status = 'open') AS under_objection
FROM credit_record r
LEFT JOIN exchange_department d ON d.id = r.department_id
WHERE r.is_public AND r.subject_id IS NOT NULL;

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
                      AND (q_after_id IS NULL
                           OR (r.newest_first, r.id) < (coalesce(q_after_from, '-infinity'::date), q_after_id))
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

CREATE OR REPLACE FUNCTION public_view.subject_badges(q_ids bigint[])
RETURNS TABLE (subject_id bigint, penalties bigint, black_listed boolean, red_listed boolean,
               under_objection boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT i.id,
           (SELECT count(*) FROM (SELECT FROM public_projection.records r
                                   WHERE r.subject_id = i.id AND r.category = 'admin_penalty' LIMIT 1001) counted),
           EXISTS (SELECT FROM public_projection.records r WHERE r.subject_id = i.id AND r.category = 'black_list'),
           EXISTS (SELECT FROM public_projection.records r WHERE r.subject_id = i.id AND r.category = 'red_list'),
           EXISTS (SELECT FROM public_projection.open_objections o JOIN public_projection.records r ON r.id = o.record_id
                    WHERE r.subject_id = i.id AND r.category <> 'registration')
      FROM unnest(q_ids[1:100]) AS i(id)
     WHERE array_ndims(q_ids) = 1;
END
$$;
"""

REVERSE = r"""
CREATE OR REPLACE VIEW public_projection.records AS
SELECT r.id, r.subject_id, r.category,
       r.payload - 'id_number' - 'id_number_encrypted' - 'id_number_index' AS data,
       r.publicity_from, r.publicity_until, coalesce(r.publicity_from, '-infinity'::date) AS newest_first,
       d.code AS department_code, d.name AS department_name,
       r.updated_at,
       EXISTS (SELECT 1 FROM credit_objection o WHERE o.record_id = r.id AND o.status = 'open') AS under_objection
FROM credit_record r
JOIN exchange_department d ON d.id = r.department_id
WHERE r.is_public AND r.subject_id IS NOT NULL;

CREATE OR REPLACE FUNCTION public_view.subject_page(q_uscc text, q_id bigint, q_categories text[], q_limit integer,
                                         q_after_from date, q_after_id bigint)
RETURNS TABLE (id bigint, code text, kind text, uscc text, id_number_masked text, name text, registered boolean,
               legal_representative text, status text, address text, registration_authority text,
               updated_at timestamptz, catalog text, records json, counts json, under_objection boolean,
               aliases json)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
                      AND (q_after_id IS NULL
                           OR (r.newest_first, r.id) < (coalesce(q_after_from, '-infinity'::date), q_after_id))
                    ORDER BY r.newest_first DESC, r.id DESC
                    LIMIT fetched) r),
           (SELECT json_object_agg(c.category, (SELECT count(*) FROM public_projection.records r
                                                 WHERE r.subject_id = s.id AND r.category = c.category))
              FROM unnest(q_categories) AS c(category)),
           EXISTS (SELECT 1 FROM public_projection.open_objections o
                     JOIN public_projection.records r ON r.id = o.record_id WHERE r.subject_id = s.id),
           (SELECT json_agg(json_build_array(a.kind, a.value) ORDER BY a.kind, a.id)
              FROM public_projection.aliases a WHERE a.subject_id = s.id);
END
$$;

CREATE OR REPLACE FUNCTION public_view.subject_badges(q_ids bigint[])
RETURNS TABLE (subject_id bigint, penalties bigint, black_listed boolean, red_listed boolean,
               under_objection boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT r.subject_id,
           count(*) FILTER (WHERE r.category = 'admin_penalty'),
           coalesce(bool_or(r.category = 'black_list'), false),
           coalesce(bool_or(r.category = 'red_list'), false),
           coalesce(bool_or(r.under_objection), false)
      FROM public_projection.records r
     WHERE array_ndims(q_ids) = 1 AND r.subject_id = ANY(q_ids[1:100]) AND r.category <> 'registration'
     GROUP BY r.subject_id;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("public", "0007_projection_as_intended_today")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]

"""The public projection as it is meant to be today, whatever earlier versions of 0002 made.

Migration 0002 was edited after it landed (and 0003/0004 ran its code again), so a database migrated before
some of those edits never got them. From here on the rule holds: a landed migration is never edited; a change
is a new migration of fixed SQL with its reverse. This one drops public_view's views and functions (but the two
the search indexes are built on) and public_projection, makes them again, and grants the public role
`credit_public` what it may do, so every database ends with the same projection (tests/public/
test_projection_upgrade.py compares one migrated from 0002's first version with a fresh one).

What changed with it: records are public when the store says so (credit_record.is_public, decided in one place,
credit.publicity); the subject page comes a page of records per category at a time (public_record_page index);
the public pages read the loaded catalog (public_view.catalog_current).
"""

from django.db import migrations

FORWARD = r"""
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE SCHEMA IF NOT EXISTS public_view;

-- The search form of a name key (credit.identity.name_key: NFKC, brackets, no spaces): lower case.
CREATE OR REPLACE FUNCTION public_view.search_name(name_key text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT lower(name_key) $$;

-- Every two consecutive characters (a 1-character text is its own bigram): finds any 2+ character fragment.
CREATE OR REPLACE FUNCTION public_view.bigrams(t text) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN length(t) < 2 THEN ARRAY[t]
                ELSE ARRAY(SELECT DISTINCT substr(t, i, 2) FROM generate_series(1, length(t) - 1) AS i) END
$$;

CREATE INDEX IF NOT EXISTS public_subject_name_bigrams
    ON credit_subject USING gin (public_view.bigrams(public_view.search_name(name_key)));
CREATE INDEX IF NOT EXISTS public_alias_name_bigrams
    ON credit_subjectalias USING gin (public_view.bigrams(public_view.search_name(value_key)))
    WHERE kind = 'former_name';
CREATE INDEX IF NOT EXISTS public_subject_uscc_trgm ON credit_subject USING gin (uscc gin_trgm_ops);
CREATE INDEX IF NOT EXISTS public_alias_code_trgm
    ON credit_subjectalias USING gin (value_key gin_trgm_ops) WHERE kind <> 'former_name';
-- A subject's public records of one category, newest first: a page of them is an index range, however many.
CREATE INDEX IF NOT EXISTS public_record_page
    ON credit_record (subject_id, category, (coalesce(publicity_from, '-infinity'::date)) DESC, id DESC)
    WHERE is_public;

-- Whatever earlier versions of migration 0002 left in public_view (views, functions, grants) goes, but the two
-- functions the search indexes are built on; the projection is made again below, as it is meant to be today.
DO $$ DECLARE dropped text; BEGIN
    -- every name taken before the first drop: a view may go with another one's CASCADE
    FOR dropped IN SELECT unnest(ARRAY(
                       SELECT format('VIEW IF EXISTS public_view.%I', c.relname)
                         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = 'public_view' AND c.relkind = 'v'
                       UNION ALL
                       SELECT format('FUNCTION IF EXISTS %s', p.oid::regprocedure)
                         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                        WHERE n.nspname = 'public_view' AND p.proname NOT IN ('search_name', 'bigrams'))) LOOP
        EXECUTE 'DROP ' || dropped || ' CASCADE';
    END LOOP;
END $$;
DROP SCHEMA IF EXISTS public_projection CASCADE;
CREATE SCHEMA public_projection;

-- The projection is defined in schema public_projection, which the public role cannot read. The role reads it
-- only through the SECURITY DEFINER functions of schema public_view below: they take values, run fixed
-- statements, and return rows of the projection. Not views, even security-barrier ones: PostgreSQL runs a
-- caller's leakproof conditions (=, <) before a view's filter and EXPLAIN ANALYZE shows how many rows that
-- filter removed, so a compromised public process could count hidden records and bisect hidden names.

-- Records the public may see today: those the store marks public (credit_record.is_public, decided by
-- credit.publicity for the merge, credit repair and the hourly publicity transitions), with ID numbers left out.
-- `newest_first` is the order a subject's records are shown in (then id, newest first).
CREATE VIEW public_projection.records AS
SELECT r.id, r.subject_id, r.category,
       r.payload - 'id_number' - 'id_number_encrypted' - 'id_number_index' AS data,
       r.publicity_from, r.publicity_until, coalesce(r.publicity_from, '-infinity'::date) AS newest_first,
       d.code AS department_code, d.name AS department_name,
       r.updated_at,
       EXISTS (SELECT 1 FROM credit_objection o WHERE o.record_id = r.id AND o.status = 'open') AS under_objection
FROM credit_record r
JOIN exchange_department d ON d.id = r.department_id
WHERE r.is_public AND r.subject_id IS NOT NULL;

-- Subjects the public may know of: registered ones, and others only while one of their records is public
-- (a natural person is never listed for a record the public may not see). ID numbers only masked.
CREATE VIEW public_projection.subjects AS
SELECT s.id, coalesce(s.uscc, 'N-' || s.id) AS code, s.kind, s.uscc,
       nullif(s.id_number_masked, '') AS id_number_masked,
       s.name, s.registered, s.legal_representative, s.status, s.address, s.registration_authority,
       s.updated_at,
       public_view.search_name(s.name_key) AS search_name,
       public_view.bigrams(public_view.search_name(s.name_key)) AS name_bigrams
FROM credit_subject s
WHERE s.registered OR EXISTS (SELECT 1 FROM public_projection.records pr WHERE pr.subject_id = s.id);

-- Records under objection (a public record's mark).
CREATE VIEW public_projection.open_objections AS
SELECT o.record_id FROM credit_objection o WHERE o.status = 'open';

-- The newest loaded catalog: its version key, and the document the public pages take their categories, labels
-- and order from. The catalog is public data.
CREATE VIEW public_projection.catalog AS
SELECT v.version || ':' || v.sha256 AS catalog, v.document FROM validation_catalogversion v
ORDER BY v.version DESC LIMIT 1;

-- Former names and legacy codes of public subjects.
CREATE VIEW public_projection.aliases AS
SELECT a.id, a.subject_id, a.kind, a.value, a.value_key,
       public_view.search_name(a.value_key) AS search_name,
       CASE WHEN a.kind = 'former_name'
            THEN public_view.bigrams(public_view.search_name(a.value_key)) END AS name_bigrams
FROM credit_subjectalias a
WHERE EXISTS (SELECT 1 FROM public_projection.subjects s WHERE s.id = a.subject_id);

-- The search's candidates, each with what the ranking and the result list need: public subjects whose name or
-- former name contains a fragment (`q_infix`, a LIKE pattern; `q_bigrams`, its bigrams, for the index), and,
-- when the query may be a code (`q_code`), those with that USCC, a legacy code containing it, or (q_uscc_part) a
-- USCC containing it; at most `q_cap` (at most 1001) from each way of matching.
CREATE FUNCTION public_view.search_candidates(q_bigrams text[], q_infix text, q_code text, q_code_infix text,
                                              q_uscc_part boolean, q_cap integer)
RETURNS TABLE (id bigint, former_name text, uscc text, search_name text, code text, name text, kind text,
               status text, id_number_masked text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    cap integer := least(greatest(q_cap, 0), 1001);
BEGIN
    RETURN QUERY
    (SELECT s.id, NULL::text, s.uscc::text, s.search_name::text, s.code::text, s.name::text, s.kind::text,
            s.status::text, s.id_number_masked::text
       FROM public_projection.subjects s
      WHERE s.name_bigrams @> q_bigrams AND s.search_name LIKE q_infix ESCAPE '\'
      LIMIT cap)
    UNION ALL
    (SELECT s.id, a.value::text, s.uscc::text, s.search_name::text, s.code::text, s.name::text, s.kind::text,
            s.status::text, s.id_number_masked::text
       FROM public_projection.aliases a JOIN public_projection.subjects s ON s.id = a.subject_id
      WHERE a.kind = 'former_name' AND a.name_bigrams @> q_bigrams
        AND a.search_name LIKE q_infix ESCAPE '\'
      LIMIT cap);
    IF q_code IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
    (SELECT s.id, NULL::text, s.uscc::text, s.search_name::text, s.code::text, s.name::text, s.kind::text,
            s.status::text, s.id_number_masked::text
       FROM public_projection.subjects s WHERE s.uscc = q_code)
    UNION ALL
    (SELECT s.id, NULL::text, s.uscc::text, s.search_name::text, s.code::text, s.name::text, s.kind::text,
            s.status::text, s.id_number_masked::text
       FROM public_projection.aliases a JOIN public_projection.subjects s ON s.id = a.subject_id
      WHERE a.kind <> 'former_name' AND a.value_key LIKE q_code_infix
      LIMIT cap);
    IF q_uscc_part THEN
        RETURN QUERY
        SELECT s.id, NULL::text, s.uscc::text, s.search_name::text, s.code::text, s.name::text, s.kind::text,
               s.status::text, s.id_number_masked::text
          FROM public_projection.subjects s WHERE s.uscc LIKE q_code_infix
         LIMIT cap;
    END IF;
END
$$;

-- A public subject's page: the subject with this USCC (or, when q_uscc is null, the one without a USCC with
-- this id), a page of its records in each of `q_categories` (in that order; per category at most q_limit + 1,
-- newest first, after the record (q_after_from, q_after_id) when q_after_id is given: one more than a page
-- tells that there is a next one), the number of its public records per category, whether one of them is
-- under objection, its aliases, and the loaded catalog's version (the labels the page is shown with).
CREATE FUNCTION public_view.subject_page(q_uscc text, q_id bigint, q_categories text[], q_limit integer,
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

-- Search hits' badges (a page's ids, at most 100): penalties in publicity, black and red listed, a record
-- under objection.
CREATE FUNCTION public_view.subject_badges(q_ids bigint[])
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

-- The code of the public subject a legacy code (registration number, organisation code) names.
CREATE FUNCTION public_view.legacy_code_subject(q_code text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN (SELECT s.code FROM public_projection.aliases a JOIN public_projection.subjects s ON s.id = a.subject_id
             WHERE a.value_key = q_code AND a.kind <> 'former_name' ORDER BY a.id LIMIT 1);
END
$$;

-- The newest loaded catalog: its version key (as subject_page returns it) and its document.
CREATE FUNCTION public_view.catalog_current()
RETURNS TABLE (catalog text, document jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT c.catalog, c.document FROM public_projection.catalog c;
END
$$;

-- The public role (made by 0002 when missing; its password is set where the role is managed) may connect, run
-- public_view's functions, and nothing else.
DO $$ BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO credit_public', current_database());
END $$;
-- A public page's queries take milliseconds; a process that runs anything much longer is not serving one.
DO $$ BEGIN
    ALTER ROLE credit_public SET statement_timeout = '5s';
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'statement_timeout of role credit_public left as it is: set it where the role is managed';
END $$;
-- No table statistics from the role's sessions: pg_stat_xact_user_tables would show it the rows the functions
-- read before their filters. Only a superuser may set this, and the role cannot undo it.
DO $$ BEGIN
    ALTER ROLE credit_public SET track_counts = off;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'track_counts of role credit_public not set: a superuser must run ALTER ROLE credit_public SET track_counts = off';
END $$;
REVOKE ALL ON SCHEMA public_projection FROM PUBLIC, credit_public;
REVOKE ALL ON ALL TABLES IN SCHEMA public_view FROM PUBLIC, credit_public;
REVOKE ALL ON FUNCTION public_view.search_name(text), public_view.bigrams(text) FROM credit_public;
GRANT USAGE ON SCHEMA public_view TO credit_public;
REVOKE ALL ON FUNCTION public_view.search_candidates(text[], text, text, text, boolean, integer),
    public_view.subject_page(text, bigint, text[], integer, date, bigint), public_view.subject_badges(bigint[]),
    public_view.legacy_code_subject(text), public_view.catalog_current()
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public_view.search_candidates(text[], text, text, text, boolean, integer),
    public_view.subject_page(text, bigint, text[], integer, date, bigint), public_view.subject_badges(bigint[]),
    public_view.legacy_code_subject(text), public_view.catalog_current()
    TO credit_public;
"""

REVERSE = r"""
DROP INDEX IF EXISTS public_record_page;
-- Back to the projection as migrations 0002-0006 made it (0002's text of 2026-11-27, rendered for role
-- credit_public and time zone Asia/Shanghai).
DO $$ DECLARE dropped text; BEGIN
    -- every name taken before the first drop: a view may go with another one's CASCADE
    FOR dropped IN SELECT unnest(ARRAY(
                       SELECT format('VIEW IF EXISTS public_view.%I', c.relname)
                         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = 'public_view' AND c.relkind = 'v'
                       UNION ALL
                       SELECT format('FUNCTION IF EXISTS %s', p.oid::regprocedure)
                         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                        WHERE n.nspname = 'public_view' AND p.proname NOT IN ('search_name', 'bigrams'))) LOOP
        EXECUTE 'DROP ' || dropped || ' CASCADE';
    END LOOP;
END $$;
DROP SCHEMA IF EXISTS public_projection CASCADE;

DROP FUNCTION IF EXISTS public_view.search_candidates(text[], text, text, text, boolean, integer),
    public_view.subject_page(text, bigint), public_view.subject_badges(bigint[]), public_view.legacy_code_subject(text);
DROP VIEW IF EXISTS public_view.subject_pages, public_view.aliases, public_view.subjects, public_view.records;
CREATE SCHEMA IF NOT EXISTS public_projection;
DROP VIEW IF EXISTS public_projection.subject_pages, public_projection.aliases, public_projection.subjects,
    public_projection.records;

-- Today on the platform's calendar, whatever the session's time zone.
CREATE OR REPLACE FUNCTION public_view.today() RETURNS date
    LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date $$;

-- The projection is defined here, in schema public_projection, which the public role cannot read. The role
-- reads it only through the SECURITY DEFINER functions of schema public_view below: they take values, run
-- fixed statements, and return rows of the projection. Not views, even security-barrier ones: PostgreSQL
-- runs a caller's leakproof conditions (=, <) before a view's filter and EXPLAIN ANALYZE shows how many rows
-- that filter removed, so a compromised public process could count hidden records and bisect hidden names;
-- a function shows a caller only what it returns.

-- Records in publicity today (catalog "Publicity rules"): active (not withdrawn), usage_scope public,
-- not a simple-procedure penalty, inside [publicity_from, publicity_ends_on), not repaired (credit.publicity).
-- Registrations (always public) are here too: the subject page's basic information and its source.
CREATE VIEW public_projection.records AS
SELECT r.id, r.subject_id, r.category,
       r.payload - 'id_number' - 'id_number_encrypted' - 'id_number_index' AS data,
       r.publicity_from, r.publicity_until,
       d.code AS department_code, d.name AS department_name,
       r.updated_at,
       EXISTS (SELECT 1 FROM credit_objection o WHERE o.record_id = r.id AND o.status = 'open') AS under_objection
FROM credit_record r
JOIN exchange_department d ON d.id = r.department_id
WHERE r.subject_id IS NOT NULL
  AND r.state = 'active'
  AND r.publicity_never = ''
  AND coalesce(r.payload ->> 'usage_scope', 'public') = 'public'
  AND NOT (r.category = 'admin_penalty' AND coalesce(r.payload ->> 'procedure', 'ordinary') = 'simple')
  AND (r.publicity_from IS NULL OR r.publicity_from <= public_view.today())
  AND (r.publicity_ends_on IS NULL OR public_view.today() < r.publicity_ends_on)
  AND NOT (r.category = 'admin_penalty' AND r.publicity_ends_on IS NULL)
  AND r.repaired_at IS NULL;

-- Subjects the public may know of: registered ones, and others only while one of their records is public
-- (a natural person is never listed for a record the public may not see). ID numbers only masked.
CREATE VIEW public_projection.subjects AS
SELECT s.id, coalesce(s.uscc, 'N-' || s.id) AS code, s.kind, s.uscc,
       nullif(s.id_number_masked, '') AS id_number_masked,
       s.name, s.registered, s.legal_representative, s.status, s.address, s.registration_authority,
       s.registration - 'id_number' AS registration,
       s.updated_at,
       public_view.search_name(s.name_key) AS search_name,
       public_view.bigrams(public_view.search_name(s.name_key)) AS name_bigrams
FROM credit_subject s
WHERE s.registered OR EXISTS (SELECT 1 FROM public_projection.records pr WHERE pr.subject_id = s.id);

-- Former names and legacy codes of public subjects.
CREATE VIEW public_projection.aliases AS
SELECT a.id, a.subject_id, a.kind, a.value, a.value_key,
       public_view.search_name(a.value_key) AS search_name,
       CASE WHEN a.kind = 'former_name'
            THEN public_view.bigrams(public_view.search_name(a.value_key)) END AS name_bigrams
FROM credit_subjectalias a
WHERE EXISTS (SELECT 1 FROM public_projection.subjects s WHERE s.id = a.subject_id);

-- A public subject's page in one row: what public_projection.subjects shows of it, its records in publicity
-- (the page's order) and its aliases. The same subjects as public_projection.subjects (registered, or with a
-- record in publicity: then `records` is not null), but flat: written over the subjects and aliases views,
-- each lookup planned and ran their visibility subqueries again (~30% of the page's database time).
CREATE VIEW public_projection.subject_pages AS
SELECT s.id, coalesce(s.uscc, 'N-' || s.id) AS code, s.kind, s.uscc,
       nullif(s.id_number_masked, '') AS id_number_masked,
       s.name, s.registered, s.legal_representative, s.status, s.address, s.registration_authority,
       s.updated_at,
       public_view.today() AS today,
       pr.records,
       (SELECT json_agg(json_build_array(a.kind, a.value) ORDER BY a.kind, a.id)
        FROM credit_subjectalias a WHERE a.subject_id = s.id) AS aliases
FROM credit_subject s
CROSS JOIN LATERAL (
    SELECT json_agg(json_build_array(r.id, r.category, r.data, r.publicity_from, r.publicity_until,
                                     r.department_name, r.updated_at, r.under_objection)
                    ORDER BY r.category, r.publicity_from DESC, r.updated_at DESC, r.id DESC) AS records
    FROM public_projection.records r WHERE r.subject_id = s.id
) pr
WHERE s.registered OR pr.records IS NOT NULL;

-- The search's candidates, each with what the ranking and the result list need: public subjects whose name or
-- former name contains a fragment (`q_infix`, a LIKE pattern; `q_bigrams`, its bigrams, for the index), and,
-- when the query may be a code (`q_code`), those with that USCC, a legacy code containing it, or (q_uscc_part) a
-- USCC containing it; at most `q_cap` (at most 1001) from each way of matching. SECURITY DEFINER, over
-- public_projection: the caller passes values only, and gets rows of public subjects only.
CREATE FUNCTION public_view.search_candidates(q_bigrams text[], q_infix text, q_code text, q_code_infix text,
                                              q_uscc_part boolean, q_cap integer)
RETURNS TABLE (id bigint, former_name text, uscc text, search_name text, code text, name text, kind text,
               status text, id_number_masked text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    cap integer := least(greatest(q_cap, 0), 1001);
BEGIN
    RETURN QUERY
    (SELECT s.id, NULL::text, s.uscc::text, s.search_name::text, s.code::text, s.name::text, s.kind::text,
            s.status::text, s.id_number_masked::text
       FROM public_projection.subjects s
      WHERE s.name_bigrams @> q_bigrams AND s.search_name LIKE q_infix ESCAPE '\'
      LIMIT cap)
    UNION ALL
    (SELECT s.id, a.value::text, s.uscc::text, s.search_name::text, s.code::text, s.name::text, s.kind::text,
            s.status::text, s.id_number_masked::text
       FROM public_projection.aliases a JOIN public_projection.subjects s ON s.id = a.subject_id
      WHERE a.kind = 'former_name' AND a.name_bigrams @> q_bigrams
        AND a.search_name LIKE q_infix ESCAPE '\'
      LIMIT cap);
    IF q_code IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
    (SELECT s.id, NULL::text, s.uscc::text, s.search_name::text, s.code::text, s.name::text, s.kind::text,
            s.status::text, s.id_number_masked::text
       FROM public_projection.subjects s WHERE s.uscc = q_code)
    UNION ALL
    (SELECT s.id, NULL::text, s.uscc::text, s.search_name::text, s.code::text, s.name::text, s.kind::text,
            s.status::text, s.id_number_masked::text
       FROM public_projection.aliases a JOIN public_projection.subjects s ON s.id = a.subject_id
      WHERE a.kind <> 'former_name' AND a.value_key LIKE q_code_infix
      LIMIT cap);
    IF q_uscc_part THEN
        RETURN QUERY
        SELECT s.id, NULL::text, s.uscc::text, s.search_name::text, s.code::text, s.name::text, s.kind::text,
            s.status::text, s.id_number_masked::text
          FROM public_projection.subjects s WHERE s.uscc LIKE q_code_infix
         LIMIT cap;
    END IF;
END
$$;

-- The subject page's row (public_projection.subject_pages) of the public subject with this USCC, or, when
-- q_uscc is null, of the one without a USCC with this id.
CREATE FUNCTION public_view.subject_page(q_uscc text, q_id bigint)
RETURNS TABLE (id bigint, code text, kind text, uscc text, id_number_masked text, name text, registered boolean,
               legal_representative text, status text, address text, registration_authority text,
               updated_at timestamptz, today date, records json, aliases json)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
    IF q_uscc IS NOT NULL THEN
        RETURN QUERY
        SELECT p.id, p.code::text, p.kind::text, p.uscc::text, p.id_number_masked::text, p.name::text,
               p.registered, p.legal_representative::text, p.status::text, p.address::text,
               p.registration_authority::text, p.updated_at, p.today, p.records, p.aliases
          FROM public_projection.subject_pages p WHERE p.uscc = q_uscc;
    ELSE
        RETURN QUERY
        SELECT p.id, p.code::text, p.kind::text, p.uscc::text, p.id_number_masked::text, p.name::text,
               p.registered, p.legal_representative::text, p.status::text, p.address::text,
               p.registration_authority::text, p.updated_at, p.today, p.records, p.aliases
          FROM public_projection.subject_pages p WHERE p.id = q_id AND p.uscc IS NULL;
    END IF;
END
$$;

-- Search hits' badges (a page's ids, at most 100): penalties in publicity, black and red listed, a record
-- under objection.
CREATE FUNCTION public_view.subject_badges(q_ids bigint[])
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

-- The code of the public subject a legacy code (registration number, organisation code) names.
CREATE FUNCTION public_view.legacy_code_subject(q_code text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN (SELECT s.code FROM public_projection.aliases a JOIN public_projection.subjects s ON s.id = a.subject_id
             WHERE a.value_key = q_code AND a.kind <> 'former_name' ORDER BY a.id LIMIT 1);
END
$$;

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'credit_public') THEN
        CREATE ROLE credit_public LOGIN;
    ELSIF NOT (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'credit_public') THEN
        ALTER ROLE credit_public LOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- another database's migration made it
END $$;
DO $$ BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO credit_public', current_database());
END $$;
-- A public page's queries take milliseconds; a process that runs anything much longer is not serving one
-- (a default: the role may change it for its own session).
DO $$ BEGIN
    ALTER ROLE credit_public SET statement_timeout = '5s';
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'statement_timeout of role credit_public left as it is: set it where the role is managed';
END $$;
-- No table statistics from the role's sessions: pg_stat_xact_user_tables would show it the rows the functions
-- read before their filters (a subject's hidden records, counted). Only a superuser may set this, and the
-- role cannot undo it; config/embedded.py sets it on the embedded cluster, a deployment where its role is made.
DO $$ BEGIN
    ALTER ROLE credit_public SET track_counts = off;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'track_counts of role credit_public not set: a superuser must run ALTER ROLE credit_public SET track_counts = off';
END $$;
GRANT USAGE ON SCHEMA public_view TO credit_public;
REVOKE ALL ON FUNCTION public_view.search_candidates(text[], text, text, text, boolean, integer),
    public_view.subject_page(text, bigint), public_view.subject_badges(bigint[]), public_view.legacy_code_subject(text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public_view.search_candidates(text[], text, text, text, boolean, integer),
    public_view.subject_page(text, bigint), public_view.subject_badges(bigint[]), public_view.legacy_code_subject(text)
    TO credit_public;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("public", "0006_projection_models_dropped"),
        ("credit", "0007_withdrawn_registrations_cleared"),
        ("validation", "0001_initial"),
    ]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]

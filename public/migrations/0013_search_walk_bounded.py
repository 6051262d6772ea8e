"""Public search: the walk for a common fragment stops after four times the rows its statistics promise.

The walk (migration 0010) read public_subject_search_walk until it had enough names containing the query: for
words each common but seldom together it could read every subject (~1M rows, a second or more) to find few.
It now reads at most 4 x 1,001 / share rows of the query's rarest bigram (at most ~80,000 at 1M subjects) and
leaves the rest to the bigram index, which finds the same names (counted once).

Fixed SQL with its reverse: the function as migration 0012 made it.
"""

from django.db import migrations

FORWARD = r"""
CREATE OR REPLACE FUNCTION public_view.search_candidates(q_name text, q_bigrams text[], q_infix text, q_code text,
                                                         q_code_infix text, q_uscc_part boolean, q_cap integer)
RETURNS TABLE (id bigint, former_name text, uscc text, search_name text, status_rank integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off AS $$
#variable_conflict use_column
DECLARE
    cap integer := least(greatest(q_cap, 0), 1001);
    -- the bigrams most common in subject names and the share of names holding each
    common_bigrams text[];
    common_shares real[];
    subjects real;
    rarest real;  -- share of names holding the query's rarest bigram; 0 when it is not a common one
    prefixed integer;  -- names starting with it
    wanted integer;  -- names containing it without starting with it: as many as the cap leaves room for
    found integer := 0;  -- of those, so far
    more integer;
BEGIN
    IF q_name IS NULL OR length(q_name) < 2 THEN
        RETURN;
    END IF;
    -- The exact name, then names that start with it: ranges of public_subject_search_name, rank by rank (read
    -- from the index alone; the page's rows are read by search_hits).
    RETURN QUERY
    SELECT s.id, NULL::text, NULL::text, s.search_name::text, public_view.status_rank(s.status)
      FROM public_projection.subjects s
     WHERE public_view.status_rank(s.status) = ANY ('{0,1,2}') AND s.search_name COLLATE "C" = q_name;
    RETURN QUERY
    SELECT s.id, NULL::text, NULL::text, s.search_name::text, public_view.status_rank(s.status)
      FROM public_projection.subjects s
     WHERE public_view.status_rank(s.status) = ANY ('{0,1,2}')
       AND s.search_name COLLATE "C" >= q_name AND s.search_name COLLATE "C" < q_name || chr(1114111)
     ORDER BY public_view.status_rank(s.status), s.search_name COLLATE "C", s.id
     LIMIT cap;
    GET DIAGNOSTICS prefixed = ROW_COUNT;
    wanted := cap - prefixed;  -- the exact name starts with it too

    IF wanted > 0 THEN
        SELECT st.most_common_elems::text::text[], st.most_common_elem_freqs INTO common_bigrams, common_shares
          FROM pg_stats st WHERE st.tablename = 'public_subject_name_bigrams' LIMIT 1;  -- one such index a database
        SELECT c.reltuples INTO subjects FROM pg_class c WHERE c.relname = 'public_subject_name_bigrams' LIMIT 1;
        SELECT min(coalesce(common_shares[array_position(common_bigrams, b)], 0)) INTO rarest
          FROM unnest(q_bigrams) b;
    END IF;

    -- Names that contain it, 存续 first. A walk reads about cap / share rows (~1.7 us each), the bigram index
    -- share x subjects entries (~0.7 us each) and then only as many rows as it keeps: the walk from a share of
    -- sqrt(2.5 x cap / subjects) up (5% of 1M names, 1.6% of 10M), so that neither reads much more than
    -- sqrt(2.5 x cap x subjects) entries (measured: bench/README.md).
    -- With cap names starting with it (长沙, 湘西, 株洲: a city starts most names holding it), those fill the list
    -- and tell that there are more: names that only contain it are not read at all.
    -- The walk reads at most 4 x cap / rarest rows, four times what the rarest bigram's share promises: query
    -- words each common but seldom together stop it there, and the bigram index
    -- gives the rest (the same names again are counted once).
    IF wanted > 0 AND rarest > 0 AND subjects > 0 AND rarest >= sqrt(2.5 * cap / subjects) THEN
        RETURN QUERY
        SELECT w.id, NULL::text, NULL::text, w.search_name::text, w.status_rank
          FROM (SELECT s.id, s.search_name, public_view.status_rank(s.status) AS status_rank
                  FROM public_projection.subjects s
                 ORDER BY public_view.status_rank(s.status), s.id
                 LIMIT ceil(4 * cap / rarest)::integer) w
         WHERE w.search_name LIKE q_infix ESCAPE '\' AND NOT starts_with(w.search_name, q_name)
         LIMIT wanted;
        GET DIAGNOSTICS found = ROW_COUNT;
    END IF;
    IF wanted > 0 AND found < wanted THEN  -- not a common fragment, or the walk stopped early
        -- From the bigram index, 存续 ones first, in the table's order: no sort, so the heap scan stops at cap.
        RETURN QUERY
        SELECT s.id, NULL::text, NULL::text, s.search_name::text, public_view.status_rank(s.status)
          FROM public_projection.subjects s
         WHERE s.name_bigrams @> q_bigrams AND s.search_name LIKE q_infix ESCAPE '\' AND s.status = 'active'
           AND NOT starts_with(s.search_name, q_name)
         LIMIT wanted;
        GET DIAGNOSTICS found = ROW_COUNT;
        IF found < wanted THEN
            RETURN QUERY
            SELECT s.id, NULL::text, NULL::text, s.search_name::text, public_view.status_rank(s.status)
              FROM public_projection.subjects s
             WHERE s.name_bigrams @> q_bigrams AND s.search_name LIKE q_infix ESCAPE '\' AND s.status <> 'active'
               AND NOT starts_with(s.search_name, q_name)
             LIMIT wanted - found;
            GET DIAGNOSTICS more = ROW_COUNT;
            found := found + more;
        END IF;
    END IF;
    IF found < wanted THEN  -- former names rank after every current name: with cap of those there is no room
        RETURN QUERY
        SELECT s.id, a.value::text, NULL::text, s.search_name::text, public_view.status_rank(s.status)
          FROM public_projection.aliases a JOIN public_projection.subjects s ON s.id = a.subject_id
         WHERE a.kind = 'former_name' AND a.name_bigrams @> q_bigrams
           AND a.search_name LIKE q_infix ESCAPE '\'
         LIMIT cap;
    END IF;
    IF q_code IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
    (SELECT s.id, NULL::text, s.uscc::text, s.search_name::text, public_view.status_rank(s.status)
       FROM public_projection.subjects s WHERE s.uscc = q_code)
    UNION ALL
    (SELECT s.id, NULL::text, s.uscc::text, s.search_name::text, public_view.status_rank(s.status)
       FROM public_projection.aliases a JOIN public_projection.subjects s ON s.id = a.subject_id
      WHERE a.kind <> 'former_name' AND a.value_key LIKE q_code_infix
      LIMIT cap);
    IF q_uscc_part THEN
        RETURN QUERY
        SELECT s.id, NULL::text, s.uscc::text, s.search_name::text, public_view.status_rank(s.status)
          FROM public_projection.subjects s WHERE s.uscc LIKE q_code_infix
         LIMIT cap;
    END IF;
END
$$;

"""

REVERSE = r"""
CREATE OR REPLACE FUNCTION public_view.search_candidates(q_name text, q_bigrams text[], q_infix text, q_code text,
                                                         q_code_infix text, q_uscc_part boolean, q_cap integer)
RETURNS TABLE (id bigint, former_name text, uscc text, search_name text, status_rank integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off AS $$
#variable_conflict use_column
DECLARE
    cap integer := least(greatest(q_cap, 0), 1001);
    -- the bigrams most common in subject names and the share of names holding each
    common_bigrams text[];
    common_shares real[];
    subjects real;
    rarest real;  -- share of names holding the query's rarest bigram; 0 when it is not a common one
    prefixed integer;  -- names starting with it
    wanted integer;  -- names containing it without starting with it: as many as the cap leaves room for
    found integer := 0;  -- of those, so far
    more integer;
BEGIN
    IF q_name IS NULL OR length(q_name) < 2 THEN
        RETURN;
    END IF;
    -- The exact name, then names that start with it: ranges of public_subject_search_name, rank by rank (read
    -- from the index alone; the page's rows are read by search_hits).
    RETURN QUERY
    SELECT s.id, NULL::text, NULL::text, s.search_name::text, public_view.status_rank(s.status)
      FROM public_projection.subjects s
     WHERE public_view.status_rank(s.status) = ANY ('{0,1,2}') AND s.search_name COLLATE "C" = q_name;
    RETURN QUERY
    SELECT s.id, NULL::text, NULL::text, s.search_name::text, public_view.status_rank(s.status)
      FROM public_projection.subjects s
     WHERE public_view.status_rank(s.status) = ANY ('{0,1,2}')
       AND s.search_name COLLATE "C" >= q_name AND s.search_name COLLATE "C" < q_name || chr(1114111)
     ORDER BY public_view.status_rank(s.status), s.search_name COLLATE "C", s.id
     LIMIT cap;
    GET DIAGNOSTICS prefixed = ROW_COUNT;
    wanted := cap - prefixed;  -- the exact name starts with it too

    IF wanted > 0 THEN
        SELECT st.most_common_elems::text::text[], st.most_common_elem_freqs INTO common_bigrams, common_shares
          FROM pg_stats st WHERE st.tablename = 'public_subject_name_bigrams' LIMIT 1;  -- one such index a database
        SELECT c.reltuples INTO subjects FROM pg_class c WHERE c.relname = 'public_subject_name_bigrams' LIMIT 1;
        SELECT min(coalesce(common_shares[array_position(common_bigrams, b)], 0)) INTO rarest
          FROM unnest(q_bigrams) b;
    END IF;

    -- Names that contain it, 存续 first. A walk reads about cap / share rows (~1.7 us each), the bigram index
    -- share x subjects entries (~0.7 us each) and then only as many rows as it keeps: the walk from a share of
    -- sqrt(2.5 x cap / subjects) up (5% of 1M names, 1.6% of 10M), so that neither reads much more than
    -- sqrt(2.5 x cap x subjects) entries (measured: bench/README.md).
    -- With cap names starting with it (长沙, 湘西, 株洲: a city starts most names holding it), those fill the list
    -- and tell that there are more: names that only contain it are not read at all.
    IF wanted > 0 AND rarest > 0 AND subjects > 0 AND rarest >= sqrt(2.5 * cap / subjects) THEN
        RETURN QUERY
        SELECT s.id, NULL::text, NULL::text, s.search_name::text, public_view.status_rank(s.status)
          FROM public_projection.subjects s
         WHERE s.search_name LIKE q_infix ESCAPE '\' AND NOT starts_with(s.search_name, q_name)
         ORDER BY public_view.status_rank(s.status), s.id
         LIMIT wanted;
        GET DIAGNOSTICS found = ROW_COUNT;
    END IF;
    IF wanted > 0 AND found < wanted THEN  -- not a common fragment (or, rarely, common bigrams seldom together)
        -- From the bigram index, 存续 ones first, in the table's order: no sort, so the heap scan stops at cap.
        RETURN QUERY
        SELECT s.id, NULL::text, NULL::text, s.search_name::text, public_view.status_rank(s.status)
          FROM public_projection.subjects s
         WHERE s.name_bigrams @> q_bigrams AND s.search_name LIKE q_infix ESCAPE '\' AND s.status = 'active'
           AND NOT starts_with(s.search_name, q_name)
         LIMIT wanted;
        GET DIAGNOSTICS found = ROW_COUNT;
        IF found < wanted THEN
            RETURN QUERY
            SELECT s.id, NULL::text, NULL::text, s.search_name::text, public_view.status_rank(s.status)
              FROM public_projection.subjects s
             WHERE s.name_bigrams @> q_bigrams AND s.search_name LIKE q_infix ESCAPE '\' AND s.status <> 'active'
               AND NOT starts_with(s.search_name, q_name)
             LIMIT wanted - found;
            GET DIAGNOSTICS more = ROW_COUNT;
            found := found + more;
        END IF;
    END IF;
    IF found < wanted THEN  -- former names rank after every current name: with cap of those there is no room
        RETURN QUERY
        SELECT s.id, a.value::text, NULL::text, s.search_name::text, public_view.status_rank(s.status)
          FROM public_projection.aliases a JOIN public_projection.subjects s ON s.id = a.subject_id
         WHERE a.kind = 'former_name' AND a.name_bigrams @> q_bigrams
           AND a.search_name LIKE q_infix ESCAPE '\'
         LIMIT cap;
    END IF;
    IF q_code IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
    (SELECT s.id, NULL::text, s.uscc::text, s.search_name::text, public_view.status_rank(s.status)
       FROM public_projection.subjects s WHERE s.uscc = q_code)
    UNION ALL
    (SELECT s.id, NULL::text, s.uscc::text, s.search_name::text, public_view.status_rank(s.status)
       FROM public_projection.aliases a JOIN public_projection.subjects s ON s.id = a.subject_id
      WHERE a.kind <> 'former_name' AND a.value_key LIKE q_code_infix
      LIMIT cap);
    IF q_uscc_part THEN
        RETURN QUERY
        SELECT s.id, NULL::text, s.uscc::text, s.search_name::text, public_view.status_rank(s.status)
          FROM public_projection.subjects s WHERE s.uscc LIKE q_code_infix
         LIMIT cap;
    END IF;
END
$$;

"""


class Migration(migrations.Migration):
    dependencies = [("public", "0012_search_prefix_fills_the_list")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]

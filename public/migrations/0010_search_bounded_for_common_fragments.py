"""Public search whose cost stays bounded for the fragments people type (issue #19).

A fragment such as 长沙, 科技 or 有限公司 is in a large share of all names; the bigram GIN index built its whole
bitmap before the search's LIMIT applied (450-570 ms a call at 1M subjects). Now a common fragment walks the
subjects in the order the search lists names that contain it (public_subject_search_walk: status rank, id) until
it has enough of them, while a rare one still comes from the bigram index. The exact name and names that start
with the query are ranges of another index (public_subject_search_name: status rank, name), so they come first
whatever the fragment's share.

Fixed SQL with its reverse: search_candidates as migration 0007 made it.
"""

from django.db import migrations

FORWARD = r"""
-- Where a registration status ranks in search results: 存续 (active) first, deregistered and revoked last.
CREATE FUNCTION public_view.status_rank(status text) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE status WHEN 'active' THEN 0 WHEN 'deregistered' THEN 2 WHEN 'revoked' THEN 2 ELSE 1 END
$$;

-- Subjects in the orders a search lists them, with what the search filters on carried along (INCLUDE), so that
-- reading them reads no table page. By name (byte order) within a status rank: the exact name and a prefix are
-- ranges of it, one per rank. By id within a status rank: names that contain a common fragment are found by
-- walking it until enough of them do (ids follow no name, so the matches are spread evenly along it; in name
-- order, the names starting with 株洲 would all wait behind every name before 株).
CREATE INDEX public_subject_search_name
    ON credit_subject (public_view.status_rank(status), (public_view.search_name(name_key)) COLLATE "C", id)
    INCLUDE (status, name_key, registered);
CREATE INDEX public_subject_search_walk
    ON credit_subject (public_view.status_rank(status), id) INCLUDE (status, name_key, registered);

DROP FUNCTION public_view.search_candidates(text[], text, text, text, boolean, integer);

-- The search's candidates, each with what the ranking and the result list need: public subjects whose name is
-- `q_name`, starts with it, or contains it, or whose former name contains it (`q_infix`, a LIKE pattern;
-- `q_bigrams`, its bigrams, for the index); and, when the query may be a code (`q_code`), those with that USCC,
-- a legacy code containing it, or (q_uscc_part) a USCC containing it. At most `q_cap` (at most 1001) from each
-- way of matching, whatever their number. The exact name and names starting with it come from ranges of
-- public_subject_search_name (status rank, name). Names containing it, 存续 ones first: a fragment found in very
-- many names (长沙, 科技, 有限公司) walks public_subject_search_walk (status rank, id) until it has `q_cap` of them;
-- a rarer one takes them from the bigram index, as they come. PostgreSQL's own statistics of the bigram index
-- (its most common elements and the share of names holding each, kept by ANALYZE) tell which.
CREATE FUNCTION public_view.search_candidates(q_name text, q_bigrams text[], q_infix text, q_code text,
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
    found integer := 0;  -- names containing it, so far
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

    SELECT st.most_common_elems::text::text[], st.most_common_elem_freqs INTO common_bigrams, common_shares
      FROM pg_stats st WHERE st.tablename = 'public_subject_name_bigrams' LIMIT 1;  -- one such index a database
    SELECT c.reltuples INTO subjects FROM pg_class c WHERE c.relname = 'public_subject_name_bigrams' LIMIT 1;
    SELECT min(coalesce(common_shares[array_position(common_bigrams, b)], 0)) INTO rarest FROM unnest(q_bigrams) b;

    -- Names that contain it, 存续 first. A walk reads about cap / share rows (~1.7 us each), the bigram index
    -- share x subjects entries (~0.7 us each) and then only as many rows as it keeps: the walk from a share of
    -- sqrt(2.5 x cap / subjects) up (5% of 1M names, 1.6% of 10M), so that neither reads much more than
    -- sqrt(2.5 x cap x subjects) entries (measured: bench/README.md).
    IF rarest > 0 AND subjects > 0 AND rarest >= sqrt(2.5 * cap / subjects) THEN
        RETURN QUERY
        SELECT s.id, NULL::text, NULL::text, s.search_name::text, public_view.status_rank(s.status)
          FROM public_projection.subjects s
         WHERE s.search_name LIKE q_infix ESCAPE '\'
         ORDER BY public_view.status_rank(s.status), s.id
         LIMIT cap;
        GET DIAGNOSTICS found = ROW_COUNT;
    END IF;
    IF found < cap THEN  -- not a common fragment (or, rarely, common bigrams that seldom come together)
        -- From the bigram index, 存续 ones first, in the table's order: no sort, so the heap scan stops at cap.
        RETURN QUERY
        SELECT s.id, NULL::text, NULL::text, s.search_name::text, public_view.status_rank(s.status)
          FROM public_projection.subjects s
         WHERE s.name_bigrams @> q_bigrams AND s.search_name LIKE q_infix ESCAPE '\' AND s.status = 'active'
         LIMIT cap;
        GET DIAGNOSTICS found = ROW_COUNT;
        IF found < cap THEN
            RETURN QUERY
            SELECT s.id, NULL::text, NULL::text, s.search_name::text, public_view.status_rank(s.status)
              FROM public_projection.subjects s
             WHERE s.name_bigrams @> q_bigrams AND s.search_name LIKE q_infix ESCAPE '\' AND s.status <> 'active'
             LIMIT cap - found;
            GET DIAGNOSTICS more = ROW_COUNT;
            found := found + more;
        END IF;
    END IF;
    IF found < cap THEN  -- former names rank after every current name: with cap of those there is no room
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

-- A page of search hits (at most 100 ids): what the result list shows of each public subject among them.
CREATE FUNCTION public_view.search_hits(q_ids bigint[])
RETURNS TABLE (id bigint, code text, name text, kind text, status text, id_number_masked text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT s.id, s.code::text, s.name::text, s.kind::text, s.status::text, s.id_number_masked::text
      FROM public_projection.subjects s
     WHERE array_ndims(q_ids) = 1 AND s.id = ANY (q_ids[1:100]);
END
$$;
REVOKE ALL ON FUNCTION public_view.search_candidates(text, text[], text, text, text, boolean, integer),
    public_view.search_hits(bigint[]), public_view.status_rank(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public_view.search_candidates(text, text[], text, text, text, boolean, integer),
    public_view.search_hits(bigint[]) TO credit_public;
"""

REVERSE = r"""
DROP FUNCTION public_view.search_candidates(text, text[], text, text, text, boolean, integer);
DROP FUNCTION public_view.search_hits(bigint[]);
DROP INDEX IF EXISTS public_subject_search_name, public_subject_search_walk;
DROP FUNCTION public_view.status_rank(text);

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
REVOKE ALL ON FUNCTION public_view.search_candidates(text[], text, text, text, boolean, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public_view.search_candidates(text[], text, text, text, boolean, integer) TO credit_public;
"""


class Migration(migrations.Migration):
    dependencies = [("public", "0009_page_cursor_in_the_index_range")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]

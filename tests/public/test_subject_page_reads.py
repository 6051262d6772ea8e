"""A subject's page reads the subject columns it shows and computes none of the search's: the folded name and its
bigram array (public_projection.subjects computes both for every row read in full) cost the page's function
more than a third of its time on the bench database (public migration 0015)."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.public.conftest import PUBLIC_DB

pytestmark = pytest.mark.django_db(databases=PUBLIC_DB)

# The search columns' functions made to fail, within the test's transaction (rolled back after it)
SEARCH_COLUMNS_FAIL = """
CREATE OR REPLACE FUNCTION public_view.search_name(name_key text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RAISE EXCEPTION 'search_name computed'; END $$;
CREATE OR REPLACE FUNCTION public_view.bigrams(t text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RAISE EXCEPTION 'bigrams computed'; END $$;
"""
PAGE = """
SELECT p.id, p.name FROM public_view.subject_page(%s::text, %s::bigint, ARRAY['registration', 'admin_penalty'],
                                                  20, NULL, NULL) p
"""


def test_a_subject_page_computes_no_search_column(store):
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM credit_subject WHERE uscc IS NULL AND id_number_masked <> '' LIMIT 1")
        person_id = cursor.fetchone()[0]
        cursor.execute(SEARCH_COLUMNS_FAIL)
        cursor.execute(PAGE, [store.tianyi_uscc, None])
        assert cursor.fetchone()[1] == "湖南天翼（长沙）科技有限公司"
        cursor.execute(PAGE, [None, person_id])  # a subject without a USCC, read by its number
        assert cursor.fetchone()[0] == person_id

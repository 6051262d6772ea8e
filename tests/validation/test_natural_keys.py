"""validation.natural_keys: the one normalisation of natural-key values, and its SQL twin in
credit/migrations/0008 (a migration imports no application code, so the rule is written there again)."""

from __future__ import annotations

import pytest

from validation.natural_keys import natural_key_normalise

SPELLINGS = {
    "湘环罚〔2026〕41290024号": "湘环罚(2026)41290024号",
    "湘环罚[2026]41290024号": "湘环罚(2026)41290024号",
    "湘环罚（2026）41290024号": "湘环罚(2026)41290024号",
    "湘环罚(2026)41290024号": "湘环罚(2026)41290024号",
    " 湘环罚〔2026〕41290024 号": "湘环罚(2026)41290024号",
    "湘环罚【2026】41290024号": "湘环罚(2026)41290024号",
    "湘环罚［２０２６］４１２９００２４号": "湘环罚(2026)41290024号",
    "湘环罚\u3000〔2026〕\t41290024\u00a0号\n": "湘环罚(2026)41290024号",
    "湘环罚﹝2026﹞41290024号": "湘环罚(2026)41290024号",  # small tortoise-shell brackets: NFKC → 〔〕
    "（2026）湘01执123号": "(2026)湘01执123号",
    "(2026)湘01执 123号": "(2026)湘01执123号",
    "tax-a": "TAX-A",
    "ＴＡＸ－Ａ": "TAX-A",
    "P-1": "P-1",
    "p 1\u2003x": "P1X",
    "湘Ａ罚ｂ字〔2026〕1号": "湘A罚B字(2026)1号",
    "e \u0301x": "ÉX",  # the space between a letter and its accent goes, and the two compose
    "Straße〔1〕": "STRAßE(1)",  # Latin letters beyond ASCII keep their case: SQL and Python agree on that
    "①号": "1号",
    "": "",
}


@pytest.mark.parametrize(("raw", "key"), SPELLINGS.items())
def test_spellings_fold_to_one_key(raw, key):
    assert natural_key_normalise(raw) == key
    assert natural_key_normalise(key) == key  # a second pass changes nothing


@pytest.mark.django_db
def test_the_migrations_sql_agrees_with_the_function():
    from importlib import import_module

    from django.db import connection

    migration = import_module("credit.migrations.0009_natural_keys_normalised")
    raws = [*SPELLINGS, *SPELLINGS.values(), "".join(chr(c) for c in range(0x2000, 0x2010)) + "ｘ",
            "【湘】\u205f\u3000罚\u1680〔1〕\u2028\u2029\u0085\u001c号", "Ⅻ㈠㍿ﬁ"]
    with connection.cursor() as cursor:
        cursor.execute(migration.FUNCTIONS)
        cursor.execute("SELECT v, pg_temp.natural_key_normalise(v) FROM unnest(%s::text[]) v", [raws])
        got = dict(cursor.fetchall())
        cursor.execute("SELECT pg_temp.record_key_normalise('red_list', %s), pg_temp.record_key_normalise('black_list', %s)",
                       ["tax-a |id:00ab|2026-01-05", "court-x|（2026）湘01执 123号"])
        red, black = cursor.fetchone()
    assert got == {raw: natural_key_normalise(raw) for raw in raws}
    assert (red, black) == ("TAX-A|id:00ab|2026-01-05", "COURT-X|(2026)湘01执123号")

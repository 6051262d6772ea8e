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

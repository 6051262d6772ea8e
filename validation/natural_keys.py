"""Natural keys (decision numbers, case numbers, list codes) compare after one normalisation
(catalog.md, "Field rules common to all"): NFKC, every bracket form folded to ( ), all whitespace
removed, Latin letters upper-cased. Staging builds every stored key with it, so the merge, withdrawals
and lookups all meet on the same key; the payload keeps the department's own spelling for display.

credit/migrations/0008 repeats this rule in SQL (a migration imports no application code);
tests/validation/test_natural_keys.py holds the two to the same answers.
"""

from __future__ import annotations

import re
import string
import unicodedata

# NFKC already turns （）［］ into ()[]; 〔〕 and 【】 have no compatibility mapping
_FOLD = str.maketrans("[]〔〕【】［］（）" + string.ascii_lowercase, "()()()()()" + string.ascii_uppercase)
# Python's \s (Unicode White_Space plus the ASCII separators U+001C–U+001F), spelt out so the SQL twin matches
WHITESPACE_CLASS = r"[\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
_WHITESPACE = re.compile(WHITESPACE_CLASS)


def natural_key_normalise(value: str) -> str:
    """The comparison form of one natural-key value: `湘环罚〔2026〕41290024 号` → `湘环罚(2026)41290024号`.
    Latin letters are the ASCII ones once NFKC has folded full-width forms into them. Applying it
    twice changes nothing (the last NFKC composes what removing a space brought together)."""
    if value.isascii():
        return _WHITESPACE.sub("", value.translate(_FOLD))
    folded = _WHITESPACE.sub("", unicodedata.normalize("NFKC", value).translate(_FOLD))
    return unicodedata.normalize("NFKC", folded)

"""How the public search reads a query: name fragments and codes.

The same normalisation runs in SQL (public_view.search_name / name_bigrams, see
migrations) so that what is indexed and what is asked are compared alike.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_SPACES = re.compile(r"\s+")
_CODE = re.compile(r"^[0-9A-Z]{4,18}$")
MIN_NAME_CHARS = 2
MAX_QUERY_CHARS = 100


def search_name(text: str) -> str:
    """NFKC (full-width → half-width, （）→ ()), spaces removed, lower case."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text)).lower()


def name_bigrams(text: str) -> list[str]:
    """Every two consecutive characters of the search name (a 1-character name is its own bigram)."""
    name = search_name(text)
    if len(name) < 2:
        return [name] if name else []
    return sorted({name[i:i + 2] for i in range(len(name) - 1)})


@dataclass(frozen=True)
class Query:
    text: str  # as shown back to the user
    name: str  # search_name(text)
    code: str | None  # upper-case alphanumeric, when the query may be (part of) a code

    @property
    def searchable(self) -> bool:
        return len(self.name) >= MIN_NAME_CHARS


def query_parse(text: str) -> Query:
    text = (text or "").replace("\x00", "").strip()[:MAX_QUERY_CHARS]  # PostgreSQL's text holds no NUL
    name = search_name(text)
    code = name.upper() if _CODE.match(name.upper()) else None
    return Query(text=text, name=name, code=code)

"""Subject identifiers: ID-number encryption (AES-GCM), its keyed blind index
(HMAC-SHA256), masks, and the name comparison key. The plain ID number is only
ever held in memory, never written to a column, a log line or an error."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import unicodedata
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from validation.field_rules import id_shown_ends

_BRACKETS = str.maketrans({"（": "(", "）": ")", "【": "[", "】": "]", "〔": "[", "〕": "]"})
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _aead(key_hex: str) -> AESGCM:
    return AESGCM(bytes.fromhex(key_hex))


def id_number_encrypt(value: str) -> bytes:
    nonce = os.urandom(12)
    return nonce + _aead(settings.FIELD_ENCRYPTION_KEY).encrypt(nonce, value.encode(), b"id_number")


def id_number_decrypt(blob: bytes) -> str:
    blob = bytes(blob)
    return _aead(settings.FIELD_ENCRYPTION_KEY).decrypt(blob[:12], blob[12:], b"id_number").decode()


def id_number_index(value: str) -> str:
    """Keyed blind index: equal numbers give equal indexes; without the key it reveals nothing."""
    key = bytes.fromhex(settings.BLIND_INDEX_KEY)
    return hmac.new(key, code_normalise(value).encode(), hashlib.sha256).hexdigest()


def id_number_mask(value: str) -> str:
    """The shown ends (validation's `id_shown_ends`) with '*' for each hidden character, e.g.
    4301**********123X; a shorter number shows at most a third of its characters."""
    front, back = id_shown_ends(len(value))
    return value[:front] + "*" * (len(value) - front - back) + value[len(value) - back:]


def code_normalise(value: str) -> str:
    """Codes: full-width → half-width, upper case, no spaces."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", value or "")).upper()


def name_key(value: str) -> str:
    """Names compare after NFKC and bracket normalisation (（）↔()), spaces removed."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", (value or "").translate(_BRACKETS)))

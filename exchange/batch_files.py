"""Batch files at rest: kept exactly as received, but encrypted.

A batch may hold natural persons' ID numbers, which the catalog's privacy rules
allow to be stored only encrypted. So the bytes as received are kept in
AES-256-GCM chunks under a key derived from FIELD_ENCRYPTION_KEY:

    "CRBATCH1" ‖ { length (4 bytes, big-endian) ‖ nonce (12) ‖ ciphertext+tag } …

Each chunk's associated data is its index and whether it is the last one, so
chunks cannot be reordered, dropped or cut off unnoticed. Decryption gives back
the exact bytes whose digest the batch records.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

MAGIC = b"CRBATCH1"
CHUNK = 1024 * 1024


class BatchFileCorrupt(Exception):
    """The stored file does not decrypt: tampered with, truncated, or another key."""


def _aead() -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"credit batch files v1").derive(
        bytes.fromhex(settings.FIELD_ENCRYPTION_KEY))
    return AESGCM(key)


def _aad(index: int, last: bool) -> bytes:
    return struct.pack(">Q?", index, last)


class BatchFileWriter:
    """Buffer plaintext into CHUNK-sized encrypted chunks; close() writes the last one."""

    def __init__(self, raw: io.BufferedWriter):
        self.raw, self.aead, self.index, self.buffer = raw, _aead(), 0, bytearray()
        raw.write(MAGIC)

    def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) > CHUNK:  # keep at least one byte back: the last chunk is written by close()
            self._chunk(bytes(self.buffer[:CHUNK]), last=False)
            del self.buffer[:CHUNK]

    def _chunk(self, plain: bytes, *, last: bool) -> None:
        nonce = os.urandom(12)
        sealed = self.aead.encrypt(nonce, plain, _aad(self.index, last))
        self.raw.write(struct.pack(">I", len(sealed)) + nonce + sealed)
        self.index += 1

    def close(self) -> None:
        self._chunk(bytes(self.buffer), last=True)
        self.buffer.clear()


class _DecryptingReader(io.RawIOBase):
    def __init__(self, raw: io.BufferedReader):
        self.raw, self.aead, self.index, self.pending, self.done = raw, _aead(), 0, b"", False
        if raw.read(len(MAGIC)) != MAGIC:
            raise BatchFileCorrupt("not an encrypted batch file")

    def readable(self) -> bool:
        return True

    def _next_chunk(self) -> None:
        header = self.raw.read(4)
        if len(header) < 4:
            raise BatchFileCorrupt("the batch file ends before its last chunk")
        (length,) = struct.unpack(">I", header)
        nonce, sealed = self.raw.read(12), self.raw.read(length)
        if len(sealed) != length:
            raise BatchFileCorrupt("the batch file is truncated")
        for last in (False, True):
            try:
                self.pending = self.aead.decrypt(nonce, sealed, _aad(self.index, last))
            except Exception:  # noqa: BLE001 - InvalidTag: try the other flag, then give up
                continue
            self.index += 1
            self.done = last
            return
        raise BatchFileCorrupt(f"chunk {self.index} of the batch file does not decrypt")

    def readinto(self, buffer) -> int:
        while not self.pending and not self.done:
            self._next_chunk()
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


def open_batch_file(path: Path) -> io.BufferedReader:
    """The stored batch, decrypted as it is read (a binary stream of the bytes as received)."""
    return io.BufferedReader(_DecryptingReader(open(path, "rb")), buffer_size=CHUNK)

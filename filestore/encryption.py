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
from typing import BinaryIO

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


RECORD = 4 + 12 + CHUNK + 16  # a full chunk as stored: length, nonce, ciphertext and tag


class PositionedReader(io.RawIOBase):
    """A read-only stream of known `size` whose readinto() reads at `pos`: seeking just moves `pos`."""

    pos: int
    size: int

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos


class _DecryptingReader(PositionedReader):
    """The plaintext, chunk by chunk; seekable (every chunk but the last holds exactly CHUNK bytes, so a
    position names its chunk), which an Excel batch needs: a zip archive is read from its end first."""

    def __init__(self, raw: BinaryIO):
        self.raw, self.aead, self.pos, self.loaded, self.plain = raw, _aead(), 0, -1, b""
        if raw.read(len(MAGIC)) != MAGIC:
            raise BatchFileCorrupt("not an encrypted batch file")
        stored = raw.seek(0, io.SEEK_END) - len(MAGIC)  # a file or an object in a bucket (filestore.storage)
        self.chunks = -(-stored // RECORD)
        if self.chunks == 0:
            raise BatchFileCorrupt("the batch file ends before its last chunk")
        raw.seek(len(MAGIC) + (self.chunks - 1) * RECORD)
        header = raw.read(4)
        if len(header) < 4:
            raise BatchFileCorrupt("the batch file is truncated")
        self.size = (self.chunks - 1) * CHUNK + max(0, struct.unpack(">I", header)[0] - 16)

    def _load(self, index: int) -> None:
        self.raw.seek(len(MAGIC) + index * RECORD)
        header = self.raw.read(4)
        if len(header) < 4:
            raise BatchFileCorrupt("the batch file is truncated")
        (length,) = struct.unpack(">I", header)
        last = index == self.chunks - 1
        if not last and length != CHUNK + 16:
            raise BatchFileCorrupt(f"chunk {index} of the batch file has the wrong length")
        nonce, sealed = self.raw.read(12), self.raw.read(length)
        if len(sealed) != length:
            raise BatchFileCorrupt("the batch file is truncated")
        try:  # the index and the last flag are authenticated: chunks cannot be reordered, dropped or cut off
            self.plain = self.aead.decrypt(nonce, sealed, _aad(index, last))
        except Exception as exc:  # noqa: BLE001 - InvalidTag
            raise BatchFileCorrupt(f"chunk {index} of the batch file does not decrypt") from exc
        self.loaded = index

    def readinto(self, buffer) -> int:
        if self.pos >= self.size:
            return 0
        index, offset = divmod(self.pos, CHUNK)
        if index != self.loaded:
            self._load(index)
        n = min(len(buffer), len(self.plain) - offset)
        buffer[:n] = memoryview(self.plain)[offset : offset + n]
        self.pos += n
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


def open_batch_file(path: Path) -> io.BufferedReader:
    """The stored batch, decrypted as it is read (a seekable binary stream of the bytes as received)."""
    return open_encrypted(open(path, "rb"))


def open_encrypted(raw: BinaryIO) -> io.BufferedReader:
    """What a seekable binary stream of an encrypted file holds, decrypted as it is read; closes `raw`."""
    try:
        return io.BufferedReader(_DecryptingReader(raw), buffer_size=CHUNK)
    except BaseException:
        raw.close()
        raise

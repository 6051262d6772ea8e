"""Content-Digest (RFC 9530): sha-256 required on the exchange, sha-512 accepted alongside."""

from __future__ import annotations

import base64
import hashlib

import http_sf

ALGORITHMS = {"sha-256": 32, "sha-512": 64}


class DigestMalformed(ValueError):
    pass


def digest_header(sha256: bytes) -> str:
    return f"sha-256=:{base64.b64encode(sha256).decode()}:"


def content_digest(body: bytes) -> str:
    return digest_header(hashlib.sha256(body).digest())


def parse_content_digest(value: str) -> dict[str, bytes]:
    """{algorithm: digest bytes} for the algorithms we know; unknown ones are ignored (RFC 9530 §2)."""
    try:
        parsed = http_sf.parse(value.encode("latin-1"), tltype="dictionary")
    except (ValueError, UnicodeEncodeError) as exc:
        raise DigestMalformed("Content-Digest is not a structured-field dictionary") from exc
    digests = {}
    for algorithm, (member, _params) in parsed.items():
        if algorithm not in ALGORITHMS:
            continue
        if not isinstance(member, bytes) or len(member) != ALGORITHMS[algorithm]:
            raise DigestMalformed(f"Content-Digest {algorithm} is not a {ALGORITHMS[algorithm]}-byte byte sequence")
        digests[algorithm] = member
    return digests


class BodyIncomplete(Exception):
    """The stream ended before the `length` bytes its Content-Length announced."""

    def __init__(self, received: int, length: int):
        super().__init__(f"body ended after {received} of {length} bytes")
        self.received, self.length = received, length


class DigestingReader:
    """Reads a stream through sha-256 and sha-512; calls `on_end(digests)` once the last byte is read.
    A stream that ends short of `length` raises BodyIncomplete: a cut-off body is not a shorter batch."""

    def __init__(self, stream, *, length: int | None, on_end):
        self._stream, self._length, self._on_end = stream, length, on_end
        self._hashers = {"sha-256": hashlib.sha256(), "sha-512": hashlib.sha512()}
        self.bytes_read, self._ended = 0, False

    def read(self, size: int = -1) -> bytes:
        if self._ended:
            return b""
        chunk = self._stream.read(size if size is not None and size >= 0 else 1 << 20)
        for hasher in self._hashers.values():
            hasher.update(chunk)
        self.bytes_read += len(chunk)
        if not chunk and self._length is not None and self.bytes_read < self._length:
            raise BodyIncomplete(self.bytes_read, self._length)
        if not chunk or (self._length is not None and self.bytes_read >= self._length):
            self._ended = True
            self._on_end({name: h.digest() for name, h in self._hashers.items()})
        return chunk

    def __iter__(self):
        while chunk := self.read(1 << 20):
            yield chunk

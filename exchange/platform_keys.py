"""The platform's own Ed25519 signing keys (exchange-protocol §1, §3).

Keys live outside the database, as PKCS#8 PEM files in
settings.PLATFORM_SIGNING_KEY_DIR: `<kid>.pem`, plus `current` naming the key in
use. Rotating writes a new key and records the old one's retirement time in
`<kid>.retired`; a retired key stays in the JWK Set for
settings.EXCHANGE_RECEIPT_VERIFY_DAYS after it retired, so receipts it signed
can still be checked online for that long (offline, a saved JWK Set works forever).
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import os
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings


@dataclass(frozen=True)
class PlatformKey:
    kid: str
    private_key: Ed25519PrivateKey
    created_at: dt.datetime
    retired_at: dt.datetime | None

    @property
    def public_raw(self) -> bytes:
        return self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def jwk(self) -> dict:
        x = base64.urlsafe_b64encode(self.public_raw).rstrip(b"=").decode()
        return {"kty": "OKP", "crv": "Ed25519", "kid": self.kid, "x": x, "alg": "EdDSA", "use": "sig"}


def _dir() -> Path:
    return Path(settings.PLATFORM_SIGNING_KEY_DIR)


def verify_window() -> dt.timedelta:
    return dt.timedelta(days=settings.EXCHANGE_RECEIPT_VERIFY_DAYS)


@contextmanager
def _locked():
    """Several web processes may create the first key at once: one file lock decides."""
    directory = _dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield directory
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_new_key(directory: Path) -> str:
    now = dt.datetime.now(dt.UTC)
    kid = f"platform-{now:%Y%m%d}-{secrets.token_hex(4)}"
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(directory / f"{kid}.pem", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    tmp = directory / "current.tmp"
    tmp.write_text(kid + "\n")
    os.replace(tmp, directory / "current")
    return kid


@lru_cache(maxsize=64)
def _load(path: str, mtime_ns: int) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def _key(directory: Path, kid: str) -> PlatformKey:
    path = directory / f"{kid}.pem"
    stat = path.stat()
    retired_file = directory / f"{kid}.retired"
    retired = dt.datetime.fromisoformat(retired_file.read_text().strip()) if retired_file.exists() else None
    return PlatformKey(kid, _load(str(path), stat.st_mtime_ns),
                       dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC), retired)


def platform_key_current() -> PlatformKey:
    """The key that signs now; created on first use (development and first start)."""
    directory = _dir()
    current = directory / "current"
    if not current.exists():
        with _locked():
            if not current.exists():
                _write_new_key(directory)
    return _key(directory, current.read_text().strip())


def platform_key_rotate() -> PlatformKey:
    """Make a new key current; the old one retires now and stays published for the verify window."""
    with _locked() as directory:
        current = directory / "current"
        if current.exists():
            old = current.read_text().strip()
            (directory / f"{old}.retired").write_text(dt.datetime.now(dt.UTC).isoformat() + "\n")
        _write_new_key(directory)
    return platform_key_current()


def platform_keys() -> list[PlatformKey]:
    """Every key on disk, newest first."""
    directory = _dir()
    if not directory.exists():
        return []
    keys = [_key(directory, path.stem) for path in directory.glob("*.pem")]
    return sorted(keys, key=lambda k: k.created_at, reverse=True)


def platform_keys_published() -> list[PlatformKey]:
    """The current key and every retired key still inside its verification window."""
    platform_key_current()
    cutoff = dt.datetime.now(dt.UTC) - verify_window()
    return [k for k in platform_keys() if k.retired_at is None or k.retired_at > cutoff]


def jwks() -> dict:
    return {"keys": [k.jwk() for k in platform_keys_published()]}


def public_key_from_jwk(jwk: dict) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("not an Ed25519 JWK")
    x = jwk["x"]
    return Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))
